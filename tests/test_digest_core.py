"""Digest commands through the bot's core (what Telegram and the offline console both drive), on a
real store, a real Whoosh index over the bundled samples and a real subscription file."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bantin.articles.ingest import ingest
from bantin.articles.model import VIETNAM_TZ, Article
from bantin.articles.store import ArticleStore
from bantin.bot.chat import Core
from bantin.bot.console.chat import Console
from bantin.bot.digests.build import TopicMatcher, recent_window
from bantin.bot.digests.store import CONSOLE_CHAT, SubscriptionStore
from bantin.bot.render import Renderer
from bantin.bot.reply import Reply
from bantin.bot.search import buttons as cb
from bantin.index.maintenance import update_index
from bantin.index.searcher import SearchIndex
from tests.conftest import SAMPLES
from tests.fake_botapi import parse_telegram_html

NEWS = [("cau", "Khánh thành cầu treo bản Mông"), ("tieu", "Giá hồ tiêu tăng mạnh"),
        ("so", "Hội nghị chuyển đổi số toàn tỉnh"), ("dv", "Kết nạp đảng viên mới ở chi bộ thôn")]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    with ArticleStore(folder / "articles.sqlite") as store:
        ingest(store, [SAMPLES])
        now = datetime.now(UTC)
        with store._db as db:  # the samples are last month's archive; only NEWS is new
            db.execute("UPDATE articles SET first_seen=?", ((now - timedelta(days=30)).isoformat(),))
        store.upsert_many([Article(id=f"moi-{key}", title=title, paragraphs=(f"{title}. Tin trong ngày.",),
                                   url=f"https://baodang.vn/{key}", published=now.astimezone(VIETNAM_TZ))
                           for key, title in NEWS], now=now - timedelta(minutes=10))
        update_index(store, folder / "index")
    return folder


@pytest.fixture
def core(data: Path, tmp_path: Path) -> Iterator[Core]:
    store = ArticleStore(data / "articles.sqlite")
    subs = SubscriptionStore(tmp_path / "bot.sqlite")
    c = Core(store, data / "index", Renderer(), subscriptions=subs, digest_time="07:00", digest_size=3)
    yield c
    c.close()
    subs.close()
    store.close()


def text(reply: Reply) -> str:
    plain, entities = parse_telegram_html(reply.html)
    assert len(plain.encode("utf-16-le")) // 2 <= 4096 and len(entities) <= 100
    for row in reply.buttons:
        for button in row:
            assert button.data is None or len(button.data.encode()) <= 64
    return plain


def datas(reply: Reply) -> dict[str, str]:
    return {b.text: b.data for row in reply.buttons for b in row if b.data}


def backdate(core: Core, chat: int, hours: int = 1) -> None:
    """As if the subscriber had subscribed before the news came in."""
    db = core.subs._db
    db.execute("UPDATE digest_subscribers SET since=? WHERE chat_id=?",
               ((datetime.now(UTC) - timedelta(hours=hours)).isoformat(), chat))
    db.commit()


def test_topics_find_what_the_chat_search_finds(data: Path) -> None:
    """A topic matches an article in the window exactly when the live search (strict) finds it."""
    with ArticleStore(data / "articles.sqlite") as store, SearchIndex.open(data / "index") as index:
        window = recent_window(store, datetime.now(UTC) + timedelta(days=1))
        window = window.__class__(tuple(store.iter_articles()), window.until, window.now)  # samples too
        matcher = TopicMatcher(window)
        for topic in ("cau treo", "ho tieu", "ĐẢNG VIÊN", "chi bo", "nong thon moi", "xyzzy không có"):
            live = index.search(topic, per_page=50)
            found = {hit.id for hit in live.results}
            if live.relaxed:  # fewer than 3 strict matches: they come first, then looser ones we don't want
                assert matcher(topic) <= found and len(matcher(topic)) < 3, topic
            else:
                assert matcher(topic) == found, topic
        assert "moi-cau" in matcher("cau treo") and "moi-tieu" in matcher("ho tieu")


def test_subscribe_preview_and_more(core: Core) -> None:
    reply = core.command("subscribe", "18:30", "vi", chat=1)[0]
    assert "18:30" in text(reply) and "đã đăng ký" in text(reply)
    assert "Chưa có bài mới" in text(core.command("digest", "", "vi", chat=1)[0])  # nothing since subscribing
    backdate(core, 1)
    first = core.command("digest", "", "vi", chat=1)
    shown = text(first[-1])
    assert "4 bài mới" in shown and "Xem trước" in shown and "Hội nghị chuyển đổi số" in shown
    more = next(d for t, d in datas(first[-1]).items() if t.startswith("Xem thêm"))
    result = core.callback(more, "vi", chat=1)
    assert len(result.send) == 1 and "4. " in text(result.send[0]) and "(tiếp)" in text(result.send[0])
    assert core.subs.deliveries(1) == []  # a preview records nothing


def test_topic_subscription_previews_only_matching_news(core: Core) -> None:
    core.command("subscribe", "07:00 ho tieu, cau treo", "en", chat=2)
    backdate(core, 2)
    shown = text(core.command("digest", "", "en", chat=2)[0])
    assert "hồ tiêu" in shown and "cầu treo" in shown and "chuyển đổi số" not in shown and "2 new articles" in shown


def test_settings_buttons_edit_in_place(core: Core) -> None:
    core.command("subscribe", "07:00 đảng viên, hồ tiêu", "vi", chat=3)
    settings = core.command("settings", "", "vi", chat=3)[0]
    assert "đảng viên" in text(settings) and "✓ 07:00" in datas(settings)
    result = core.callback(datas(settings)["18:00"], "vi", chat=3)
    assert result.answer and "18:00" in result.answer and result.edit is not None
    assert "✓ 18:00" in datas(result.edit) and core.subs.get(3).slot == "18:00"  # type: ignore[union-attr]
    result = core.callback(datas(settings)["✕ đảng viên"], "vi", chat=3)
    assert core.subs.get(3).topics == ("hồ tiêu",)  # type: ignore[union-attr]
    stale = core.callback(datas(settings)["✕ đảng viên"], "vi", chat=3)  # index 1 is now "hồ tiêu"
    assert stale.alert and core.subs.get(3).topics == ("hồ tiêu",)  # type: ignore[union-attr]
    core.callback(datas(result.edit)["Nhận mọi tin (bỏ chủ đề)"], "vi", chat=3)  # type: ignore[arg-type]
    assert core.subs.get(3).topics == ()  # type: ignore[union-attr]
    stopped = core.callback(cb.encode(cb.DigestButton("stop")), "vi", chat=3)
    assert not core.subs.get(3).active and stopped.edit is not None  # type: ignore[union-attr]
    assert "🔔 Nhận bản tin" in datas(stopped.edit)
    refused = core.callback(cb.encode(cb.DigestButton("time", "0600")), "vi", chat=3)
    assert refused.alert and core.subs.get(3).slot == "18:00"  # type: ignore[union-attr]
    core.callback(cb.encode(cb.DigestButton("start")), "vi", chat=3)
    assert core.subs.get(3).active  # type: ignore[union-attr]


@pytest.mark.parametrize("forged", ["d|t|2500", "d|x|9:abcdef", "d|m|1|0|5", "d|zz", "d|c|x"])
def test_forged_digest_buttons_get_a_polite_answer(core: Core, forged: str) -> None:
    result = core.callback(forged, "vi", chat=4)
    assert result.alert and result.answer


def test_bad_input_is_explained_in_the_users_language(core: Core) -> None:
    assert "chưa hiểu giờ" in text(core.command("subscribe", "25:99", "vi", chat=5)[0])
    assert "time first" in text(core.command("subscribe", "abc", "en", chat=5)[0])
    long_topic = "chuyển đổi số " * 10
    assert "too long" in text(core.command("subscribe", f"07:00 {long_topic}", "en", chat=5)[0])
    assert core.subs.get(5) is None


def test_the_offline_console_can_subscribe_too(data: Path, tmp_path: Path) -> None:
    store = ArticleStore(data / "articles.sqlite")
    index_root = tmp_path / "index"
    index_root.symlink_to(data / "index")
    core = Core(store, index_root, Renderer())  # as `bantin chat` builds it: no subscription store given
    out = io.StringIO()
    console = Console(core, "vi", out=out)
    console.handle("/subscribe 6h30")
    console.handle("/settings")
    console.handle(f"#{console.labels.index('21:00') + 1}")  # the preset (buttons count across the session)
    core.close()
    store.close()
    assert "06:30" in out.getvalue() and "21:00" in out.getvalue()
    with SubscriptionStore(tmp_path / "bot.sqlite") as subs:
        sub = subs.get(CONSOLE_CHAT)
        assert sub is not None and sub.slot == "21:00"
        assert subs.active() == []  # the console is never broadcast to
