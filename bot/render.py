"""Jinja2 rendering of every user-facing message, and fitting text into Telegram's limits.

Templates live in `templates/<lang>/`; HTML autoescape is on for every template, so a title with
`<` or `&` can never break Telegram's HTML parse mode.
"""

from __future__ import annotations

import html
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LANGUAGES = ("vi", "en")
#: Telegram's limit is 4096 UTF-16 code units after entity parsing; keep a margin.
MAX_MESSAGE = 4000
MAX_ENTITIES = 100
_TAG = re.compile(r"<(/?)([a-z-]+)[^>]*>")


def language_of(code: str | None) -> str:
    """Vietnamese by default; English for users whose Telegram speaks English."""
    return "en" if code and code.lower().startswith("en") else "vi"


def number(value: int | float, lang: str, decimals: int = 0) -> str:
    """1234567 → '1.234.567' (vi) or '1,234,567' (en); decimals with ',' in Vietnamese."""
    text = f"{value:,.{decimals}f}"
    if lang == "vi":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def vndate(value: date | datetime | None, with_time: bool = True) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M") if with_time else value.strftime("%d/%m/%Y")
    return value.strftime("%d/%m/%Y")


class Renderer:
    """Renders `templates/<lang>/<name>` and exposes the label macros of `labels.j2`."""

    def __init__(self, root: Path = TEMPLATES) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(root)),
            # Everything is Telegram HTML but the `.txt` files users download (bot.reading).
            autoescape=select_autoescape(disabled_extensions=("txt",), default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["vndate"] = vndate
        self._labels = {lang: self.env.get_template(f"{lang}/labels.j2").module for lang in LANGUAGES}

    def render(self, lang: str, template: str, /, **context: Any) -> str:
        text = self.env.get_template(f"{lang}/{template}.html").render(**context)
        return _tidy(text)

    def render_text(self, lang: str, template: str, /, **context: Any) -> str:
        """A plain-text file's content from `templates/<lang>/<name>.txt` (not escaped)."""
        return _tidy(self.env.get_template(f"{lang}/{template}.txt").render(**context)) + "\n"

    def label(self, lang: str, name: str, /, *args: Any) -> str:
        """A short plain-text label (buttons, callback answers, command menu)."""
        value = getattr(self._labels[lang], name)
        text = value(*args) if callable(value) else value
        return html.unescape(str(text)).strip()


def _tidy(text: str) -> str:
    """Templates are written for readability; collapse the blank lines they leave behind."""
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def safe(html_text: str) -> Markup:
    """Mark HTML produced by our own code (the index's snippets) as already escaped."""
    return Markup(html_text)


def plain_length(html_text: str) -> int:
    """Length Telegram counts: UTF-16 code units of the text after entity parsing."""
    plain = html.unescape(_TAG.sub("", html_text))
    return len(plain.encode("utf-16-le")) // 2


def entity_count(html_text: str) -> int:
    return sum(1 for m in _TAG.finditer(html_text) if not m.group(1))


def fits(html_text: str) -> bool:
    return plain_length(html_text) <= MAX_MESSAGE and entity_count(html_text) <= MAX_ENTITIES


def strip_bold(html_text: str) -> str:
    """Drop <b> highlighting: the fallback when a page would exceed 100 entities."""
    return html_text.replace("<b>", "").replace("</b>", "")

