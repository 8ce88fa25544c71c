"""The command line's own words, in the operator's language: `templates/<lang>/cli.j2`.

The CLI, like the bot, keeps no user-visible text in its logic; each message is a macro of that
file, so an English-speaking operator (`--lang en`, `BANTIN_LANG=en`) gets whole sentences, not a
Vietnamese summary with English fragments.
"""

from __future__ import annotations

import html
from typing import Any

from bantin.bot.render import LANGUAGES, Renderer


class Messages:
    """`say(name, *args)` → one plain-text message of `templates/<lang>/cli.j2`."""

    def __init__(self, lang: str = "vi", renderer: Renderer | None = None) -> None:
        self.lang = lang if lang in LANGUAGES else "vi"
        self._module = (renderer or Renderer()).env.get_template(f"{self.lang}/cli.j2").module

    def say(self, name: str, /, *args: Any) -> str:
        value = getattr(self._module, name)
        text = value(*args) if callable(value) else value
        # The file is autoescaped like every .j2 template; these words go to a terminal, not Telegram.
        return html.unescape(str(text)).strip()

    def number(self, value: int) -> str:
        return self.say("n", value)

    def os_reason(self, exc: OSError) -> str:
        """An OSError's reason in the CLI's language (the C library's strerror is English)."""
        if isinstance(exc, FileNotFoundError):
            return self.say("os_missing")
        if isinstance(exc, IsADirectoryError):
            return self.say("os_directory")
        if isinstance(exc, PermissionError):
            return self.say("os_permission")
        return f"{self.say('os_other')} ({exc.strerror or exc})"
