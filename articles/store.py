"""The article store: one SQLite file under BANTIN_DATA_DIR.

Every change bumps a store-wide revision number, and deletions leave a tombstone, so the search
index can catch up incrementally by asking for "everything after revision N".
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from bantin.articles.model import Article, parse_published, published_iso, published_sort_key
from bantin.articles.sqlite import ThreadLocalConnections

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    published TEXT,
    published_ts REAL,
    first_seen TEXT NOT NULL,
    author TEXT,
    views INTEGER,
    url TEXT,
    paragraphs TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    rev INTEGER NOT NULL,
    source_credit TEXT,
    captions TEXT
);
CREATE INDEX IF NOT EXISTS articles_rev ON articles(rev);
CREATE INDEX IF NOT EXISTS articles_first_seen ON articles(first_seen);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_ts);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
CREATE TABLE IF NOT EXISTS deletions (id TEXT PRIMARY KEY, rev INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS failures (source TEXT PRIMARY KEY, reason TEXT NOT NULL, seen_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

COLUMNS = ("id, source, title, published, first_seen, author, views, url, paragraphs, content_hash, rev,"
           " source_credit, captions")

#: Columns added after the first release: (name, declaration). A store made before them gets them
#: with ALTER TABLE on its next writable open; a read-only open of such a store reads them as NULL.
ADDED_COLUMNS: tuple[tuple[str, str], ...] = (("source_credit", "TEXT"), ("captions", "TEXT"))

# first_seen is written once: an edited article is not "new" again for the digests.
UPSERT = """
INSERT INTO articles (id, source, title, published, author, views, url, paragraphs, content_hash, rev,
                      source_credit, captions, first_seen, published_ts)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT(id) DO UPDATE SET
    source=excluded.source, title=excluded.title, published=excluded.published,
    author=excluded.author, views=excluded.views, url=excluded.url, paragraphs=excluded.paragraphs,
    content_hash=excluded.content_hash, rev=excluded.rev, published_ts=excluded.published_ts,
    source_credit=excluded.source_credit, captions=excluded.captions
"""


@dataclass(frozen=True)
class Change:
    """What the index must do to catch up: articles to (re)write and ids to drop."""

    upserted: list[Article]
    deleted: list[str]
    rev: int


def utcnow() -> datetime:
    return datetime.now(UTC)


class ArticleStore:
    """Thin, typed access to the SQLite file; safe to open from several processes (WAL)."""

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._connections = ThreadLocalConnections(self.path, readonly=readonly, schema=SCHEMA)
        self._columns = COLUMNS
        if not readonly:
            _add_columns(self._db)
        elif self.path.is_file():
            self._columns = _readable_columns(self._connections)

    @property
    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    def close(self) -> None:
        self._connections.close()

    def __enter__(self) -> ArticleStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------

    def upsert_many(self, articles: Sequence[Article], *, now: datetime | None = None) -> list[str]:
        """Store a batch in one transaction; returns 'added' / 'updated' / 'unchanged' per article.

        One transaction per batch keeps ingest fast and means a killed ingest loses at most the
        batch in flight, never leaves half an article behind.
        """
        if not articles:
            return []
        seen_at = (now or utcnow()).isoformat()
        outcomes: list[str] = []
        with self._db:
            self._begin_write()
            existing = self._hashes([a.id for a in articles])
            rev = self.revision()
            for article in articles:
                digest = article.content_hash()
                old, source = existing.get(article.id, (None, None))
                if old == digest:
                    if source != article.source:
                        # Same article, now in another file (a new export): pruning must follow it.
                        self._db.execute("UPDATE articles SET source = ? WHERE id = ?", (article.source, article.id))
                    outcomes.append("unchanged")
                    continue
                rev += 1
                self._db.execute(UPSERT, (*self._row(article, digest, rev), seen_at, _ts(article.published)))
                if old is None:
                    self._db.execute("DELETE FROM deletions WHERE id = ?", (article.id,))
                outcomes.append("added" if old is None else "updated")
                existing[article.id] = (digest, article.source)
            self._set_rev(rev)
        return outcomes

    def delete_many(self, ids: Iterable[str]) -> int:
        """Remove articles, leaving tombstones so the index drops them too."""
        removed = 0
        with self._db:
            self._begin_write()
            rev = self.revision()
            for article_id in ids:
                cur = self._db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
                if cur.rowcount:
                    rev += 1
                    removed += 1
                    self._db.execute(
                        "INSERT OR REPLACE INTO deletions (id, rev) VALUES (?, ?)", (article_id, rev)
                    )
            self._set_rev(rev)
        return removed

    def record_failure(self, source: str, reason: str, *, now: datetime | None = None) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO failures (source, reason, seen_at) VALUES (?, ?, ?)",
                (source, reason, (now or utcnow()).isoformat()),
            )

    def clear_failures(self, sources: Iterable[str]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM failures WHERE source = ?", ((s,) for s in sources))

    # -- reading ------------------------------------------------------------------------------

    def get(self, article_id: str) -> Article | None:
        row = self._db.execute(f"SELECT {self._columns} FROM articles WHERE id = ?", (article_id,)).fetchone()
        return _article(row) if row else None

    def get_many(self, ids: Sequence[str]) -> list[Article]:
        """Articles in the order of `ids`, skipping unknown ones."""
        found: dict[str, Article] = {}
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(f"SELECT {self._columns} FROM articles WHERE id IN ({marks})", chunk):
                found[row[0]] = _article(row)
        return [found[i] for i in ids if i in found]

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM articles").fetchone()[0])

    def revision(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()
        return int(row[0]) if row else 0

    def iter_articles(self, *, batch: int = 1000) -> Iterator[Article]:
        """Every article, in id order, without loading the whole store into memory."""
        last = ""
        while True:
            rows = self._db.execute(
                f"SELECT {self._columns} FROM articles WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _article(row)
            last = rows[-1][0]

    def changes_since(self, rev: int, *, limit: int | None = None) -> Change:
        """What changed after revision `rev` (all of it unless `limit` caps the upserts).

        Rows, tombstones and the top revision come from one read transaction (one WAL snapshot):
        a write committed meanwhile must not be counted as covered without being returned.
        """
        if self._db.in_transaction:  # inside our own write: it already sees a stable state
            return self._changes_since(rev, limit)
        self._db.execute("BEGIN")
        try:
            return self._changes_since(rev, limit)
        finally:
            self._db.rollback()  # read only: nothing to keep

    def _changes_since(self, rev: int, limit: int | None) -> Change:
        sql = f"SELECT {self._columns} FROM articles WHERE rev > ? ORDER BY rev"
        params: tuple[int, ...] = (rev,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (rev, limit)
        upserted = [_article(r) for r in self._db.execute(sql, params)]
        top = upserted[-1].rev if (limit is not None and len(upserted) == limit) else self.revision()
        deleted = [
            r[0]
            for r in self._db.execute("SELECT id FROM deletions WHERE rev > ? AND rev <= ?", (rev, top))
        ]
        return Change(upserted=upserted, deleted=deleted, rev=top)

    def ids_by_source_prefix(self, prefix: str) -> dict[str, str]:
        """source → id of articles whose source starts with `prefix` (a folder, or `<export>#`); pruning."""
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._db.execute("SELECT source, id FROM articles WHERE source LIKE ? ESCAPE '\\'", (like,))
        return {source: article_id for source, article_id in rows}

    def latest(self, limit: int = 10, *, offset: int = 0) -> list[Article]:
        """Newest by publication date (undated last), then by when we first saw them."""
        rows = self._db.execute(
            f"SELECT {self._columns} FROM articles ORDER BY published_ts IS NULL, published_ts DESC,"
            " first_seen DESC, id LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        return [_article(r) for r in rows]

    def first_seen_after(self, moment: datetime, *, limit: int = 1000) -> list[Article]:
        """Articles that became available after `moment`, newest first (digests)."""
        rows = self._db.execute(
            f"SELECT {self._columns} FROM articles WHERE first_seen > ? ORDER BY first_seen DESC, id LIMIT ?",
            (moment.astimezone(UTC).isoformat(), limit),
        ).fetchall()
        return [_article(r) for r in rows]

    def first_seen_newest(self) -> datetime | None:
        """When the newest article arrived: 'last updated' for readers."""
        newest = self._db.execute("SELECT max(first_seen) FROM articles").fetchone()[0]
        return datetime.fromisoformat(newest) if newest else None

    def failure_count(self) -> int:
        """How many pages currently fail to parse (see `failures`)."""
        return int(self._db.execute("SELECT count(*) FROM failures").fetchone()[0])

    def date_range(self) -> tuple[date | datetime | None, date | datetime | None]:
        row = self._db.execute(
            "SELECT (SELECT published FROM articles WHERE published_ts IS NOT NULL ORDER BY published_ts LIMIT 1),"
            " (SELECT published FROM articles WHERE published_ts IS NOT NULL ORDER BY published_ts DESC LIMIT 1)"
        ).fetchone()
        return parse_published(row[0]), parse_published(row[1])

    def failures(self, limit: int = 50) -> list[tuple[str, str, str]]:
        """(source, reason, seen_at) of pages that failed to parse, newest first."""
        rows = self._db.execute(
            "SELECT source, reason, seen_at FROM failures ORDER BY seen_at DESC, source LIMIT ?", (limit,)
        )
        return [(r[0], r[1], r[2]) for r in rows]

    # -- internals ----------------------------------------------------------------------------

    def _hashes(self, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """id → (content hash, source) of the stored ones."""
        found: dict[str, tuple[str, str]] = {}
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT id, content_hash, source FROM articles WHERE id IN ({marks})", chunk)
            found.update((aid, (digest, source)) for aid, digest, source in rows)
        return found

    def _begin_write(self) -> None:
        """Take the write lock before the revision is read.

        Python's implicit BEGIN only comes with the first INSERT, so two writers (the bot's scan and
        a cron'd `bantin ingest`) could both read revision N and hand out the same numbers, even
        lower the store's revision: the index would then skip their articles for good.
        """
        self._db.execute("BEGIN IMMEDIATE")

    def _set_rev(self, rev: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('rev', ?)", (str(rev),))

    @staticmethod
    def _row(article: Article, digest: str, rev: int) -> tuple[object, ...]:
        return (
            article.id,
            article.source,
            article.title,
            published_iso(article.published),
            article.author,
            article.views,
            article.url,
            json.dumps(list(article.paragraphs), ensure_ascii=False),
            digest,
            rev,
            article.source_credit,
            json.dumps(list(article.captions), ensure_ascii=False) if article.captions else None,
        )


def _ts(value: date | datetime | None) -> float | None:
    moment = published_sort_key(value)
    return moment.timestamp() if moment else None


def _add_columns(db: sqlite3.Connection) -> None:
    """Migrate a store made before `ADDED_COLUMNS`; safe when another process does it at the same time."""
    have = {row[1] for row in db.execute("PRAGMA table_info(articles)")}
    for name, declaration in ADDED_COLUMNS:
        if name in have:
            continue
        try:
            with db:
                db.execute(f"ALTER TABLE articles ADD COLUMN {name} {declaration}")
        except sqlite3.OperationalError as exc:
            if "duplicate column" not in str(exc):
                raise


def _readable_columns(connections: ThreadLocalConnections) -> str:
    """COLUMNS for a read-only store, with NULL for columns an old store does not have yet.

    A store that cannot be read now keeps COLUMNS: its first real query reports the error as before.
    """
    try:
        have = {row[1] for row in connections.get().execute("PRAGMA table_info(articles)")}
    except sqlite3.Error:
        return COLUMNS
    if not have:
        return COLUMNS
    names = [name.strip() for name in COLUMNS.split(",")]
    return ", ".join(name if name in have else f"NULL AS {name}" for name in names)


def _article(row: Sequence[object]) -> Article:
    (aid, source, title, published, first_seen, author, views, url, paragraphs, _digest, rev, credit,
     captions) = row
    return Article(
        id=str(aid),
        source=str(source),
        title=str(title),
        published=parse_published(published if isinstance(published, str) else None),
        first_seen=datetime.fromisoformat(str(first_seen)),
        author=author if isinstance(author, str) else None,
        views=views if isinstance(views, int) else None,
        url=url if isinstance(url, str) else None,
        paragraphs=tuple(json.loads(str(paragraphs))),
        rev=int(str(rev)),
        source_credit=credit if isinstance(credit, str) else None,
        captions=tuple(json.loads(captions)) if isinstance(captions, str) else (),
    )


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

