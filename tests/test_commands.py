"""The command table (bot/commands.py) drives routing, menus, editor checks and the rate limit:
every entry must have an answer in its room and a menu label in both languages."""

from __future__ import annotations

import pytest

from bantin.bot import commands
from bantin.bot.chat import CHAT_ANSWERS, Core
from bantin.bot.commands import COMMANDS, Limit, Menu, Room
from bantin.bot.render import LANGUAGES, Renderer
from bantin.bot.telegram.newsroom import NEWSROOM


def test_names_and_aliases_are_unique_lowercase_command_names() -> None:
    names = [name for command in COMMANDS for name in command.names]
    assert len(names) == len(set(names))
    assert all(name.isascii() and name.islower() and name.replace("_", "").isalnum() for name in names)


def test_every_entry_has_an_answer_in_its_room() -> None:
    assert set(CHAT_ANSWERS) == {c.name for c in COMMANDS if c.room is Room.CHAT}
    assert set(NEWSROOM) == {c.name for c in COMMANDS if c.room is Room.NEWSROOM}
    assert all(c.editor_only == (c.room is Room.NEWSROOM) for c in COMMANDS)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_menu_entry_has_a_label(lang: str) -> None:
    renderer = Renderer()
    for name in (*commands.menu(Menu.PUBLIC), *commands.menu(Menu.EDITOR)):
        label = renderer.label(lang, f"cmd_{name}")
        assert label and f"cmd_{name}" not in label


def test_menus_keep_their_order() -> None:
    assert commands.menu(Menu.PUBLIC) == ("search", "latest", "subscribe", "settings", "help", "about")
    assert commands.menu(Menu.EDITOR) == ("reindex", "failed", "stats", "channels", "channel")


def test_aliases_find_their_command() -> None:
    assert commands.find("timkiem") is commands.find("tim") is commands.find("search")
    assert commands.find("moi") is commands.find("latest")
    assert commands.find("xem_abc") is None


def test_turns() -> None:
    search, help_ = commands.find("search"), commands.find("help")
    assert search is not None and help_ is not None
    assert search.takes_turn("cau treo") and not search.takes_turn("  ")
    assert not help_.takes_turn("anything") and help_.limit is Limit.HINT
    assert commands.UNLISTED.takes_turn("")  # /xem_<id> and unknown commands


def test_every_alias_gets_the_same_reply(core: Core) -> None:
    for command in COMMANDS:
        if command.room is Room.CHAT and command.name != "start":
            replies = {tuple(r.html for r in core.command(name, "cau treo", "vi")) for name in command.names}
            assert len(replies) == 1, command
