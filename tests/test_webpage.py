"""Saved web pages → articles: the newsroom-style fixtures in tests/fixtures/web/ (hand-written
CMS markup: navigation, breadcrumbs, share bars, comment boxes, related links, footers; JSON-LD in
some, `og:` meta in others, neither in the rest; UTF-8 and windows-1258) and their expected fields."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bantin.articles.model import published_iso
from bantin.articles.rawpage import PageError
from bantin.articles.webpage import decode_html, normalize_url, page_url_id, parse_webpage
from tests.conftest import FIXTURES
from tests.webtext import to_cp1258

WEB = FIXTURES / "web"
EXPECTED: dict[str, dict[str, object]] = json.loads((WEB / "expected.json").read_text(encoding="utf-8"))
FIELDS = ("title", "published", "author", "url", "body")


def fields(name: str) -> dict[str, bool]:
    """Which fields of one fixture come out exactly as expected (the body: lead, last paragraph,
    paragraph count, and none of the page's chrome)."""
    expected = EXPECTED[name]
    article = parse_webpage((WEB / name).read_bytes(), source=str(WEB / name))
    body = "\n".join(article.paragraphs)
    return {
        "title": article.title == expected["title"],
        "published": published_iso(article.published) == expected["published"],
        "author": article.author == expected["author"],
        "url": article.url == expected["url"],
        "body": (len(article.paragraphs) == expected["paragraphs"]
                 and article.lead.startswith(str(expected["first"]))
                 and article.paragraphs[-1].endswith(str(expected["last"]))
                 and not [s for s in expected["absent"] if s in body]  # type: ignore[attr-defined]
                 and article.extra.get("source_credit") == expected.get("source_credit")),
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_fields(name: str) -> None:
    assert fields(name) == dict.fromkeys(FIELDS, True)


def test_accuracy_per_field(capsys: pytest.CaptureFixture[str]) -> None:
    """The per-field accuracy the README reports (printed with `-s`)."""
    results = [fields(name) for name in sorted(EXPECTED)]
    accuracy = {f: sum(r[f] for r in results) / len(results) for f in FIELDS}
    with capsys.disabled():
        print("\nweb page accuracy on", len(results), "fixtures:", {f: f"{a:.0%}" for f, a in accuracy.items()})
    assert accuracy == dict.fromkeys(FIELDS, 1.0)


def test_declared_utf8_but_windows_1258() -> None:
    html = ('<html><head><meta charset="utf-8"><title>Tin</title></head><body><article>'
            '<h1>Xã Ea Rông tổ chức hội nghị điển hình tiên tiến</h1>'
            '<p>Sáng nay, Đảng ủy xã Ea Rông tổ chức hội nghị biểu dương các điển hình tiên tiến trong phong trào '
            'thi đua yêu nước giai đoạn 2020 - 2025, với sự tham gia của hơn một trăm đại biểu.</p>'
            '<p>Hội nghị đã khen thưởng 25 tập thể và 40 cá nhân có thành tích xuất sắc trong các phong trào.</p>'
            '</article></body></html>')
    article = parse_webpage(to_cp1258(html), url="http://127.0.0.1/a.html")
    assert article.title == "Xã Ea Rông tổ chức hội nghị điển hình tiên tiến"
    assert article.lead.startswith("Sáng nay, Đảng ủy xã Ea Rông")


def test_utf8_wins_over_a_wrong_legacy_declaration() -> None:
    text = "<html><head><meta charset='windows-1258'></head><body>Đảng ủy</body></html>"
    assert "Đảng ủy" in decode_html(text.encode("utf-8"))


@pytest.mark.parametrize("data, reason", [
    (b"", "rỗng"), (b"   \n", "rỗng"), (b"\x00\x01\x02binary" * 10, "nhị phân"),
    (b"<html><body><nav>Trang ch\xe1\xbb\xa7</nav></body></html>", "tiêu đề"),
])
def test_not_articles_get_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(PageError, match=reason):
        parse_webpage(data)


def test_id_is_a_hash_of_the_canonical_url() -> None:
    page = (WEB / "01_baosonnguyen_jsonld.html").read_bytes()
    # The feed's link on the page's own host (a canonical URL on another host is ignored:
    # tests/test_fetch_scope.py).
    a = parse_webpage(page, url="https://baosonnguyen.vn/feed-link?utm=rss")
    b = parse_webpage(page, source="/srv/saved/copy.html")
    assert a.id == b.id == page_url_id("https://baosonnguyen.vn/xay-dung-dang/dong-lam-ket-nap-126-dang-vien-moi-a10234.html")
    assert normalize_url("HTTPS://Example.VN:443/a#top") == "https://example.vn/a"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=400),
                 st.text(max_size=300).map(lambda t: f"<html><body><h1>{t}</h1><p>{t}</p></body></html>".encode())))
def test_any_bytes_are_an_article_or_a_page_error(data: bytes) -> None:
    try:
        article = parse_webpage(data, url="http://127.0.0.1/x")
    except PageError as exc:
        assert str(exc)
    else:
        assert article.title and article.paragraphs
