"""Chat faults a newcomer met (issue 13): /help, /about's time zone, the digest preview's dates
and closing line, the console's editor mode and buttons, and `digest --dry-run` for the console."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bantin.articles.model import VIETNAM_TZ, Article
from bantin.articles.store import ArticleStore
from bantin.bot.chat import Core
from bantin.bot.cli import main
from bantin.bot.console.chat import Console, run_console
from bantin.bot.console.editor import EditorConsole
from bantin.bot.digests.store import CONSOLE_CHAT, SubscriptionStore
from bantin.bot.render import Renderer
from bantin.bot.reply import Reply
from bantin.bot.settings import load_settings
from bantin.index.maintenance import update_index
from tests.fake_botapi import parse_telegram_html


def text(reply: Reply) -> str:
    return parse_telegram_html(reply.html)[0]


@pytest.fixture
def core(data: Path) -> Iterator[Core]:
    """The samples (an old archive) plus two articles ingested ten minutes ago, one undated."""
    store = ArticleStore(data / "articles.sqlite")
    now = datetime.now(UTC)
    store.upsert_many([
        Article(id="co-ngay", title="Khánh thành cầu treo bản Mông", paragraphs=("Tin trong ngày.",),
                published=now.astimezone(VIETNAM_TZ) - timedelta(hours=30)),
        Article(id="khong-ngay", title="Thông báo lịch tiếp dân", paragraphs=("Không ghi ngày đăng.",)),
    ], now=now - timedelta(minutes=10))
    update_index(store, data / "index")
    subs = SubscriptionStore(data / "bot.sqlite")
    c = Core(store, data / "index", Renderer(), subscriptions=subs, digest_size=5)
    yield c
    c.close()
    subs.close()
    store.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_help_lists_the_digest_commands(core: Core, lang: str) -> None:
    help_text = text(core.command("help", "", lang)[0])
    for command in ("/subscribe", "/settings", "/digest", "/unsubscribe", "/latest", "/about"):
        assert command in help_text, command


def test_about_shows_the_last_update_in_vietnam_time(core: Core) -> None:
    newest = core.store.first_seen_newest()
    assert newest is not None
    about = text(core.command("about", "", "vi")[0])
    assert newest.astimezone(VIETNAM_TZ).strftime("%d/%m/%Y %H:%M") in about
    assert newest.astimezone(UTC).strftime("%d/%m/%Y %H:%M") not in about


def test_the_preview_gives_no_date_to_an_undated_article(core: Core) -> None:
    preview = "\n".join(text(r) for r in core.command("digest", "", "vi", chat=5))
    lines = preview.splitlines()
    at = next(i for i, line in enumerate(lines) if "Thông báo lịch tiếp dân" in line)
    following = "\n".join(lines[at + 1 : at + 3])
    assert "🗓" not in following, following  # it used to show the ingest time as if published then
    at = next(i for i, line in enumerate(lines) if "Khánh thành" in line)
    assert "🗓" in "\n".join(lines[at + 1 : at + 3])


def test_the_preview_after_unsubscribing_says_the_digest_is_stopped(core: Core) -> None:
    core.command("subscribe", "07:00", "vi", chat=5)
    core.command("unsubscribe", "", "vi", chat=5)
    last = text(core.command("digest", "", "vi", chat=5)[-1])
    assert "vẫn gửi như thường" not in last and "ngừng nhận" in last
    last = text(core.command("digest", "", "en", chat=5)[-1])
    assert "as usual" not in last and "stopped" in last
    never = text(core.command("digest", "", "vi", chat=6)[-1])
    assert "vẫn gửi như thường" not in never and "chưa đăng ký" in never


def test_console_buttons_of_earlier_messages_still_work(core: Core) -> None:
    out = io.StringIO()
    console = Console(core, "vi", out)
    console.handle("xã")
    page_two = next(n for n, (d, _) in enumerate(console.buttons, 1) if d.startswith("s|2|"))
    console.handle("/latest")
    console.handle("/settings")
    assert len(console.buttons) > page_two  # numbers go on across messages
    console.handle(f"#{page_two}")
    assert "trang 2/" in out.getvalue()


def test_console_editor_mode_runs_the_editors_commands(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings({"BANTIN_DATA_DIR": str(data)})
    store = ArticleStore(settings.store_path)
    core = Core(store, settings.index_root, Renderer())
    plain = Console(core, "vi", io.StringIO())
    plain.handle("/stats")
    assert "không hiểu" in plain.out.getvalue() or "/stats" in plain.out.getvalue()
    out = io.StringIO()
    editor = EditorConsole(settings, core)
    console = Console(core, "en", out, editor=editor)
    try:
        console.handle("/stats")
        assert "24" in out.getvalue() and "Articles" in out.getvalue()
        console.handle("/reindex")
        shown = out.getvalue()
        assert "added" in shown.lower() or "unchanged" in shown.lower(), shown
        console.handle("/failed")
        reindex_button = next(n for n, label in enumerate(console.labels, 1) if "🔄" in label)
        console.handle(f"#{reindex_button}")
        assert out.getvalue().lower().count("unchanged: 24") >= 2
    finally:
        editor.close()
        core.close()
        store.close()


def test_bantin_chat_editor(data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BANTIN_DATA_DIR", str(data))
    monkeypatch.setattr("sys.stdin", io.StringIO("/stats\n"))
    assert main(["chat", "--editor", "--lang", "en"]) == 0
    assert "Articles" in capsys.readouterr().out
    settings = load_settings({"BANTIN_DATA_DIR": str(data)})
    assert run_console(settings, stdin=io.StringIO("/stats\n")) == 0
    assert "Articles" not in capsys.readouterr().out


def test_dry_run_now_shows_the_consoles_own_digest(core: Core, data: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    core.command("subscribe", "07:00", "vi")  # the console's chat
    core.command("subscribe", "07:00", "vi", chat=5)
    with core.subs._db as db:  # both subscribed yesterday: the two new articles are theirs
        db.execute("UPDATE digest_subscribers SET since=?", ((datetime.now(UTC) - timedelta(days=1)).isoformat(),))
    monkeypatch.setenv("BANTIN_DATA_DIR", str(data))
    monkeypatch.delenv("BANTIN_TOKEN", raising=False)
    assert main(["digest", "--dry-run", "--now"]) == 0
    out = capsys.readouterr().out
    assert f"── chat {CONSOLE_CHAT} (bảng trò chuyện ngoại tuyến)" in out and "── chat 5 " in out
    with SubscriptionStore(data / "bot.sqlite") as subs:
        assert [s.chat_id for s in subs.active()] == [5]  # broadcasts still leave the console out
