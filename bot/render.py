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
_TAG_OR_TEXT = re.compile(r"<(/?)([a-z-]+)([^>]*)>|[^<]+")
_HREF = re.compile(r'href="([^"]*)"')
#: The formatting entities Telegram makes of our tags (auto-detected ones, e.g. bot_command, aside).
ENTITY_TYPES = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
                "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "code": "code",
                "pre": "pre", "a": "text_link", "tg-spoiler": "spoiler", "blockquote": "blockquote"}
Entity = tuple[str, int, int, str | None]  # type, offset and length in UTF-16 units, url


def language_of(code: str | None) -> str:
    """Vietnamese by default; English for users whose Telegram speaks English."""
    return "en" if code and code.lower().startswith("en") else "vi"


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



def telegram_view(html_text: str) -> tuple[str, tuple[Entity, ...]]:
    """The text and formatting entities a message shows after Telegram parses our HTML (and trims
    the text's ends): what an edit would change, so an identical one can be skipped. Our own
    HTML only (autoescaped templates), not a general parser."""
    parts: list[str] = []
    units = 0
    opened: list[tuple[str, int, str | None]] = []
    entities: list[Entity] = []
    for match in _TAG_OR_TEXT.finditer(html_text):
        closing, name, attributes = match.groups()
        if name is None:
            chunk = html.unescape(match.group(0))
            parts.append(chunk)
            units += _units(chunk)
        elif not closing:
            href = _HREF.search(attributes or "")
            opened.append((name, units, html.unescape(href.group(1)) if href and name == "a" else None))
        elif opened:
            tag, start, url = opened.pop()
            if units > start and tag in ENTITY_TYPES:
                entities.append((ENTITY_TYPES[tag], start, units - start, url))
    text = "".join(parts)
    shift = _units(text) - _units(text.lstrip())
    text = text.strip()
    end = _units(text)
    trimmed = []
    for kind, start, length, url in entities:
        first, last = max(start - shift, 0), min(start - shift + length, end)
        if last > first:
            trimmed.append((kind, first, last - first, url))
    return text, tuple(sorted(trimmed, key=lambda e: (e[1], -e[2], e[0])))


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
