"""The website from the bot's side: settings, `bantin fetch`, and the reindex runner's feed poll
(what `bantin run` schedules every BANTIN_FEED_MINUTES and what `/reindex` includes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bantin.articles.store import ArticleStore
from bantin.bot.newsroom import audit as au
from bantin.bot.newsroom.reindex import FETCH, SCAN, ReindexRunner, Silent
from bantin.bot.settings import Settings, SettingsError, load_settings
from tests.conftest import ROOT
from tests.website import Website, article_html, rss

NOW = datetime.now(UTC).replace(microsecond=0)
BODY = ["Chiều nay, Ban Thường vụ Huyện ủy Krông Sa tổ chức hội nghị giao ban công tác dân vận quý III, "
        "đánh giá kết quả thực hiện phong trào thi đua dân vận khéo ở các xã, thị trấn.",
        "Hội nghị thống nhất tiếp tục nhân rộng các mô hình hiến đất làm đường và chuyển đổi cây trồng."]


@pytest.fixture
def site() -> Iterator[Website]:
    with Website() as web:
        web.page("/tin/1.html", article_html("Krông Sa giao ban công tác dân vận quý III", BODY,
                                             published=NOW.isoformat()))
        web.page("/tin/2.html", b"gone", status=404, content_type="text/plain")
        web.page("/rss", rss(web.url, [("/tin/1.html", "", NOW), ("/tin/2.html", "", NOW)]), etag='"1"')
        yield web


def test_settings() -> None:
    loaded = load_settings({"BANTIN_FEEDS": "https://bao.vn/rss, https://bao.vn/sitemap.xml\nhttps://bao.vn/rss",
                            "BANTIN_FEED_MINUTES": "0.5", "BANTIN_FEED_RATE": "0",
                            "BANTIN_FEED_CONTACT": "mailto:toasoan@bao.vn"})
    assert loaded.feeds == ("https://bao.vn/rss", "https://bao.vn/sitemap.xml")
    assert (loaded.feed_minutes, loaded.feed_rate) == (0.5, 0.0)
    assert loaded.user_agent.startswith("bantin/") and loaded.user_agent.endswith(" (+mailto:toasoan@bao.vn)")
    defaults = load_settings({})
    assert (defaults.feeds, defaults.feed_minutes, defaults.feed_rate) == ((), 15.0, 1.0)
    for var, value in (("BANTIN_FEEDS", "bao.vn/rss"), ("BANTIN_FEED_MINUTES", "0.01"),
                       ("BANTIN_FEED_MINUTES", "-1"), ("BANTIN_FEED_RATE", "100")):
        with pytest.raises(SettingsError, match=var):
            load_settings({var: value})


def test_settings_file_list(tmp_path: Path) -> None:
    config = tmp_path / "bantin.toml"
    config.write_text('feeds = ["https://bao.vn/rss", "https://bao.vn/sitemap.xml"]\nfeed_minutes = 30\n')
    loaded = load_settings({}, config=config)
    assert loaded.feeds == ("https://bao.vn/rss", "https://bao.vn/sitemap.xml") and loaded.feed_minutes == 30


def test_bantin_fetch_once(site: Website, tmp_path: Path) -> None:
    env = {**os.environ, "BANTIN_DATA_DIR": str(tmp_path / "data"), "BANTIN_FEEDS": site.url + "/rss",
           "BANTIN_FEED_ALLOW_PRIVATE": "1",  # the site is on 127.0.0.1
           "BANTIN_FEED_RATE": "0"}
    result = subprocess.run([sys.executable, "-m", "bantin.bot.cli", "fetch", "--once", "--json", "-q"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr  # the 404 page
    summary = json.loads(result.stdout)
    assert summary["added"] == 1 and summary["pages"] == 1 and summary["index"]["added"] == 1
    assert [f["source"] for f in summary["failed"]] == [site.url + "/tin/2.html"]
    found = subprocess.run([sys.executable, "-m", "bantin.bot.cli", "search", "giao ban dan van", "--json"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=120)
    assert json.loads(found.stdout)["results"][0]["url"] == site.url + "/tin/1.html"
    # The failed page is tried again next time (the feed is read in full); the stored one is not.
    site.page("/tin/2.html", article_html("Trang đã được sửa", BODY[::-1], published=NOW.isoformat()))
    for expect in ("thêm mới: 1", "1 không đổi (304)"):
        again = subprocess.run([sys.executable, "-m", "bantin.bot.cli", "fetch", "--once"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0 and expect in again.stdout, again.stdout
    assert len(site.requested("/tin/1.html")) == 1 and len(site.requested("/tin/2.html")) == 2
    without = subprocess.run([sys.executable, "-m", "bantin.bot.cli", "fetch", "--once"], cwd=ROOT,
                             env={**env, "BANTIN_FEEDS": ""}, capture_output=True, text=True, timeout=120)
    assert without.returncode == 2 and "BANTIN_FEEDS" in without.stderr


async def test_runner_polls_the_website_and_reindex_includes_it(site: Website, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.mkdir()
    settings = Settings(data_dir=tmp_path / "data", sources=(src,), feeds=(site.url + "/rss",), feed_rate=0,
                        feed_allow_private=True)  # the site is on 127.0.0.1
    audit = au.AuditLog(settings.state_path)
    runner = ReindexRunner(settings, audit, interval=0.01)
    run, started = runner.start(FETCH, Silent())
    assert started and run.task is not None
    await run.task
    assert run.outcome is not None and run.outcome.result == au.OK
    detail = run.outcome.to_json()
    assert detail["added"] == 1 and detail["failed"] == 1 and detail["fetch"]["pages"] == 1
    assert detail["index"]["added"] == 1
    last = audit.last_reindex()
    assert last is not None and last.action == FETCH and last.user_id is None
    site.page("/tin/2.html", article_html("Trang đã được sửa", BODY[::-1], published=NOW.isoformat()))
    run, _ = runner.start(SCAN, Silent(), user_id=1, user_name="Biên tập")
    await run.task  # type: ignore[misc]
    assert run.outcome is not None and run.outcome.to_json()["added"] == 1  # the feed was read again
    audit.close()
    with ArticleStore(settings.store_path) as store:
        assert store.count() == 2 and store.failure_count() == 0
