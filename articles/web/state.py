"""What the fetcher remembers between polls, in `BANTIN_DATA_DIR/feeds.sqlite`.

* `validators`: the ETag and Last-Modified each URL last answered with, for conditional GETs
  (a feed that did not change costs the site a 304 and no body);
* `pages`: every article URL fetched, the canonical URL it named and its content hash, so a feed
  listing an article again does not fetch it again, and the same article under two URLs is
  stored once.

Losing this file is harmless: the next poll fetches everything once more, and the store's
content hashes keep it from counting as changes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bantin.articles.sqlite import ThreadLocalConnections

SCHEMA = """
CREATE TABLE IF NOT EXISTS validators (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, checked_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY,
    canonical TEXT,
    content_hash TEXT,
    article_id TEXT,
    fetched_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pages_hash ON pages(content_hash);
CREATE INDEX IF NOT EXISTS pages_canonical ON pages(canonical);
"""


@dataclass(frozen=True)
class Seen:
    """A page fetched before: where it pointed and when."""

    canonical: str | None
    content_hash: str | None
    article_id: str | None
    fetched_at: datetime


class FetchState:
    """Small and boring on purpose: one connection per thread, one statement per call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connections = ThreadLocalConnections(path, schema=SCHEMA)

    @property
    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    def close(self) -> None:
        self._connections.close()

    def __enter__(self) -> FetchState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def validators(self, url: str) -> tuple[str | None, str | None]:
        row = self._db.execute("SELECT etag, last_modified FROM validators WHERE url = ?", (url,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def save_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        with self._db:
            if etag or last_modified:
                self._db.execute("INSERT OR REPLACE INTO validators VALUES (?, ?, ?, ?)",
                                 (url, etag, last_modified, _now()))
            else:
                self._db.execute("DELETE FROM validators WHERE url = ?", (url,))

    def seen(self, url: str) -> Seen | None:
        row = self._db.execute("SELECT canonical, content_hash, article_id, fetched_at FROM pages WHERE url = ?",
                               (url,)).fetchone()
        return Seen(row[0], row[1], row[2], datetime.fromisoformat(row[3])) if row else None

    def owner_of_content(self, content_hash: str, canonical: str) -> str | None:
        """The article id already stored with this content under another canonical URL."""
        row = self._db.execute(
            "SELECT article_id FROM pages WHERE content_hash = ? AND canonical IS NOT ? AND article_id IS NOT NULL"
            " LIMIT 1", (content_hash, canonical)).fetchone()
        return str(row[0]) if row else None

    def remember(self, url: str, *, canonical: str | None, content_hash: str | None, article_id: str | None) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?)",
                             (url, canonical, content_hash, article_id, _now()))


def _now() -> str:
    return datetime.now(UTC).isoformat()
