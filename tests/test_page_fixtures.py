"""Pages of many newsrooms: the hand-written fixtures, bylines, chrome by features, captions,
Ð→Đ, and the new fields through the store (with a migration of old stores) and `bantin parse --json`."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bantin.articles.bylines import Byline, parse_byline
from bantin.articles.markers import is_chrome, is_header_chrome
from bantin.articles.model import Article, published_iso
from bantin.articles.rawpage import PageError, parse_page
from bantin.articles.store import ArticleStore
from bantin.articles.text import clean_line
from bantin.bot.cli import main
from bantin.index.analysis import fold, normalize_word
from tests.page_accuracy import FIELDS, PAGES, check, expectations
from tests.test_dates import DAY_FORMATS

CASES = expectations()


def test_at_least_thirty_fixture_pages() -> None:
    assert len(CASES) >= 30 and all((PAGES / name).exists() for name in CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_page(name: str) -> None:
    expected = CASES[name]
    article = parse_page((PAGES / name).read_bytes(), source=str(PAGES / name))
    assert article.title == expected["title"]
    assert published_iso(article.published) == expected["published"]
    assert (article.author, article.source_credit) == (expected["author"], expected["source_credit"])
    assert len(article.paragraphs) == expected["paragraphs"]
    assert article.paragraphs[0].startswith(str(expected["first_paragraph_startswith"]))
    assert article.paragraphs[-1].endswith(str(expected["last_paragraph_endswith"]))
    assert len(article.captions) == expected["captions"]
    if expected["views"] is not None:
        assert article.views == expected["views"]
    text = "\n".join([article.title, *article.paragraphs])
    for junk in expected["absent"]:  # type: ignore[union-attr]
        assert junk not in text


def test_accuracy_report_counts_every_field() -> None:
    results = [check(name, expected) for name, expected in CASES.items()]
    assert all(set(result) == set(FIELDS) and all(result.values()) for result in results)


@pytest.mark.parametrize(("block", "byline"), [
    ("Trường Xuân", Byline(author="Trường Xuân")),
    ("MINH NGUYỆT", Byline(author="MINH NGUYỆT")),
    ("Minh Châu (TTXVN)", Byline(author="Minh Châu (TTXVN)")),
    ("Quốc Sự - Uỷ viên UBKT Huyện ủy", Byline(author="Quốc Sự")),
    ("Trần Văn Hải, Bí thư Chi bộ thôn 3", Byline(author="Trần Văn Hải")),
    ("CTV: Hoàng Lan", Byline(author="Hoàng Lan")),
    ("CTV: Nguyễn Thị Lan - Trung tâm Văn hóa huyện", Byline(author="Nguyễn Thị Lan")),
    ("Tin, ảnh: Hồng Nhung", Byline(author="Hồng Nhung")),
    ("Ban Tuyên giáo Huyện ủy Krông Sa", Byline(author="Ban Tuyên giáo Huyện ủy Krông Sa")),
    ("Theo Trí Thức Trẻ", Byline(source_credit="Trí Thức Trẻ")),
    ("(Theo VOV)", Byline(source_credit="VOV")),
    ("Nguồn: baochinhphu.vn", Byline(source_credit="baochinhphu.vn")),
    ("Thu Hà (Theo Báo Nhân Dân)", Byline(author="Thu Hà", source_credit="Báo Nhân Dân")),
])
def test_bylines(block: str, byline: Byline) -> None:
    assert parse_byline(block) == byline


@pytest.mark.parametrize("block", [
    "Xin cảm ơn.", "Theo ông Nguyễn Văn Tám", "Theo đó, tỉnh sẽ làm.", "Hội nghị diễn ra sôi nổi.",
    "Hội nghị đã khen thưởng 25 tập thể và 40 cá nhân có thành tích xuất sắc.",
])
def test_sentences_are_not_bylines(block: str) -> None:
    assert parse_byline(block) is None


@pytest.mark.parametrize("line", ["Các bài viết khác cùng chuyên mục", "XEM THÊM TIN KHÁC", "Bình luận (12)",
                                  "Tin đọc nhiều nhất »", "Viết bình luận"])
def test_footer_labels_by_their_words_not_an_exact_list(line: str) -> None:
    assert is_chrome(line)


@pytest.mark.parametrize("line", ["Trang chủ » Tin tức » Kinh tế", "Multimedia Đọc Báo in", "TIN TỨC", "Banner",
                                  "CHÀO MỪNG ĐẾN VỚI TRANG THÔNG TIN ĐIỆN TỬ HUYỆN EA RÔNG", "A A A"])
def test_header_chrome(line: str) -> None:
    assert is_header_chrome(line)


@pytest.mark.parametrize("line", ["Mùa vàng", "Tin mới nhất về dịch bệnh ở Ea Rông đã được công bố.",
                                  "Trường Xuân", "Hội thi Bí thư chi bộ giỏi"])
def test_text_is_not_chrome(line: str) -> None:
    assert not is_chrome(line) and not is_header_chrome(line)


def test_latin_eth_becomes_vietnamese_d() -> None:
    assert clean_line("Ðại hội Ðảng bộ, ðồng chí") == "Đại hội Đảng bộ, đồng chí"
    assert fold(clean_line("Ðảng").lower()) == "dang"  # before: Ð folded to itself, never "d"


def test_old_spellings_are_kept_and_how_the_index_sees_them() -> None:
    """`uỷ`/`ủy` is tone placement: the index makes them one word. `kì`/`kỳ` are two spellings
    (i/y): kept as written, and the index keeps them apart too (folded `ki` vs `ky`)."""
    assert clean_line("Uỷ ban, kì họp") == "Uỷ ban, kì họp"
    assert normalize_word("uỷ") == normalize_word("ủy")
    assert fold("kì") == "ki" and fold("kỳ") == "ky"


def test_title_after_breadcrumb_and_date_and_a_paragraph_after_a_date_only() -> None:
    page = "Kinh tế\n20/05/2022 - 20:47\nGiá cà phê tăng mạnh\n\nSáng nay giá cà phê tăng 2.000 đồng/kg.\n"
    assert parse_page(page.encode()).title == "Giá cà phê tăng mạnh"
    with pytest.raises(PageError, match="tiêu đề"):
        parse_page("20/05/2022 - 20:47\nSáng nay giá cà phê tăng 2.000 đồng/kg.\n".encode())


def test_caption_under_an_image_path_only_when_it_follows_at_once() -> None:
    body = "Đoạn một của bài.\n/uploads/a.jpg\nChú thích ảnh ngắn.\n\nĐoạn hai.\n/uploads/b.jpg\n\nĐoạn ba ngắn."
    article = parse_page(f"Tiêu đề bài\n12/03/2022\n{body}\n".encode())
    assert article.captions == ("Chú thích ảnh ngắn.",)
    assert article.paragraphs == ("Đoạn một của bài.", "Đoạn hai.", "Đoạn ba ngắn.")


def _old_hash(article: Article) -> str:
    """content_hash as it was before source_credit and captions existed."""
    payload = json.dumps([article.title, list(article.paragraphs), published_iso(article.published),
                          article.author, article.views, article.url], ensure_ascii=False)
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()


def test_content_hash_of_articles_without_new_fields_is_unchanged() -> None:
    plain = Article(id="a", title="T", paragraphs=("p",), published=date(2020, 1, 1), author="A")
    assert plain.content_hash() == _old_hash(plain)
    assert Article(id="a", title="T", paragraphs=("p",), source_credit="VOV").content_hash() != _old_hash(plain)


OLD_SCHEMA = """
CREATE TABLE articles (id TEXT PRIMARY KEY, source TEXT NOT NULL, title TEXT NOT NULL, published TEXT,
    published_ts REAL, first_seen TEXT NOT NULL, author TEXT, views INTEGER, url TEXT, paragraphs TEXT NOT NULL,
    content_hash TEXT NOT NULL, rev INTEGER NOT NULL);
INSERT INTO articles VALUES ('old', '/src/old.txt', 'Bài cũ', '2020-01-01', 0, '2024-01-01T00:00:00+00:00',
    'Trường Xuân', 5, NULL, '["Sapo", "Thân"]', 'x', 1);
"""


def _old_store(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.commit()
    db.close()
    return path


def test_an_old_store_reads_read_only_and_migrates_on_a_writable_open(tmp_path: Path) -> None:
    path = _old_store(tmp_path / "articles.sqlite")
    with ArticleStore(path, readonly=True) as store:
        old = store.get("old")
        assert old is not None and old.source_credit is None and old.captions == ()
    with ArticleStore(path) as store:
        old = store.get("old")
        assert old is not None and old.author == "Trường Xuân" and old.paragraphs == ("Sapo", "Thân")
        new = Article(id="new", title="Mới", paragraphs=("p",), source="/src/new.txt", author="Thu Hà",
                      source_credit="VOV", captions=("(Ảnh: TL)",))
        assert store.upsert_many([new]) == ["added"]
    with ArticleStore(path) as again:  # a second migration finds the columns there: no error
        got = again.get("new")
        assert got is not None and (got.source_credit, got.captions) == ("VOV", ("(Ảnh: TL)",))
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(articles)")}
    assert {"source_credit", "captions"} <= columns


def test_parse_json_has_the_new_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(PAGES / "p12_gmt-name-and-credit.txt"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["author"], data["source_credit"], data["captions"]) == ("Thu Hà", "VOV", [])
    assert main(["parse", str(PAGES / "p11_sa-ch-captions.txt"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["captions"] == [
        "(Ảnh: Minh Châu)", "Lãnh đạo huyện thực hiện nghi thức khởi công công trình. (Ảnh: Minh Châu)"]


HEADERS = ["", "TIN TỨC\n", "Trang chủ > Tin tức > Xây dựng Đảng\n", "Banner\nMultimedia Đọc Báo in\n",
           "CHÀO MỪNG ĐẾN VỚI CỔNG THÔNG TIN ĐIỆN TỬ TỈNH SƠN NGUYÊN\nThời sự\n"]


@given(st.sampled_from(HEADERS), st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
       st.sampled_from(range(len(DAY_FORMATS))), st.booleans(),
       st.sampled_from(["MINH NGUYỆT", "Trường Xuân", "CTV: Hoàng Lan", "Quốc Sự - Uỷ viên UBKT"]))
@settings(max_examples=150, deadline=None)
def test_generated_pages_keep_title_date_and_author(header: str, day: date, which: int, date_first: bool,
                                                     byline: str) -> None:
    title = "Huyện Ea Rông sơ kết công tác dân vận năm 2022"
    date_line = DAY_FORMATS[which](day)
    top = f"{date_line}\n{title}" if date_first else f"{title}\n{date_line}"
    text = f"{header}{top}\n\nĐoạn mở đầu của bài viết.\n\nĐoạn cuối của bài viết.\n\n{byline}\n\nTin liên quan\n"
    article = parse_page(text.encode())
    assert article.title == title and article.published == day
    assert article.author in {"MINH NGUYỆT", "Trường Xuân", "Hoàng Lan", "Quốc Sự"}
    assert article.paragraphs == ("Đoạn mở đầu của bài viết.", "Đoạn cuối của bài viết.")


def test_a_short_title_in_capitals_is_still_a_title() -> None:
    article = parse_page("MÙA VÀNG\n24/11/2022 07:20\n\nNhững ngày cuối tháng 11, cánh đồng vào vụ gặt.\n".encode())
    assert article.title == "MÙA VÀNG" and len(article.paragraphs) == 1


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_binary_check_counts_the_same_characters_as_before(text: str) -> None:
    """The regex count (faster) against the character loop it replaced."""
    from bantin.articles.rawpage import _looks_binary

    sample = text[:4096]
    odd = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r") or 0xFFF0 <= ord(ch) <= 0xFFFF)
    assert _looks_binary(text) == (bool(sample) and odd / len(sample) > 0.05)
