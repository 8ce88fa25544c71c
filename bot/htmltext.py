"""Our Telegram HTML as the plain text a reader sees: the one place tags are dropped and entities
unescaped (the console prints replies this way; the renderer measures messages this way).

Only for HTML our own templates made (autoescaped: every literal `<` and `&` of the data is an
entity), not a general HTML parser.
"""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]+>")
_LINK = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.DOTALL)
_BOLD = re.compile(r"</?b>")


def html_to_text(html_text: str, *, bold: str = "", links: bool = False) -> str:
    """Tags dropped, entities unescaped. `bold` is put where <b> and </b> were (the console's
    `*stars*`); with `links`, a link reads 'text (url)', since a terminal cannot follow it."""
    if links:
        html_text = _LINK.sub(r"\2 (\1)", html_text)
    if bold:
        html_text = _BOLD.sub(bold, html_text)
    return html.unescape(_TAG.sub("", html_text))
