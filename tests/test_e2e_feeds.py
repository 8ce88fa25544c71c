"""Done-when of "follow the newspaper itself": a fresh install pointed at a local test site by
BANTIN_FEEDS finds the site's newest article in search within one poll interval, and sends it in
the next digest. The real `bantin run` against the fake Bot API, the site on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from bantin.bot.clock import VIETNAM
from tests.e2e import plain, running_bot
from tests.fake_botapi import FakeBotAPI
from tests.test_e2e_digest import digest, far_slot, sent_to
from tests.website import Website, article_html, rss

pytestmark = pytest.mark.e2e
POLL_MINUTES = 0.1  # 6 s
BODY = "Sáng nay, {0}. Đây là tin do phóng viên báo gửi về từ cơ sở, đăng trên trang web của báo."


@pytest.fixture
def site() -> Iterator[Website]:
    with Website() as web:
        yield web


def publish(site: Website, items: list[tuple[str, str, datetime]]) -> None:
    """The site's articles and its feed (newest first), as a CMS would serve them."""
    for path, title, when in items:
        site.page(path, article_html(title, [BODY.format(title.lower()), "Hội nghị diễn ra trong một buổi sáng."],
                                     published=when.isoformat(), canonical=site.url + path))
    site.page("/rss", rss(site.url, list(reversed(items))), content_type="application/rss+xml",
              etag=f'"{len(items)}"')


def search(fake: FakeBotAPI, chat: int, words: str) -> str:
    since = len(fake.requests)
    fake.send_text(chat, words)
    return plain(fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, since=since)[0])


def test_fresh_install_follows_the_website_into_search_and_the_digest(fake: FakeBotAPI, site: Website,
                                                                      tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    data = tmp_path / "data"
    data.mkdir()  # fresh: an empty folder, no store, no index
    first = ("/tin/1.html", "Ea Rông khánh thành nhà văn hóa buôn Tơng Jú", datetime.now(VIETNAM))
    publish(site, [first])
    reader, subscriber = 7101, 7102
    with running_bot(fake, data, BANTIN_FEEDS=site.url + "/rss", BANTIN_FEED_MINUTES=str(POLL_MINUTES),
                     BANTIN_FEED_ALLOW_PRIVATE="1",  # the site is on 127.0.0.1
                     BANTIN_SOURCES=str(tmp_path / "empty")):
        deadline = time.monotonic() + 60
        while "Tơng Jú" not in (text := search(fake, reader, "nha van hoa tong ju")):  # the first poll
            assert time.monotonic() < deadline, text
            time.sleep(3)  # within the per-user search rate limit
        fake.send_text(subscriber, f"/subscribe {far_slot()}")
        fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == subscriber)

        publish(site, [first, ("/tin/2.html", "Krông Sa tổng kết mùa cà phê bội thu", datetime.now(VIETNAM))])
        published_at = time.monotonic()
        while "bội thu" not in (text := search(fake, reader, "ca phe boi thu")):
            # one poll interval, plus the page fetch at one request a second and the index update
            assert time.monotonic() - published_at < POLL_MINUTES * 60 + 30, text
            time.sleep(3)
        assert "Krông Sa tổng kết mùa cà phê bội thu" in text

        result = digest(fake, data, "--now", "--chat", str(subscriber))
        assert result.returncode == 0, result.stderr
        sent = sent_to(fake, subscriber)[-1]
        assert "Krông Sa tổng kết mùa cà phê bội thu" in sent and "Tơng Jú" not in sent  # only what is new
        assert fake.violations == []
    hits = [h for h in site.hits if h.path == "/tin/1.html"]
    assert len(hits) == 1  # fetched once, however many polls
    assert all(h.headers["User-Agent"].startswith("bantin/") for h in site.hits)
