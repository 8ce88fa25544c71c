"""The date-line grammar: a table of real-world forms, what is not a date line, and properties."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bantin.articles.dates import parse_counter_line, parse_date_line
from bantin.articles.model import VIETNAM_TZ


def at(y: int, mo: int, d: int, h: int, mi: int, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=VIETNAM_TZ)


# (line, published, views, kind): forms seen on Vietnamese provincial papers and Party portals.
TABLE: list[tuple[str, object, int | None, str | None]] = [
    ("08/09/2019 - Lượt xem: 1870", date(2019, 9, 8), 1870, None),
    ("THỨ BA, 04/10/2022 15:03:00", at(2022, 10, 4, 15, 3), None, None),
    ("Thứ năm - 09/03/2017 21:41", at(2017, 3, 9, 21, 41), None, None),
    ("20/05/2022 - 20:47", at(2022, 5, 20, 20, 47), None, None),
    ("Ngày đăng : 08:50, 30/03/2021", at(2021, 3, 30, 8, 50), None, "published"),
    ("Thứ Bảy, 7 tháng 11, 2020", date(2020, 11, 7), None, None),
    ("Thứ hai, ngày 14 tháng 04 năm 2016", date(2016, 4, 14), None, None),
    ("Cập nhật: 10:15 | 12/03/2022", at(2022, 3, 12, 10, 15), None, "updated"),
    ("Lượt xem: 7370 | Gửi lúc: 05/12/2013 15:42:27", at(2013, 12, 5, 15, 42, 27), 7370, "published"),
    ("Đăng ngày 12/03/2022 08:00", at(2022, 3, 12, 8, 0), None, "published"),
    ("Đăng ngày: 02/06/2021 | 10:15", at(2021, 6, 2, 10, 15), None, "published"),
    ("Ngày xuất bản: 12/03/2022", date(2022, 3, 12), None, "published"),
    ("Cập nhật lúc 09:12 ngày 12/03/2022", at(2022, 3, 12, 9, 12), None, "updated"),
    ("12/03/2022 | 09:12 GMT+7", at(2022, 3, 12, 9, 12), None, None),
    ("12-03-2022 09:12", at(2022, 3, 12, 9, 12), None, None),
    ("12.03.2022", date(2022, 3, 12), None, None),
    ("2022-03-12 09:12:33", at(2022, 3, 12, 9, 12, 33), None, None),
    ("2022-03-12T09:12+07:00", at(2022, 3, 12, 9, 12), None, None),
    ("Thứ 2, 12/03/2022 - 09:12", at(2022, 3, 12, 9, 12), None, None),
    ("CN, 13/03/2022", date(2022, 3, 13), None, None),
    ("Chủ Nhật, 13/3/2022 | 10:05 (GMT+07:00)", at(2022, 3, 13, 10, 5), None, None),
    ("13/03/2022 10:05 PM", at(2022, 3, 13, 22, 5), None, None),
    ("10:05 CH, 13/03/2022", at(2022, 3, 13, 22, 5), None, None),
    ("12/03/2022 08:15 SA", at(2022, 3, 12, 8, 15), None, None),
    ("Thứ tư, 16/03/2022 12:05 SA", at(2022, 3, 16, 0, 5), None, None),
    ("Thứ Sáu, 18/3/2022, 14h30", at(2022, 3, 18, 14, 30), None, None),
    ("14 giờ 30 ngày 18/3/2022", at(2022, 3, 18, 14, 30), None, None),
    ("Thứ Hai, 09/09/2019, 07:05 (GMT+7)", at(2019, 9, 9, 7, 5), None, None),
    ("thứ hai, 09/09/2019, 07:05 (gmt+7)", at(2019, 9, 9, 7, 5), None, None),
    ("2019-09-08", date(2019, 9, 8), None, None),
    ("Ngày 12/03/2022", date(2022, 3, 12), None, None),
    ("12/03/2022 - 09:12 | Lượt xem: 120", at(2022, 3, 12, 9, 12), 120, None),
    ("8/9/2019 - Lượt xem: 1.870", date(2019, 9, 8), 1870, None),
    ("Đăng lúc: 07:05 SA, 22/09/2021", at(2021, 9, 22, 7, 5), None, "published"),
    ("Thứ 5, 08/12/2022 - 16:20", at(2022, 12, 8, 16, 20), None, None),
    ("Thứ Sáu, 18/11/2022 07:30", at(2022, 11, 18, 7, 30), None, None),
    ("14:30 08/09/2019", at(2019, 9, 8, 14, 30), None, None),
    ("Ngày đăng: 10/04/2023", date(2023, 4, 10), None, "published"),
    ("31/02/2019 - Lượt xem: 5", None, 5, None),  # the shape of a date, an impossible day
]


def test_the_table_has_thirty_real_world_forms() -> None:
    assert len(TABLE) >= 30


@pytest.mark.parametrize(("line", "published", "views", "kind"), TABLE)
def test_date_line_forms(line: str, published: object, views: int | None, kind: str | None) -> None:
    found = parse_date_line(line)
    assert found is not None
    assert (found.published, found.views, found.kind) == (published, views, kind)


@pytest.mark.parametrize("line", [
    "Sáng 12/3, tỉnh tổ chức hội nghị.",
    "Ngày 12/03/2022, UBND tỉnh tổ chức hội nghị tổng kết.",
    "Kì họp thứ 5 HĐND tỉnh khóa XVII",
    "Theo báo cáo, năm 2022 toàn tỉnh có 98/196 xã đạt chuẩn.",
    "Hội thi Bí thư chi bộ giỏi năm 2022",
    "",
    "3.217 0",
])
def test_sentences_and_titles_are_not_date_lines(line: str) -> None:
    assert parse_date_line(line) is None


@pytest.mark.parametrize(("line", "views"), [("3.217 0", 3217), ("1870", 1870), ("Lượt xem: 1.245", 1245),
                                             ("120 3 0", 120)])
def test_counter_lines(line: str, views: int) -> None:
    counter = parse_counter_line(line)
    assert counter is not None and counter.views == views and counter.published is None


def test_a_title_with_a_number_is_not_a_counter() -> None:
    assert parse_counter_line("Hà Nội 3") is None


@given(st.text(max_size=200))
@settings(max_examples=500, deadline=None)
def test_never_raises(line: str) -> None:
    found = parse_date_line(line)
    assert found is None or found.published is None or isinstance(found.published, date)
    parse_counter_line(line)


WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"]
FORMATS = [
    lambda m: f"{m:%d/%m/%Y %H:%M}",
    lambda m: f"{WEEKDAYS[m.weekday()]}, {m:%d/%m/%Y}, {m:%H:%M} (GMT+7)",
    lambda m: f"{WEEKDAYS[m.weekday()].upper()}, {m:%d/%m/%Y %H:%M:%S}",
    lambda m: f"{m.day}/{m.month}/{m.year} - {m:%H:%M}",
    lambda m: f"Ngày đăng : {m:%H:%M}, {m:%d/%m/%Y}",
    lambda m: f"Cập nhật lúc {m:%H:%M} ngày {m:%d/%m/%Y}",
    lambda m: f"Lượt xem: 12 | Gửi lúc: {m:%d/%m/%Y %H:%M:%S}",
    lambda m: f"{m:%Y-%m-%d %H:%M:%S}",
    lambda m: f"{m:%d/%m/%Y} | {m:%H:%M} GMT+7",
    lambda m: f"{(m.hour - 1) % 12 + 1:02d}:{m:%M} {'SA' if m.hour < 12 else 'CH'}, {m:%d/%m/%Y}",
    lambda m: f"{m:%d/%m/%Y %I:%M} {'AM' if m.hour < 12 else 'PM'}",
    lambda m: f"{m.hour} giờ {m:%M} ngày {m.day}/{m.month}/{m.year}",
]
DAY_FORMATS = [
    lambda d: f"{WEEKDAYS[d.weekday()]}, {d.day} tháng {d.month}, {d.year}",
    lambda d: f"{WEEKDAYS[d.weekday()]}, ngày {d.day:02d} tháng {d.month:02d} năm {d.year}",
    lambda d: f"Ngày xuất bản: {d:%d.%m.%Y}",
    lambda d: f"{d:%d/%m/%Y} - Lượt xem: 1.870",
]
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda m: m.replace(microsecond=0, tzinfo=VIETNAM_TZ))


@given(moments, st.sampled_from(range(len(FORMATS))))
@settings(max_examples=400, deadline=None)
def test_round_trip_of_moments(moment: datetime, which: int) -> None:
    line = FORMATS[which](moment)
    found = parse_date_line(line)
    assert found is not None, line
    expected = moment if which in (2, 6, 7) else moment.replace(second=0)  # the forms with seconds
    assert found.published == expected, line


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)), st.sampled_from(range(len(DAY_FORMATS))))
@settings(max_examples=200, deadline=None)
def test_round_trip_of_days(day: date, which: int) -> None:
    found = parse_date_line(DAY_FORMATS[which](day))
    assert found is not None and found.published == day


def test_vietnam_time_is_kept() -> None:
    found = parse_date_line("20/05/2022 - 20:47")
    assert found is not None and isinstance(found.published, datetime)
    assert found.published.utcoffset() == timedelta(hours=7)
