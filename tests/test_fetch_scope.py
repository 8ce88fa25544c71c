"""The fetcher stays on the newspaper's own public sites: a feed, sitemap or redirect pointing at
another host or an internal address is refused before any request, and a page cannot pick
another host's canonical URL (its id and link). httpx.MockTransport plays the Internet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bantin.articles.store import ArticleStore
from bantin.articles.web.client import ClientConfig, PoliteClient
from bantin.articles.web.fetch import poll
from bantin.articles.web.scope import Refused, Scope, registrable
from bantin.articles.web.state import FetchState
from bantin.articles.webpage import page_url_id, parse_webpage
from bantin.bot.newsroom.feeds import client_config
from bantin.bot.settings import load_settings
from tests.website import Website, article_html, rss

NOW = datetime.now(UTC).replace(microsecond=0)
UA = "bantin/test"
PUBLIC = "93.184.216.34"
DNS = {"bao.vn": [PUBLIC], "www.bao.vn": [PUBLIC], "evil.vn": [PUBLIC], "noi-bo.bao.vn": ["10.0.0.5"],
       "hai-mat.bao.vn": [PUBLIC, "127.0.0.1"]}
BODY = ["Sáng nay, Đảng ủy xã Ea Rông tổ chức hội nghị sơ kết công tác xây dựng Đảng sáu tháng đầu năm, "
        "với sự tham gia của hơn một trăm đảng viên đến từ các chi bộ thôn, buôn trong xã.",
        "Hội nghị đã biểu dương 12 chi bộ hoàn thành xuất sắc nhiệm vụ và đề ra các giải pháp."]


def resolve(host: str, port: int) -> list[str]:
    if host not in DNS:
        raise OSError("no such host")
    return DNS[host]


class Internet:
    """URL → response; every request is logged."""

    def __init__(self, routes: dict[str, httpx.Response]) -> None:
        self.routes = routes
        self.requested: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requested.append(url)
        return self.routes.get(url, httpx.Response(404))

    def hosts(self) -> set[str]:
        return {httpx.URL(u).host for u in self.requested}


def html(title: str, canonical: str | None = None) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/html; charset=utf-8"},
                          content=article_html(title, BODY, published=NOW.isoformat(), canonical=canonical))


def moved(to: str) -> httpx.Response:
    return httpx.Response(302, headers={"location": to})


@pytest.fixture
def state(tmp_path: Path) -> Iterator[FetchState]:
    with FetchState(tmp_path / "data" / "feeds.sqlite") as s:
        yield s


def run(store: ArticleStore, state: FetchState, internet: Internet, feeds: list[str]):  # type: ignore[no-untyped-def]
    config = ClientConfig(user_agent=UA, per_host_rate=0.0, retries=0, allow_private=False)
    with PoliteClient(config, transport=httpx.MockTransport(internet), resolve=resolve) as client:
        return poll(store, state, client, feeds)


def test_feed_entries_and_redirects_to_internal_or_foreign_hosts_are_refused(
    store: ArticleStore, state: FetchState
) -> None:
    entries = ["http://10.0.0.5/admin", "https://bao.vn/tin/1", "https://noi-bo.bao.vn/tin/2",
               "https://hai-mat.bao.vn/tin/3", "https://evil.vn/tin/4", "http://bao.vn:9000/tin/5"]
    feed = "https://bao.vn/rss"
    internet = Internet({
        feed: httpx.Response(200, content=rss("", [(e, "Tin", NOW) for e in entries]).encode(),
                             headers={"content-type": "application/rss+xml"}),
        "https://bao.vn/tin/1": moved("http://127.0.0.1:9000/"),
        "http://10.0.0.5/admin": html("Bảng điều khiển nội bộ"),
        "http://127.0.0.1:9000/": html("Dịch vụ nội bộ"),
    })
    report = run(store, state, internet, [feed])
    assert internet.hosts() == {"bao.vn"}  # the feed, robots.txt and /tin/1 (whose redirect is refused)
    assert not any(":9000" in u for u in internet.requested)
    assert report.added == 0 and store.count() == 0
    assert report.refused == len(entries)
    assert len(report.failed) == 1 and len(store.failures()) == 1  # counted once, not one per URL
    reason = report.failed[0][1]
    assert "10.0.0.5" not in reason and "127.0.0.1" not in reason and "9000" not in reason
    assert "không tải" in reason and f"{len(entries) - 1}" in reason


def test_a_dns_failure_on_the_site_is_a_transient_failure_not_a_refusal(store: ArticleStore, state: FetchState) -> None:
    feed = "https://bao.vn/rss"
    listing = rss("", [("https://mat-dns.bao.vn/tin/1", "Tin", NOW)]).encode()
    internet = Internet({feed: httpx.Response(200, content=listing)})
    report = run(store, state, internet, [feed])
    assert report.refused == 0 and [w for w, _ in report.failed] == ["https://mat-dns.bao.vn/tin/1"]
    assert "không tìm thấy máy chủ" in report.failed[0][1]
    assert state.validators(feed) == (None, None)  # the feed is read in full again next time: the page is retried


def test_a_canonical_url_on_another_host_is_ignored(store: ArticleStore, state: FetchState) -> None:
    feed = "https://www.bao.vn/rss"
    page = "https://www.bao.vn/tin/1.html"
    internet = Internet({
        feed: httpx.Response(200, content=rss("", [(page, "Tin", NOW)]).encode()),
        page: html("Ea Rông sơ kết công tác xây dựng Đảng", canonical="https://bao.vn/tin/khac.html"),
    })
    report = run(store, state, internet, [feed])
    assert report.added == 1 and report.failed == []
    [article] = list(store.iter_articles())
    assert article.url == page and article.id == page_url_id(page)


def test_parse_webpage_keeps_a_canonical_only_on_the_page_host() -> None:
    body = article_html("Tiêu đề bài", BODY, published=NOW.isoformat(), canonical="https://bao.vn/tin/that.html")
    same = parse_webpage(body.encode(), url="https://bao.vn/tin/that.html?utm_source=rss")
    assert same.url == "https://bao.vn/tin/that.html"
    other = parse_webpage(body.encode(), url="https://evil.vn/copy")
    assert other.url == "https://evil.vn/copy" and other.id == page_url_id("https://evil.vn/copy")


def test_a_local_site_is_refused_unless_private_addresses_are_allowed(
    store: ArticleStore, state: FetchState
) -> None:
    assert ClientConfig(user_agent=UA).allow_private is False
    with Website() as site:
        site.page("/tin/1.html", article_html("Tin trên máy nội bộ", BODY, published=NOW.isoformat()))
        site.page("/rss", rss(site.url, [("/tin/1.html", "Tin", NOW)]))
        with PoliteClient(ClientConfig(user_agent=UA, per_host_rate=0.0)) as client:
            refused = poll(store, state, client, [site.url + "/rss"])
        assert site.hits == [] and store.count() == 0 and refused.failed[0][1] == "địa chỉ thuộc mạng nội bộ, không tải"
        with PoliteClient(ClientConfig(user_agent=UA, per_host_rate=0.0, allow_private=True)) as client:
            allowed = poll(store, state, client, [site.url + "/rss"])
        assert allowed.added == 1 and allowed.failed == []


def test_scope_of_the_feeds() -> None:
    scope = Scope.of_feeds(["https://www.baosonnguyen.vn/rss", "https://tinhuy.sonnguyen.gov.vn/sitemap.xml"])
    for ok in ("https://baosonnguyen.vn/a", "http://m.baosonnguyen.vn/b", "https://www.baosonnguyen.vn:443/c",
               "https://sonnguyen.gov.vn/d", "https://www.sonnguyen.gov.vn/e"):
        scope.check(ok)
    for bad in ("https://gov.vn/x", "https://other.gov.vn/x", "https://baosonnguyen.vn.evil.vn/x",
                "https://xbaosonnguyen.vn/x", "https://baosonnguyen.vn:8080/x", "http://10.0.0.5/x", "file:///etc/passwd"):
        with pytest.raises(Refused):
            scope.check(bad)
    assert registrable("www.bao.com.vn") == "bao.com.vn" and registrable("127.0.0.1") == "127.0.0.1"


@given(st.from_regex(r"[a-z0-9-]{1,12}(\.[a-z0-9-]{1,12}){0,3}", fullmatch=True))
def test_scope_never_admits_a_host_outside_the_feed_site(host: str) -> None:
    scope = Scope.of_feeds(["https://www.bao.vn/rss"])
    try:
        scope.check(f"https://{host}/x")
    except Refused:
        assert host != "bao.vn" and not host.endswith(".bao.vn")
    else:
        assert host == "bao.vn" or host.endswith(".bao.vn")


def test_the_setting_reaches_the_client(tmp_path: Path) -> None:
    """BANTIN_FEED_ALLOW_PRIVATE is a setting like the others (environment or bantin.toml), off by default."""
    assert client_config(load_settings({})).allow_private is False
    assert client_config(load_settings({"BANTIN_FEED_ALLOW_PRIVATE": "1"})).allow_private is True
    toml = tmp_path / "bantin.toml"
    toml.write_text("feed_allow_private = true\n")
    assert client_config(load_settings({}, config=toml)).allow_private is True
