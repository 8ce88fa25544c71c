"""Following the website: the polite client and one poll, against a local site on 127.0.0.1
(tests/website.py) serving feeds, sitemaps and pages written here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bantin.articles.store import ArticleStore
from bantin.articles.web.client import ClientConfig, PoliteClient
from bantin.articles.web.fetch import FetchReport, poll
from bantin.articles.web.state import FetchState
from tests.website import Website, article_html, rss, sitemap
from tests.webtext import to_cp1258

NOW = datetime.now(UTC).replace(microsecond=0)
UA = "bantin/test (+mailto:toasoan@example.vn)"
PARAS = ["Sáng nay, Đảng ủy xã Ea Rông tổ chức hội nghị sơ kết công tác xây dựng Đảng sáu tháng đầu năm, "
         "với sự tham gia của hơn một trăm đảng viên đến từ các chi bộ thôn, buôn trong xã.",
         "Hội nghị đã biểu dương 12 chi bộ hoàn thành xuất sắc nhiệm vụ và đề ra các giải pháp cho sáu tháng cuối năm."]


@pytest.fixture
def site() -> Iterator[Website]:
    with Website() as web:
        yield web


@pytest.fixture
def state(tmp_path: Path) -> Iterator[FetchState]:
    with FetchState(tmp_path / "data" / "feeds.sqlite") as s:
        yield s


def client(**options: object) -> PoliteClient:
    # The local site is on 127.0.0.1: private addresses are allowed explicitly (tests/test_fetch_scope.py
    # checks they are refused by default).
    config = {"user_agent": UA, "per_host_rate": 0.0, "timeout": 2.0, "retries": 2, "backoff": 0.0,
              "allow_private": True, **options}
    return PoliteClient(ClientConfig(**config))  # type: ignore[arg-type]


def news(site: Website, path: str, title: str, *, canonical: bool = True, paragraphs: list[str] | None = None,
         **route: object) -> str:
    html = article_html(title, paragraphs or [f"{title}. {PARAS[0]}", PARAS[1]], published=NOW.isoformat(),
                        canonical=site.url + path if canonical else None)
    return site.page(path, html, **route)  # type: ignore[arg-type]


def run(store: ArticleStore, state: FetchState, feeds: list[str], **options: object) -> FetchReport:
    with client(**options) as http:  # type: ignore[arg-type]
        return poll(store, state, http, feeds)


def reasons(report: FetchReport) -> dict[str, str]:
    return {where.rsplit("/", 1)[-1]: reason for where, reason in report.failed}


def test_new_articles_are_stored_and_an_unchanged_feed_costs_a_304(site: Website, store: ArticleStore,
                                                                  state: FetchState) -> None:
    news(site, "/a/1.html", "Ea Rông sơ kết công tác xây dựng Đảng")
    news(site, "/a/2.html", "Krông Sa ra quân làm thủy lợi")
    feed = site.page("/rss.xml", rss(site.url, [("/a/1.html", "Một", NOW), ("/a/2.html", "Hai", NOW)]),
                     content_type="application/rss+xml", etag='"v1"')
    first = run(store, state, [feed])
    assert (first.added, first.pages, first.failed) == (2, 2, [])
    stored = {a.title: a for a in store.iter_articles()}
    article = stored["Ea Rông sơ kết công tác xây dựng Đảng"]
    assert article.url == site.url + "/a/1.html" and article.source == article.url
    assert article.author == "Minh Nguyệt" and article.published == NOW.astimezone(article.published.tzinfo)  # type: ignore[union-attr]
    assert "Chia sẻ" not in article.text and "Tin cùng chuyên mục" not in article.text
    assert all(hit.headers["User-Agent"] == UA for hit in site.hits)
    second = run(store, state, [feed])
    assert second.not_modified == 1 and second.pages == 0 and second.added == 0
    assert site.requested("/rss.xml")[-1].headers.get("If-None-Match") == '"v1"'
    assert len(site.requested("/a/1.html")) == 1


def test_a_broken_feed_fails_alone_with_its_reason(site: Website, store: ArticleStore, state: FetchState) -> None:
    news(site, "/a/1.html", "Ea Rông sơ kết công tác xây dựng Đảng")
    broken = site.page("/broken.xml", '<?xml version="1.0"?><rss><channel><item><title>Tin</ti',
                       content_type="text/xml")
    html = site.page("/not-a-feed", "<html><body>Trang chủ</body></html>")
    gone = site.url + "/missing.xml"
    good = site.page("/rss.xml", rss(site.url, [("/a/1.html", "Một", NOW)]))
    report = run(store, state, [broken, html, gone, good])
    assert report.added == 1
    why = reasons(report)
    assert set(why) == {"broken.xml", "not-a-feed", "missing.xml"}
    assert "RSS" in why["broken.xml"] and "404" in why["missing.xml"]
    assert {s for s, _, _ in store.failures()} == {broken, html, gone}


def test_wrong_encoding_redirects_and_http_errors(site: Website, store: ArticleStore, state: FetchState) -> None:
    cp1258 = to_cp1258(article_html("Xã Ea Rông tổ chức hội nghị điển hình tiên tiến", PARAS,
                                    published=NOW.isoformat()))
    site.page("/a/legacy.html", cp1258)  # the server says utf-8; the bytes are windows-1258
    site.page("/a/old.html", b"", status=301, headers={"Location": "/a/new.html"})
    news(site, "/a/new.html", "Bài đã chuyển địa chỉ")
    site.page("/loop1", b"", status=302, headers={"Location": "/loop2"})
    site.page("/loop2", b"", status=302, headers={"Location": "/loop1"})
    site.page("/a/error.html", b"oops", status=500)
    items = [("/a/legacy.html", "", NOW), ("/a/old.html", "", NOW), ("/loop1", "", NOW), ("/a/missing.html", "", NOW),
             ("/a/error.html", "", NOW)]
    feed = site.page("/rss.xml", rss(site.url, items), etag='"v1"')
    report = run(store, state, [feed], retries=2)
    titles = {a.title: a for a in store.iter_articles()}
    assert set(titles) == {"Xã Ea Rông tổ chức hội nghị điển hình tiên tiến", "Bài đã chuyển địa chỉ"}
    assert titles["Bài đã chuyển địa chỉ"].url == site.url + "/a/new.html"
    why = reasons(report)
    assert "chuyển hướng" in why["loop1"] and "404" in why["missing.html"] and "500" in why["error.html"]
    assert len(site.requested("/a/missing.html")) == 1  # a 4xx is not retried
    assert len(site.requested("/a/error.html")) == 3  # a 5xx is, with backoff
    # A passing failure: the feed is read again in full next time (no If-None-Match), the 500 retried.
    site.page("/a/error.html", article_html("Trang đã sửa lỗi", PARAS, published=NOW.isoformat()))
    again = run(store, state, [feed])
    assert site.requested("/rss.xml")[-1].headers.get("If-None-Match") is None
    assert again.added == 1 and "error.html" not in reasons(again)
    assert len(site.requested("/a/missing.html")) == 1 + 1 and len(site.requested("/a/legacy.html")) == 1


def test_slow_and_huge_pages_are_cut_off(site: Website, store: ArticleStore, state: FetchState) -> None:
    site.page("/a/slow.html", article_html("Trang chậm", PARAS, published=NOW.isoformat()), delay=1.5)
    site.page("/a/huge.html", b"<p>" + b"x" * 10_000 + b"</p>", repeat=30)
    site.page("/a/huge-unsized.html", b"<p>" + b"x" * 10_000 + b"</p>", repeat=30, length=False)
    news(site, "/a/ok.html", "Trang bình thường vẫn được lưu")
    paths = ("/a/slow.html", "/a/huge.html", "/a/huge-unsized.html", "/a/ok.html")
    feed = site.page("/rss.xml", rss(site.url, [(p, "", NOW) for p in paths]))
    report = run(store, state, [feed], timeout=0.5, retries=0, max_bytes=100_000)
    why = reasons(report)
    assert "giây" in why["slow.html"]
    assert "quá lớn" in why["huge.html"] and "quá lớn" in why["huge-unsized.html"]
    assert report.added == 1


def test_duplicates_are_stored_once(site: Website, store: ArticleStore, state: FetchState) -> None:
    news(site, "/a/1.html", "Ea Rông sơ kết công tác xây dựng Đảng")
    same = {"paragraphs": ["Cùng một bài. " + PARAS[0], PARAS[1]], "canonical": False}
    news(site, "/a/2.html", "Bài đăng hai nơi", **same)  # type: ignore[arg-type]
    news(site, "/mobile/2.html", "Bài đăng hai nơi", **same)  # type: ignore[arg-type]
    one = site.page("/rss.xml", rss(site.url, [("/a/1.html", "", NOW), ("/a/1.html", "", NOW), ("/a/2.html", "", NOW)]))
    two = site.page("/m.xml", rss(site.url, [("/a/1.html#top", "", NOW), ("/mobile/2.html", "", NOW)]))
    report = run(store, state, [one, two])
    assert store.count() == 2 and report.added == 2 and report.duplicates == 1
    assert len(site.requested("/a/1.html")) == 1


def test_robots_txt_is_obeyed(site: Website, store: ArticleStore, state: FetchState) -> None:
    site.page("/robots.txt", "User-agent: *\nDisallow: /noi-bo/\n", content_type="text/plain")
    news(site, "/noi-bo/1.html", "Tin nội bộ")
    news(site, "/a/1.html", "Tin công khai")
    feed = site.page("/rss.xml", rss(site.url, [("/noi-bo/1.html", "", NOW), ("/a/1.html", "", NOW)]))
    report = run(store, state, [feed])
    assert [a.title for a in store.iter_articles()] == ["Tin công khai"]
    assert "robots.txt" in reasons(report)["1.html"] and not site.requested("/noi-bo/1.html")
    assert len(site.requested("/robots.txt")) == 1  # cached per host


def test_robots_txt_server_error_means_stay_away(site: Website, store: ArticleStore, state: FetchState) -> None:
    site.page("/robots.txt", b"", status=503)
    feed = site.page("/rss.xml", rss(site.url, []))
    report = run(store, state, [feed], retries=0)
    assert "robots.txt" in reasons(report)["rss.xml"] and not site.requested("/rss.xml")


def test_sitemap_index_and_lastmod(site: Website, store: ArticleStore, state: FetchState) -> None:
    recent, ancient = NOW.isoformat(), (NOW - timedelta(days=400)).date().isoformat()
    news(site, "/a/new.html", "Tin mới trong sitemap")
    news(site, "/a/old.html", "Tin cũ từ năm ngoái")
    site.page("/sitemap-news.xml", sitemap(site.url, [("/a/new.html", recent), ("/a/old.html", ancient)]),
              content_type="application/xml")
    site.page("/sitemap-2019.xml", sitemap(site.url, [("/a/old.html", ancient)]), content_type="application/xml")
    index = site.page("/sitemap.xml", sitemap(site.url, [("/sitemap-news.xml", recent), ("/sitemap-2019.xml", ancient)],
                                              index=True), content_type="application/xml")
    report = run(store, state, [index])
    assert [a.title for a in store.iter_articles()] == ["Tin mới trong sitemap"]
    assert report.old == 1 and not site.requested("/sitemap-2019.xml") and not site.requested("/a/old.html")


def test_per_host_rate_limit_spaces_requests() -> None:
    """Paced by the clock the client is given: no real waiting, no timing in the test."""
    moments: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    paced = PoliteClient(ClientConfig(user_agent=UA, per_host_rate=2.0), sleep=sleep, clock=lambda: now[0])
    for _ in range(4):
        paced._wait_turn("bao.example")
        moments.append(now[0])
    paced._wait_turn("other.example")
    assert moments == [0.0, 0.5, 1.0, 1.5] and now[0] == 1.5


def test_a_stopping_bot_interrupts_between_feeds_keeping_what_was_stored(site: Website, store: ArticleStore,
                                                                         state: FetchState) -> None:
    news(site, "/a/1.html", "Ea Rông sơ kết công tác xây dựng Đảng")
    news(site, "/a/2.html", "Krông Sa ra quân làm thủy lợi")
    one = site.page("/one.xml", rss(site.url, [("/a/1.html", "", NOW)]))
    two = site.page("/two.xml", rss(site.url, [("/a/2.html", "", NOW)]))
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if done == 1:
            raise KeyboardInterrupt  # what the reindex worker's stop flag does (Interrupted)

    with client() as http, pytest.raises(KeyboardInterrupt):
        poll(store, state, http, [one, two], progress=progress)
    assert [a.title for a in store.iter_articles()] == ["Ea Rông sơ kết công tác xây dựng Đảng"]
    assert not site.requested("/two.xml") and calls[0] == (0, 2)
