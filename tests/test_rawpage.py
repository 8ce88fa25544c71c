"""The raw page parser: the golden real page, every layout variant, and arbitrary input."""

from __future__ import annotations

import codecs
import json
import unicodedata
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bantin.articles.model import VIETNAM_TZ
from bantin.articles.rawpage import MAX_PAGE_BYTES, PageError, page_id, parse_page
from tests.conftest import FIXTURES, REAL_SAMPLE, SAMPLES, need_shared

CHROME = """

(Bấm vào đây để nhận mã)

Tin liên quan

Hội nghị tổng kết công tác dân vận năm 2023

Ảnh Xem tất cả >>

Video

Tỷ giá - Thời tiết

Liên kết website
Cổng thông tin tỉnh
LÊN ĐẦU TRANG"""

BODY = """Sáng nay, Ban Thường vụ Huyện ủy Ea Rông tổ chức hội nghị sơ kết công tác xây dựng Đảng.

 \t
Hội nghị đánh giá cao kết quả kết nạp 42 đảng viên mới trong 6 tháng đầu năm.

\u00a0

Đồng chí Bí thư Huyện ủy yêu cầu các chi bộ nâng cao chất lượng sinh hoạt."""


def page(title: str = "Ea Rông: Sơ kết công tác xây dựng Đảng", date_line: str = "08/09/2019 - Lượt xem: 1870",
         body: str = BODY, author: str | None = "Trường Xuân", chrome: str = CHROME, prefix: str = "") -> str:
    parts = [prefix + title]
    if date_line:
        parts.append(date_line)
    parts.append(body)
    text = "\n".join(parts)
    if author:
        text += "\n\n" + author
    return text + chrome


def parse(text: str, encoding: str = "utf-8") -> object:
    return parse_page(text.encode(encoding), source="/tmp/x.txt")


def test_real_sample_golden() -> None:
    need_shared(REAL_SAMPLE)
    article = parse_page(REAL_SAMPLE.read_bytes(), source=str(REAL_SAMPLE))
    assert article.title == (
        "An Khê: Quan tâm xây dựng tổ chức cơ sở đảng, nâng cao chất lượng đảng viên"
    )
    assert article.published == date(2019, 9, 8)
    assert article.views == 1870
    assert article.author == "Trường Xuân"
    # The lead ("Thời gian qua, …") then six body paragraphs.
    assert article.paragraphs[0].startswith("Thời gian qua, Đảng bộ thị xã An Khê")
    assert len(article.paragraphs[1:]) == 6
    assert article.paragraphs[-1].endswith("có hình thức xử lý phù hợp.")
    text = " ".join([article.title, *article.paragraphs, article.author or ""])
    for junk in ("request was aborted", "SSL/TLS", "Bấm vào đây", "Tin liên quan", "Tỷ giá", "Video",
                 "LÊN ĐẦU TRANG", "BlueZone", "Liên kết website", "Xem tất cả"):
        assert junk not in text
    assert all(p == p.strip() and "\u00a0" not in p and "  " not in p for p in article.paragraphs)


@pytest.mark.parametrize(
    "error",
    [
        "The request was aborted: Could not create SSL/TLS secure channel.",
        "The operation has timed out",
        "The operation has timed out.",
        "The remote server returned an error: (500) Internal Server Error.",
        "The remote server returned an error: (404) Not Found.",
        "The remote server returned an error: (503) Server Unavailable.",
        "Unable to connect to the remote server",
        "The underlying connection was closed: An unexpected error occurred on a send.",
        "The underlying connection was closed: The connection was closed unexpectedly.",
        "An error occurred while sending the request.",
        "The remote name could not be resolved: 'baosonnguyen.vn'",
        "System.Net.WebException: The operation has timed out",
    ],
)
def test_scraper_error_glued_before_title(error: str) -> None:
    article = parse(page(prefix=error + " "))
    assert article.title == "Ea Rông: Sơ kết công tác xây dựng Đảng"


def test_scraper_errors_on_their_own_lines() -> None:
    prefix = "The operation has timed out\nUnable to connect to the remote server\n\n"
    article = parse(page(prefix=prefix))
    assert article.title == "Ea Rông: Sơ kết công tác xây dựng Đảng"
    two_glued = "The operation has timed out The remote server returned an error: (502) Bad Gateway. "
    assert parse(page(prefix=two_glued)).title == "Ea Rông: Sơ kết công tác xây dựng Đảng"


@pytest.mark.parametrize(
    ("line", "published", "views"),
    [
        ("08/09/2019 - Lượt xem: 1870", date(2019, 9, 8), 1870),
        ("8/9/2019 - Lượt xem: 1.870", date(2019, 9, 8), 1870),
        ("08/09/2019 14:30", datetime(2019, 9, 8, 14, 30, tzinfo=VIETNAM_TZ), None),
        ("Chủ nhật, 08/09/2019, 14:30 (GMT+7)", datetime(2019, 9, 8, 14, 30, tzinfo=VIETNAM_TZ), None),
        ("Thứ Hai, 09/09/2019, 07:05 (GMT+7)", datetime(2019, 9, 9, 7, 5, tzinfo=VIETNAM_TZ), None),
        ("thứ hai, 09/09/2019, 07:05 (gmt+7)", datetime(2019, 9, 9, 7, 5, tzinfo=VIETNAM_TZ), None),
        ("2019-09-08", date(2019, 9, 8), None),
    ],
)
def test_date_lines(line: str, published: object, views: int | None) -> None:
    article = parse(page(date_line=line))
    assert article.published == published
    assert article.views == views
    assert article.paragraphs[0].startswith("Sáng nay")


def test_day_first_and_iso_output() -> None:
    article = parse(page(date_line="02/03/2021 09:15"))
    assert article.to_json()["published"] == "2021-03-02T09:15:00+07:00"


def test_impossible_date_is_null_not_a_paragraph() -> None:
    article = parse(page(date_line="31/02/2019 - Lượt xem: 5"))
    assert article.published is None and article.views == 5
    assert article.paragraphs[0].startswith("Sáng nay")


def test_no_date_line() -> None:
    article = parse(page(date_line=""))
    assert article.published is None and article.views is None
    assert article.paragraphs[0].startswith("Sáng nay")
    assert len(article.paragraphs) == 3


@pytest.mark.parametrize("author", ["Trường Xuân", "Đ.T", "H.Nguyên - T.Lan", "Minh Châu (TTXVN)", "K.L"])
def test_author_lines(author: str) -> None:
    article = parse(page(author=author))
    assert article.author == author
    assert author not in article.paragraphs


def test_no_author_and_no_chrome() -> None:
    article = parse(page(author=None, chrome=""))
    assert article.author is None
    assert article.paragraphs[-1].endswith("chất lượng sinh hoạt.")
    assert len(article.paragraphs) == 3


def test_last_sentence_is_not_taken_for_an_author() -> None:
    article = parse(page(author=None, body=BODY + "\n\nXin cảm ơn."))
    assert article.author is None and article.paragraphs[-1] == "Xin cảm ơn."


@pytest.mark.parametrize("marker", ["Tin liên quan", "(Bấm vào đây để nhận mã)", "Tỷ giá - Thời tiết",
                                    "LÊN ĐẦU TRANG", "Tin cùng chuyên mục", "Video"])
def test_chrome_is_dropped_from_its_first_marker(marker: str) -> None:
    article = parse(page(chrome=f"\n\n{marker}\n\nMột tiêu đề khác của trang\n\nLiên kết website"))
    assert article.author == "Trường Xuân"
    assert all(marker not in p and "tiêu đề khác" not in p for p in article.paragraphs)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_encodings_and_line_endings(encoding: str, newline: str) -> None:
    text = page().replace("\n", newline)
    if encoding == "utf-16-le-bom":
        data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    elif encoding == "utf-16-be-bom":
        data = codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    else:
        data = text.encode(encoding)
    article = parse_page(data, source="/tmp/x.txt")
    assert article.title == "Ea Rông: Sơ kết công tác xây dựng Đảng"
    assert article.author == "Trường Xuân" and len(article.paragraphs) == 3
    assert not any("\r" in p or "\ufeff" in p for p in (article.title, *article.paragraphs))


def test_nfd_input_becomes_nfc() -> None:
    article = parse(unicodedata.normalize("NFD", page()))
    assert article.title == "Ea Rông: Sơ kết công tác xây dựng Đảng"
    assert all(unicodedata.is_normalized("NFC", p) for p in article.paragraphs)


def test_tone_placement_is_kept_as_written() -> None:
    old = "Hoà giải ở cơ sở: thuỷ lợi, khoẻ mạnh, uỷ ban"
    new = "Hòa giải ở cơ sở: thủy lợi, khỏe mạnh, ủy ban"
    assert parse(page(title=old)).title == old
    assert parse(page(title=new)).title == new
    assert parse(unicodedata.normalize("NFD", page(title=old))).title == old


def test_paragraph_lines_are_joined_and_whitespace_cleaned() -> None:
    article = parse(page(body="Dòng một   của đoạn\nnối tiếp\u00a0\u00a0đây.  \n\n\n\nĐoạn hai.\t"))
    assert article.paragraphs == ("Dòng một của đoạn nối tiếp đây.", "Đoạn hai.")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "rỗng"),
        (b"  \n\r\n \t ", "rỗng"),
        (b"\x00\x01\x02\x03binary\xff\xfe\x00", "nhị phân"),
        (b"\xc3\x28 not utf-8 \xa0\xa1", "không đọc được"),
        (b"The operation has timed out\n", "thông báo lỗi"),
        (b"The request was aborted: Could not create SSL/TLS secure channel.", "thông báo lỗi"),
        ("Tin liên quan\n\nTỷ giá - Thời tiết\n\nLÊN ĐẦU TRANG".encode(), "giao diện"),
        ("08/09/2019 - Lượt xem: 10\n\nĐoạn văn.".encode(), "tiêu đề"),
        ("Chỉ có tiêu đề\n08/09/2019 14:00\n".encode(), "nội dung"),
    ],
)
def test_bad_pages_give_reasons(data: bytes, reason: str) -> None:
    with pytest.raises(PageError, match=reason):
        parse_page(data, source="/tmp/bad.txt")


def test_oversized_page_is_refused_before_decoding() -> None:
    with pytest.raises(PageError, match="quá lớn"):
        parse_page(b"a" * (MAX_PAGE_BYTES + 1), source="/tmp/big.txt")


def test_page_id_is_stable_and_short() -> None:
    assert page_id("/srv/pages/a.txt") == page_id("/srv/pages/a.txt")
    assert page_id("/srv/pages/a.txt") != page_id("/srv/pages/b.txt")
    assert len(page_id("/srv/pages/a.txt")) <= 20


@given(st.binary(max_size=3000))
@settings(max_examples=300, deadline=None)
def test_never_raises_anything_but_page_error_on_bytes(data: bytes) -> None:
    try:
        article = parse_page(data, source="/tmp/h.txt")
    except PageError:
        return
    assert article.title and article.paragraphs


@given(st.text(max_size=2000))
@settings(max_examples=300, deadline=None)
def test_never_raises_on_text_and_output_is_clean(text: str) -> None:
    for encoding in ("utf-8", "utf-16"):
        try:
            article = parse_page(text.encode(encoding, "surrogatepass"), source="/tmp/h.txt")
        except PageError:
            continue
        for value in (article.title, *article.paragraphs):
            assert value and value == value.strip() and "\n" not in value
            assert unicodedata.is_normalized("NFC", value)


def _bundled_expectations() -> dict[str, dict[str, object]]:
    path = FIXTURES / "samples_expected.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


@pytest.mark.parametrize("name", sorted(_bundled_expectations()))
def test_bundled_samples_parse_as_expected(name: str) -> None:
    expected = _bundled_expectations()[name]
    article = parse_page((SAMPLES / name).read_bytes(), source=str(SAMPLES / name))
    assert article.title == expected["title"]
    assert article.to_json()["published"] == expected["published"]
    assert article.views == expected["views"]
    assert article.author == expected["author"]
    assert len(article.paragraphs) == expected["paragraphs"]
    assert article.paragraphs[0].startswith(str(expected["first_paragraph_startswith"]))
    assert article.paragraphs[-1].endswith(str(expected["last_paragraph_endswith"]))
    everything = "\n".join([article.title, *article.paragraphs, article.author or ""])
    for junk in expected["absent"]:  # type: ignore[union-attr]
        assert junk not in everything


def test_bundled_samples_cover_every_variant() -> None:
    expectations = _bundled_expectations()
    assert len(list(SAMPLES.glob("*.txt"))) >= 20
    tags = {t for e in expectations.values() for t in e["variants"]}  # type: ignore[union-attr]
    for needed in ("glued-error", "error-line", "views", "datetime", "weekday", "iso-date", "no-date",
                   "author", "no-author", "chrome", "no-chrome", "utf8-bom", "utf16le", "utf16be",
                   "crlf", "nfd", "old-tones", "new-tones", "html-chars", "long"):
        assert needed in tags, needed
