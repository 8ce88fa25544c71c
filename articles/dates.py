"""A small grammar of the date lines Vietnamese news sites print near a title. Day-first, Vietnam time.

A date line is, in any order the sites use:

    [label :] [weekday ,|-] DATE [sep TIME]  |  [label :] TIME sep [weekday ,] DATE
    + optional seconds, SA/CH or AM/PM, a GMT+7 / UTC+7 / +07:00 zone, and `|`- or `-`-separated
    view counters ("Lượt xem: 7370").

DATE is `dd/mm/yyyy` (also `-` or `.`), `yyyy-mm-dd`, `d tháng m, yyyy` or `ngày d tháng m năm yyyy`.
The label says what the date is (`Ngày đăng`, `Đăng ngày`, `Ngày xuất bản`, `Gửi lúc` → publication;
`Cập nhật` → an update), which the page parser uses to pick between two dates on one page.
The whole line must be a date line: a sentence that merely contains a date is a paragraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from bantin.articles.model import VIETNAM_TZ

DateKind = Literal["published", "updated"] | None

_WEEKDAY = r"(?:thứ\s*(?:hai|ba|tư|năm|sáu|bảy|bẩy|[2-7])|chủ\s*nhật|cn)"
_TIME = (
    r"(?P<H>\d{1,2})\s*(?:[:hg]|giờ)\s*(?P<M>\d{2})(?:\s*(?::|phút)\s*(?P<S>\d{2}))?(?:\s*(?:phút|'))?"
    r"(?:\s*(?P<ampm>sa|ch|am|pm|a\.m\.|p\.m\.)(?![\w]))?"
)
_DATE = (
    r"(?:ngày\s*)?(?:"
    r"(?P<d>\d{1,2})\s*(?P<sep>[/.-])\s*(?P<m>\d{1,2})\s*(?P=sep)\s*(?P<y>\d{4})"
    r"|(?P<y2>\d{4})-(?P<m2>\d{1,2})-(?P<d2>\d{1,2})"
    r"|(?P<d3>\d{1,2})\s+tháng\s+(?P<m3>\d{1,2})\s*(?:,\s*|\s+năm\s+|\s+)(?P<y3>\d{4})"
    r")"
)
_SEP = r"(?:\s*[,|–-]\s*|\s+|T)(?:(?:lúc|ngày)\s+)?"
_WD = rf"(?:{_WEEKDAY}\s*(?:[,|–-]\s*|\s+))?"
_ZONE = r"(?:\s*[(\[]?\s*(?:(?:gmt|utc)\s*\+\s*0?7(?::?00)?|\+07:?00|ict)\s*[)\]]?)?"

#: The date and time part, once label and counters are off: date first, or time first.
_MOMENTS = (
    re.compile(rf"^{_WD}{_DATE}(?:{_SEP}{_TIME})?{_ZONE}\.?$", re.IGNORECASE),
    re.compile(rf"^{_TIME}{_SEP}{_WD}{_DATE}{_ZONE}\.?$", re.IGNORECASE),
)

#: Labels before a date, longest first so "Ngày đăng" wins over "Ngày".
PUBLISHED_LABELS = ("ngày xuất bản", "xuất bản", "ngày đăng", "đăng ngày", "đăng lúc", "gửi lúc", "ngày gửi",
                    "thời gian đăng", "đăng", "posted", "published")
UPDATED_LABELS = ("cập nhật lúc", "cập nhật ngày", "cập nhật", "ngày cập nhật", "updated", "sửa lúc")
OTHER_LABELS = ("thời gian", "ngày")
_LABEL = re.compile(
    r"^\s*(?P<label>"
    + "|".join(sorted((re.escape(x).replace(r"\ ", r"\s+") for x in (*PUBLISHED_LABELS, *UPDATED_LABELS,
                                                                   *OTHER_LABELS)), key=len, reverse=True))
    + r")\s*(?::\s*|(?=\d)|\s+(?=(?:lúc\s+)?\d|thứ|chủ|cn\b))(?:lúc\s+)?",
    re.IGNORECASE,
)

#: View counters glued to a date line ("- Lượt xem: 1870", "Lượt xem: 7370 |").
_VIEWS = re.compile(
    r"(?:^|\s*[|–-]\s*|\s+)(?:số\s+)?(?:lượt\s*(?:xem|đọc|truy\s*cập)|views?|xem)\s*:?\s*(?P<views>\d[\d.,\s]*?)"
    r"(?=\s*(?:[|–-]|$))\s*(?:[|–-]\s*)?",
    re.IGNORECASE,
)

#: A bare counter line under the title: views and comments, e.g. `3.217 0`, or `Lượt xem: 120`.
COUNTER_LINE = re.compile(
    r"^(?:(?:số\s+)?lượt\s*(?:xem|đọc)\s*:?\s*)?(?P<views>\d{1,3}(?:[.,]\d{3})*|\d+)(?:\s+\d{1,6}){0,2}$",
    re.IGNORECASE,
)


_DIGIT = re.compile(r"\d")
_NOT_DIGIT = re.compile(r"\D")


@dataclass(frozen=True)
class DateLine:
    """What a date line says; `published` is None when it had the shape but an impossible date."""

    published: date | datetime | None
    views: int | None
    kind: DateKind = None


def parse_date_line(line: str) -> DateLine | None:
    """Recognise a date line, or None when the line is something else (a paragraph).

    Never raises: a line with a date's shape but an impossible value gives `published=None`.
    """
    text = line.strip()
    if not text or len(text) > 120 or not _DIGIT.search(text, 0, 80):
        return None
    views = None
    kind: DateKind = None
    # "Lượt xem: 7370 | Gửi lúc: 05/12/2013 15:42:27" and "08/09/2019 - Lượt xem: 1870".
    lower = text.lower()
    found = _VIEWS.search(text) if ("xem" in lower or "đọc" in lower or "view" in lower) else None
    if found:
        views = _views(found.group("views"))
        text = (text[: found.start()] + " " + text[found.end() :]).strip(" |–-")
    label = _LABEL.match(text)
    if label:
        kind = _kind(label.group("label"))
        text = text[label.end() :]
    text = text.strip()
    for moment in _MOMENTS:
        match = moment.match(text)
        if match:
            return DateLine(_moment(match.groupdict()), views, kind)
    return None


def parse_counter_line(line: str) -> DateLine | None:
    """A bare counter line under a title (`3.217 0`: views, comments) as a dateless `DateLine`."""
    match = COUNTER_LINE.match(line.strip())
    if not match:
        return None
    return DateLine(None, _views(match.group("views")))


def _kind(label: str) -> DateKind:
    key = " ".join(label.casefold().split())
    if key in UPDATED_LABELS:
        return "updated"
    if key in PUBLISHED_LABELS:
        return "published"
    return None


def _moment(parts: dict[str, str | None]) -> date | datetime | None:
    year = parts["y"] or parts["y2"] or parts["y3"]
    month = parts["m"] or parts["m2"] or parts["m3"]
    day_ = parts["d"] or parts["d2"] or parts["d3"]
    try:
        day = date(int(year or 0), int(month or 0), int(day_ or 0))
    except ValueError:
        return None
    if parts.get("H") is None:
        return day
    hour = int(parts["H"] or 0)
    ampm = (parts.get("ampm") or "").casefold().replace(".", "")
    if ampm in ("ch", "pm") and hour < 12:
        hour += 12
    elif ampm in ("sa", "am") and hour == 12:
        hour = 0
    try:
        return datetime(day.year, day.month, day.day, hour, int(parts["M"] or 0), int(parts.get("S") or 0),
                        tzinfo=VIETNAM_TZ)
    except ValueError:
        return day


def _views(raw: str | None) -> int | None:
    if raw is None:
        return None
    digits = _NOT_DIGIT.sub("", raw)
    return int(digits) if digits and len(digits) < 15 else None
