"""What editors type for channel digests, who may post where, and the replies they get."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bantin.articles.store import ArticleStore
from bantin.bot.chat import Core
from bantin.bot.digests import channels as ch
from bantin.bot.digests.store import CHANNEL, GROUP, Planned, SubscriptionStore
from bantin.bot.render import fits

T0 = datetime(2024, 5, 1, 1, 0, tzinfo=UTC)
CHAN = ch.ChatInfo(-1001234567890, CHANNEL, "Báo Đảng <xã>", "baodangxa")


@pytest.mark.parametrize(("text", "expected"), [
    ("", ch.ChannelRequest("attach")),
    ("@baodangxa", ch.ChannelRequest("attach", "@baodangxa")),
    ("https://t.me/baodangxa", ch.ChannelRequest("attach", "@baodangxa")),
    ("-1001234567890 18h30", ch.ChannelRequest("attach", -1001234567890, slot="18:30")),
    ("@baodangxa 7:00 đảng viên, chuyển đổi số",
     ch.ChannelRequest("attach", "@baodangxa", slot="07:00", topics=("đảng viên", "chuyển đổi số"))),
    ("18:30 nông thôn mới", ch.ChannelRequest("attach", None, slot="18:30", topics=("nông thôn mới",))),
    ("off @baodangxa", ch.ChannelRequest("off", "@baodangxa")),
    ("@baodangxa off", ch.ChannelRequest("off", "@baodangxa")),
    ("tắt", ch.ChannelRequest("off")),
    ("@baodangxa header Bản tin   Đảng bộ xã\nĐông Lâm",
     ch.ChannelRequest("header", "@baodangxa", text="Bản tin Đảng bộ xã\nĐông Lâm")),
    ("@baodangxa footer off", ch.ChannelRequest("footer", "@baodangxa", text=None)),
    ("@baodangxa silent on", ch.ChannelRequest("silent", "@baodangxa", flag=True)),
    ("@baodangxa im tắt", ch.ChannelRequest("silent", "@baodangxa", flag=False)),
    ("@baodangxa lang EN", ch.ChannelRequest("lang", "@baodangxa", text="en")),
])
def test_channel_arguments(text: str, expected: ch.ChannelRequest) -> None:
    assert ch.parse_channel_command(text) == expected


@pytest.mark.parametrize(("text", "reason"), [
    ("@a!b", "target"),
    ("@abc", "target"),  # Telegram usernames have at least 5 characters
    ("baodangxa", "target"),  # the @ was forgotten
    ("@baodangxa 25:00", "time"),
    ("@baodangxa hôm nay", "format"),
    ("@baodangxa 7:00 a, b, c, d, e, f", "too_many"),
    ("@baodangxa silent maybe", "silent"),
    ("@baodangxa silent", "silent"),
    ("@baodangxa lang fr", "lang"),
    ("@baodangxa header " + "x" * 600, "note_too_long"),
    ("@baodangxa footer " + "\n".join("dòng" for _ in range(6)), "note_too_long"),
    ("off @baodangxa now", "usage"),
    ("x" * 2000, "command_too_long"),
    ("@baodangxa header", "note_empty"),  # never a silent erase
    ("@baodangxa footer   ", "note_empty"),
])
def test_bad_channel_arguments_say_why(text: str, reason: str) -> None:
    with pytest.raises(ch.BadChannel) as info:
        ch.parse_channel_command(text)
    assert info.value.reason == reason


@given(st.text(max_size=300))
def test_no_input_crashes_the_parser(text: str) -> None:
    try:
        request = ch.parse_channel_command(text)
    except ch.BadChannel as exc:
        assert exc.reason
        return
    assert request.action in {"attach", "off", "header", "footer", "silent", "lang"}
    assert request.target is None or isinstance(request.target, int) or request.target.startswith("@")
    ch.target_in(text)  # /digest's own check never raises either


def test_digest_targets() -> None:
    assert ch.target_in("@baodangxa") == "@baodangxa" and ch.target_in("-100123456") == -100123456
    assert ch.target_in("") is None and ch.target_in("@a!") is None and ch.target_in("@baodangxa more") is None


@pytest.mark.parametrize(("inspection", "reason"), [
    (ch.Inspection(None, None, "not_found"), "not_found"),
    (ch.Inspection(None, None, "not_member"), "not_member"),
    (ch.Inspection(ch.ChatInfo(42, "private", "Lan")), "private"),
    (ch.Inspection(CHAN, None, "not_member"), "not_member"),
    (ch.Inspection(CHAN, ch.BotRights("left", False)), "not_member"),
    (ch.Inspection(CHAN, ch.BotRights("member", False)), "not_admin"),
    (ch.Inspection(CHAN, ch.BotRights("administrator", False)), "cannot_post"),
    (ch.Inspection(CHAN, ch.BotRights("administrator", True)), None),
    (ch.Inspection(CHAN, ch.BotRights("creator", True)), None),
    (ch.Inspection(ch.ChatInfo(-5, GROUP, "Tổ dân phố 3"), ch.BotRights("member", True)), None),
    (ch.Inspection(ch.ChatInfo(-5, GROUP, "Tổ dân phố 3"), ch.BotRights("restricted", False)), "cannot_post"),
    (ch.Inspection(ch.ChatInfo(-5, GROUP, "Tổ dân phố 3"), ch.BotRights("kicked", False)), "not_member"),
])
def test_who_may_post_where(inspection: ch.Inspection, reason: str | None) -> None:
    assert ch.refusal(inspection) == reason


def test_only_changing_digest_buttons_need_a_group_admin() -> None:
    assert ch.changes_digest("d|t|0700") and ch.changes_digest("d|u") and ch.changes_digest("d|s")
    assert not ch.changes_digest("d|g") and not ch.changes_digest("d|p") and not ch.changes_digest("s|2|r|x")
    assert not ch.changes_digest(None) and not ch.changes_digest("garbage")


# -- replies ---------------------------------------------------------------------------------------------


@pytest.fixture
def board(tmp_path: Path) -> Iterator[ch.Channels]:
    with ArticleStore(tmp_path / "data" / "articles.sqlite") as store, \
            SubscriptionStore(tmp_path / "data" / "bot.sqlite") as subs:
        core = Core(store, tmp_path / "data" / "index", subscriptions=subs, bot_username="bantin_bot",
                    clock=lambda: T0)
        yield ch.Channels(core)


HOA = ch.Editor(5501, "Hoa")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_attach_then_options_then_list_then_stop(board: ch.Channels, lang: str) -> None:
    reply = board.attach(CHAN, ch.parse_channel_command("@baodangxa 18:30 đảng viên"), lang, HOA)
    assert "Báo Đảng &lt;xã&gt;" in reply.html and "18:30" in reply.html and "đảng viên" in reply.html
    sub = board.core.subs.get(CHAN.id)
    assert sub is not None and sub.lang == "vi" and sub.added_by == HOA.id and sub.report_chat == HOA.id
    reply = board.set_option(sub, ch.parse_channel_command("@baodangxa header <b>Bản tin</b> & xã"), lang)
    assert "&lt;b&gt;Bản tin&lt;/b&gt; &amp; xã" in reply.html  # the editor's text is escaped
    board.set_option(sub, ch.parse_channel_command("@baodangxa silent on"), lang)
    board.core.subs.plan([Planned(CHAN.id, "2024-05-01T07:00", (), 0, T0)], now=T0)
    listing = board.listing(lang).html
    assert "@baodangxa" in listing and "18:30" in listing and "Hoa" in listing and fits(listing)
    assert ("không có bài mới" if lang == "vi" else "nothing new") in listing
    stopped = board.stop(board.core.subs.get(CHAN.id), lang, HOA)  # type: ignore[arg-type]
    assert "🔕" in stopped.html and not board.core.subs.get(CHAN.id).active  # type: ignore[union-attr]
    assert "⏸" in board.listing(lang).html


def test_re_attaching_keeps_the_forum_topic_unless_sent_from_the_group(board: ch.Channels) -> None:
    forum = ch.ChatInfo(-1009, GROUP, "Cán bộ xã", None, is_forum=True)
    board.attach(forum, ch.ChannelRequest("attach"), "vi", HOA, thread_id=7, here=True)
    assert board.core.subs.get(forum.id).thread_id == 7  # type: ignore[union-attr]
    board.attach(forum, ch.ChannelRequest("attach", forum.id, slot="08:00"), "vi", HOA, thread_id=None)
    sub = board.core.subs.get(forum.id)
    assert sub is not None and sub.thread_id == 7 and sub.slot == "08:00"


def test_resuming_a_stopped_digest_keeps_its_time_and_language(board: ch.Channels) -> None:
    """Bug: `/channel @name` after `off` went back to the default time; a group admin's
    /subscribe or settings button switched the group's digest to their own Telegram language."""
    board.attach(CHAN, ch.parse_channel_command("@baodangxa 18:30 đảng viên"), "vi", HOA)
    board.set_option(board.core.subs.get(CHAN.id), ch.parse_channel_command("@baodangxa lang en"), "vi")  # type: ignore[arg-type]
    board.stop(board.core.subs.get(CHAN.id), "vi", HOA)  # type: ignore[arg-type]
    board.attach(CHAN, ch.parse_channel_command("@baodangxa"), "vi", HOA)
    sub = board.core.subs.get(CHAN.id)
    assert sub is not None and sub.active and sub.slot == "18:30" and sub.lang == "en"
    board.core.subs.subscribe(CHAN.id, lang="vi", slot="19:00", topics=None, now=T0)  # e.g. a settings button
    sub = board.core.subs.get(CHAN.id)
    assert sub is not None and sub.slot == "19:00" and sub.lang == "en"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_stop_reasons_are_words_in_the_readers_language(board: ch.Channels, lang: str) -> None:
    board.attach(CHAN, ch.parse_channel_command("@baodangxa"), "vi", HOA)
    board.core.subs.deactivate(CHAN.id, "removed:kicked", now=T0)
    listing = board.listing(lang).html
    assert ("bot đã bị gỡ khỏi đó" if lang == "vi" else "the bot was removed") in listing
    assert "removed:kicked" not in listing


def test_a_long_list_is_cut_to_fit_one_message(board: ch.Channels) -> None:
    for n in range(60):
        info = ch.ChatInfo(-1000000 - n, CHANNEL, "Kênh tin tức xã phường thị trấn số " + str(n) * 5, f"kenh_{n:03d}")
        board.attach(info, ch.parse_channel_command("7:00 đảng viên, chuyển đổi số, nông thôn mới"), "vi", HOA)
    html = board.listing("vi").html
    assert fits(html) and "kênh, nhóm khác" in html


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_refusal_and_usage_renders(board: ch.Channels, lang: str) -> None:
    for reason in ("not_found", "private", "not_member", "not_admin", "cannot_post"):
        html = board.refused(lang, reason, "@baodangxa", CHAN).html
        assert "❌" in html and fits(html)
    for reason in (None, "target", "time", "format", "too_many", "too_long", "no_words", "silent", "lang",
                   "note_too_long", "note_empty", "command_too_long", "usage"):
        assert "/channel" in board.usage(lang, reason, "x").html
    sub = board.core.subs.subscribe(CHAN.id, lang="vi", slot="07:00", topics=(), now=T0 - timedelta(days=1))[0]
    from bantin.bot.digests.broadcast import RunReport

    for report in (None, RunReport(busy=True), RunReport(blocked=1), RunReport(failed=1),
                   RunReport(revised=1, delivered=1, messages=2, edited=1, deleted=1),
                   RunReport(planned=1, delivered=1, messages=1), RunReport(unchanged=1), RunReport(empty=1),
                   RunReport(retry_later=1), RunReport()):
        assert board.forced(lang, sub, report).html


def test_the_per_group_pace_is_a_setting() -> None:
    from bantin.bot.settings import SettingsError, load_settings

    assert load_settings({}, config=Path("/nonexistent")).group_rate == 20
    assert load_settings({"BANTIN_GROUP_RATE": "10"}, config=Path("/nonexistent")).group_rate == 10
    for bad in ("0", "21", "abc"):
        with pytest.raises(SettingsError, match="BANTIN_GROUP_RATE"):
            load_settings({"BANTIN_GROUP_RATE": bad}, config=Path("/nonexistent"))
