"""The article record shared by the parser, the store, the index and the bot."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

#: Vietnam has no daylight saving time, so a fixed offset is exact.
VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")


@dataclass(frozen=True)
class Article:
    """One published article, as clean NFC text.

    `published` is a `date` when the page only gave a day, an aware `datetime` (UTC+7) when it
    gave a time too; `first_seen` and `rev` are filled in by the store, never by parsers.
    `source_credit` names the outlet a reprinted article comes from ("Theo Trí Thức Trẻ" → "Trí Thức
    Trẻ"); `captions` are photo captions kept out of the paragraphs (shown and stored, not indexed).
    """

    id: str
    title: str
    paragraphs: tuple[str, ...]
    published: date | datetime | None = None
    author: str | None = None
    views: int | None = None
    url: str | None = None
    source: str = ""
    first_seen: datetime | None = None
    rev: int = 0
    source_credit: str | None = None
    captions: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def lead(self) -> str:
        return self.paragraphs[0] if self.paragraphs else ""

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs[1:])

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    def content_hash(self) -> str:
        """Hash of what a reader sees; a re-scrape that changes nothing visible is 'unchanged'."""
        fields: list[object] = [self.title, list(self.paragraphs), published_iso(self.published), self.author,
                                self.views, self.url]
        # Appended only when set, so articles stored before these fields existed keep their hash.
        if self.source_credit is not None or self.captions:
            fields += [self.source_credit, list(self.captions)]
        payload = json.dumps(fields, ensure_ascii=False)
        return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()

    def to_json(self) -> dict[str, object]:
        """The `bantin parse --json` contract: other tools depend on these keys."""
        return {
            "id": self.id,
            "title": self.title,
            "published": published_iso(self.published),
            "views": self.views,
            "author": self.author,
            "source_credit": self.source_credit,
            "paragraphs": list(self.paragraphs),
            "captions": list(self.captions),
            "url": self.url,
            "source": self.source,
        }


def published_iso(value: date | datetime | None) -> str | None:
    """ISO 8601: `YYYY-MM-DD` for a day, `YYYY-MM-DDTHH:MM:SS+07:00` for a moment."""
    if value is None:
        return None
    return value.isoformat()


def parse_published(value: str | None) -> date | datetime | None:
    """Inverse of `published_iso`, lenient about what exports put there."""
    if not value:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM_TZ)
    return moment


def published_sort_key(value: date | datetime | None) -> datetime | None:
    """A comparable moment for sorting: a bare day counts as its midnight in Vietnam."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=VIETNAM_TZ)
