"""The date lines the newsroom's site prints under a title. Day-first, Vietnam time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from articles.model import VIETNAM_TZ

_DMY = r"(?P<d>\d{1,2})\s*[/.-]\s*(?P<m>\d{1,2})\s*[/.-]\s*(?P<y>\d{4})"
_HM = r"(?P<H>\d{1,2})\s*[:hg]\s*(?P<M>\d{2})"
_WEEKDAY = r"(?:thứ\s*(?:hai|ba|tư|năm|sáu|bảy|2|3|4|5|6|7)|chủ\s*nhật|cn)"

DATE_LINES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        # 08/09/2019 - Lượt xem: 1870
        rf"^{_DMY}(?:\s*,?\s*{_HM})?\s*[-–|]\s*lượt\s*xem\s*:?\s*(?P<views>[\d.,\s]+)$",
        # Thứ Hai, 09/09/2019, 14:30 (GMT+7)
        rf"^{_WEEKDAY}\s*,?\s*(?:ngày\s*)?{_DMY}\s*(?:[,|-]\s*|\s+)?(?:{_HM})?\s*(?:\(?\s*GMT\s*\+\s*7\s*\)?)?$",
        # 08/09/2019 14:30  or just 08/09/2019
        rf"^(?:ngày\s*)?{_DMY}(?:\s*[,|-]?\s*{_HM})?(?:\s*\(?\s*GMT\s*\+\s*7\s*\)?)?$",
        # 14:30 08/09/2019
        rf"^{_HM}\s*[,|-]?\s*(?:ngày\s*)?{_DMY}$",
        # 2019-09-08 (optionally with a time)
        r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[ T](?P<H>\d{2}):(?P<M>\d{2})(?::\d{2})?)?$",
    )
)


@dataclass(frozen=True)
class DateLine:
    """What a date line says; `published` is None when it had the shape but an impossible date."""

    published: date | datetime | None
    views: int | None


def parse_date_line(line: str) -> DateLine | None:
    """Recognise a date line, or None when the line is something else (a paragraph)."""
    for pattern in DATE_LINES:
        match = pattern.match(line.strip())
        if match:
            return DateLine(_moment(match.groupdict()), _views(match.groupdict().get("views")))
    return None


def _moment(parts: dict[str, str | None]) -> date | datetime | None:
    try:
        day = date(int(parts["y"] or 0), int(parts["m"] or 0), int(parts["d"] or 0))
    except ValueError:
        return None
    if parts.get("H") is None:
        return day
    try:
        return datetime(
            day.year, day.month, day.day, int(parts["H"] or 0), int(parts["M"] or 0), tzinfo=VIETNAM_TZ
        )
    except ValueError:
        return day


def _views(raw: str | None) -> int | None:
    if raw is None:
        return None
    digits = re.sub(r"\D", "", raw)
    return int(digits) if digits and len(digits) < 15 else None
