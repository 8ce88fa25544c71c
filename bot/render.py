"""Jinja2 rendering of every user-facing message, and fitting text into Telegram's limits.

Templates live in `templates/<lang>/`; HTML autoescape is on for every template, so a title with
`<` or `&` can never break Telegram's HTML parse mode.
"""

from __future__ import annotations

import html
import importlib.resources
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from bantin.bot.htmltext import html_to_text
from bantin.index.snippets import Snippet

#: Package data of `bantin.templates`: found the same way in a checkout, a wheel or a pipx venv.
TEMPLATES = Path(str(importlib.resources.files("bantin.templates")))
LANGUAGES = ("vi", "en")
#: Telegram's limit is 4096 UTF-16 code units after entity parsing; keep a margin.
MAX_MESSAGE = 4000
MAX_ENTITIES = 100
#: Titles in listings (search results, /latest, related, digests) are cut to this many UTF-16
#: units: a real headline is shorter, and a scraper's 1,600-character "title" must not crowd out the
#: other results.
LISTED_TITLE = 200
#: Most results one message lists (BANTIN_PER_PAGE): even with every title at LISTED_TITLE, the
#: longest date and `/xem_<id>` line and the longest query, 10 results fit in 4096 characters.
MAX_PER_PAGE = 10
#: If a listing still does not fit (many results, snippets already gone), titles shrink in steps.
_SHORTER_TITLES = (100, 50, 24)
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
            # Everything is Telegram HTML but the `.txt` files users download (bot.search.reading).
            autoescape=select_autoescape(disabled_extensions=("txt",), default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["vndate"] = vndate
        self.env.filters["marked"] = marked
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


def marked(snippet: Snippet) -> Markup:
    """The `marked` filter: a search snippet as Telegram HTML, its text escaped and each of its
    marks (the query words) in <b>. The index gives only text and positions; the HTML is made
    here, for every template (and `bantin search --json`). Marks out of order or out of range
    are skipped, never trusted."""
    text, position = snippet.text, 0
    parts: list[str] = []
    for start, end in snippet.marks:
        if start < position or end > len(text) or start >= end:
            continue
        parts += [_escape(text[position:start]), "<b>", _escape(text[start:end]), "</b>"]
        position = end
    parts.append(_escape(text[position:]))
    return Markup("".join(parts))


def _escape(text: str) -> str:
    return html.escape(text, quote=False)  # quotes are plain text in Telegram HTML outside attributes


def plain_length(html_text: str) -> int:
    """Length Telegram counts: UTF-16 code units of the text after entity parsing."""
    return utf16_len(html_to_text(html_text).strip())


def entity_count(html_text: str) -> int:
    return sum(1 for m in _TAG.finditer(html_text) if not m.group(1))


def fits(html_text: str) -> bool:
    return plain_length(html_text) <= MAX_MESSAGE and entity_count(html_text) <= MAX_ENTITIES



def utf16_len(text: str) -> int:
    """Telegram counts its limits in UTF-16 code units: an emoji or other astral character is 2."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def shorten(text: str, limit: int) -> str:
    """At most `limit` UTF-16 units: cut at the last word boundary in the second half, else
    anywhere (never inside a surrogate pair), with an ellipsis; whitespace runs stay as they are."""
    if utf16_len(text) <= limit:
        return text
    room, used, end = max(limit - 1, 0), 0, 0  # one unit is for the ellipsis
    while used + (2 if ord(text[end]) > 0xFFFF else 1) <= room:
        used += 2 if ord(text[end]) > 0xFFFF else 1
        end += 1
    cut = text[:end]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space >= len(cut) // 2:
        cut = cut[:space]
    return cut.rstrip(" \n,.;:–-") + "…"


def fit_listing(render: Callable[[list[dict[str, Any]]], str], items: Sequence[dict[str, Any]], *,
                title: int = LISTED_TITLE) -> str:
    """Render a list of articles within one message, whatever their data.

    Each item has `title` (plain text, escaped by the template) and may have `snippet` (a
    `Snippet`, marked by the template). In order, until the message fits: titles cut to `title`
    units; snippets without their <b> highlighting (entities); snippets dropped from the last
    result up; then shorter titles.
    The number of items never changes here: page buttons count on it (see Core.page_size).
    """
    rows = [{**item, "title": shorten(str(item["title"]), title)} for item in items]
    html_text = render(rows)
    if fits(html_text):
        return html_text
    rows = [{**row, "snippet": row["snippet"].unmarked()} if row.get("snippet") else row for row in rows]
    html_text = render(rows)
    for n in range(len(rows) - 1, -1, -1):
        if fits(html_text):
            return html_text
        if rows[n].get("snippet"):
            rows[n] = {**rows[n], "snippet": Snippet()}
            html_text = render(rows)
    for cap in _SHORTER_TITLES:
        if fits(html_text):
            break
        rows = [{**row, "title": shorten(str(row["title"]), cap)} for row in rows]
        html_text = render(rows)
    return html_text


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
            units += utf16_len(chunk)
        elif not closing:
            href = _HREF.search(attributes or "")
            opened.append((name, units, html.unescape(href.group(1)) if href and name == "a" else None))
        elif opened:
            tag, start, url = opened.pop()
            if units > start and tag in ENTITY_TYPES:
                entities.append((ENTITY_TYPES[tag], start, units - start, url))
    text = "".join(parts)
    shift = utf16_len(text) - utf16_len(text.lstrip())
    text = text.strip()
    end = utf16_len(text)
    trimmed = []
    for kind, start, length, url in entities:
        first, last = max(start - shift, 0), min(start - shift + length, end)
        if last > first:
            trimmed.append((kind, first, last - first, url))
    return text, tuple(sorted(trimmed, key=lambda e: (e[1], -e[2], e[0])))
