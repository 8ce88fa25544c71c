"""Result snippets: a short window of the article's text, and where the query words are in it.

Plain text and match positions only: the bot's templates make Telegram HTML of them (the
`marked` filter in bot.render), the console and inline results use the text as it is, and the
pickled results that cross from the search workers stay small plain data.

Built by hand from the stored lead and body rather than with Whoosh's highlighter, which
re-analyses the whole stored text for every hit: here one regex over the folded text finds the
query words (with or without their accents), which is fast even for long bodies.

Accents typed are evidence: given `exact` (folded word → the spelling typed), a word is marked
only where it is spelled that way ("đảng" does not light up "Đăng"; see `_as_typed`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from bantin.index.analysis import fold, normalize_word, word_start_matches

#: Visible characters, ellipses included (Telegram shows about this much comfortably).
WIDTH = 200
#: How much text before the first match is kept for context.
CONTEXT = 40
#: Long bodies are only searched this far: a snippet from deep inside is rarely the best one.
SCAN_CHARS = 6000
ELLIPSIS = "…"

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Snippet:
    """A window of an article's text (ellipses included) and the (start, end) offsets in `text` of
    the query words found in it: sorted, never overlapping, never empty. Adjacent words separated
    only by spaces are one mark ("đảng viên", not "đảng" and "viên")."""

    text: str = ""
    marks: tuple[tuple[int, int], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.text)

    def unmarked(self) -> Snippet:
        """The same text without highlighting (a listing with too many entities drops them first)."""
        return replace(self, marks=())


def make_snippet(
    words: Iterable[str], lead: str, body: str, *, width: int = WIDTH, exact: Mapping[str, str] | None = None
) -> Snippet:
    """The best window of `lead` + `body` for the folded query `words`, with the words marked.

    "Best" is the window with the most distinct query words, the earliest on a tie (the lead
    summarises the article, so it wins ties). Without any match, the start of the text.
    """
    text = _SPACES.sub(" ", f"{lead} {body}"[:SCAN_CHARS]).strip()
    if not text:
        return Snippet()
    folded = fold(text).lower()
    if len(folded) != len(text):  # exotic characters whose folding changes length: no highlighting
        return _render(text, 0, width, [])
    wanted = sorted({w for w in words if w}, key=len, reverse=True)
    matches: list[tuple[int, int, str]] = []
    if wanted:
        pattern = re.compile(r"(?:" + "|".join(map(re.escape, wanted)) + r")(?![^\W_])")
        matches = [(m.start(), m.end(), m.group()) for m in word_start_matches(pattern, folded)]
    if exact:
        matches = _as_typed(matches, text, exact)
    if not matches:
        return _render(text, 0, width, [])
    start = _best_window_start(matches, width)
    return _render(text, _context_start(text, start), width, matches)


def _as_typed(matches: list[tuple[int, int, str]], text: str, exact: Mapping[str, str]) -> list[tuple[int, int, str]]:
    """Only the matches spelled as typed: in a query with accents every word is taken as typed
    ("chi" beside "đảng" is not "chị"), as the ranking does."""
    return [
        (start, end, word)
        for start, end, word in matches
        if word not in exact or normalize_word(unicodedata.normalize("NFC", text[start:end])) == exact[word]
    ]


def _best_window_start(matches: list[tuple[int, int, str]], width: int) -> int:
    """Start of the earliest window (two pointers over the matches) with the most distinct words."""
    span = width - 2 * len(ELLIPSIS) - CONTEXT
    inside: Counter[str] = Counter()
    best_start, best_count = matches[0][0], 0
    j = 0
    for i, (start, _, word) in enumerate(matches):
        while j < len(matches) and matches[j][1] <= start + span:
            inside[matches[j][2]] += 1
            j += 1
        if len(inside) > best_count:
            best_start, best_count = start, len(inside)
        if j > i:
            inside[word] -= 1
            if not inside[word]:
                del inside[word]
        else:
            j = i + 1
    return best_start


def _context_start(text: str, match_start: int) -> int:
    """Back up a little before the first match, to a word start; the text start if it is close."""
    if match_start <= CONTEXT:
        return 0
    space = text.find(" ", match_start - CONTEXT, match_start)
    return space + 1 if space >= 0 else match_start


def _merged(matches: list[tuple[int, int, str]], text: str) -> list[tuple[int, int]]:
    """Matches separated only by spaces become one span: "đảng viên" is one mark, not two."""
    spans: list[tuple[int, int]] = []
    for start, end, _ in matches:
        if spans and not text[spans[-1][1] : start].strip():
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _render(text: str, start: int, width: int, matches: list[tuple[int, int, str]]) -> Snippet:
    prefix = ELLIPSIS if start > 0 else ""
    room = width - len(prefix)
    end = start + room
    suffix = ""
    if end < len(text):
        room -= len(ELLIPSIS)
        end = start + room
        cut = text.rfind(" ", start, end + 1)
        end = cut if cut > start else end
        suffix = ELLIPSIS
    else:
        end = len(text)
    shown = [prefix]
    marks: list[tuple[int, int]] = []
    shift = len(prefix) - start  # text offset → offset in the snippet
    position = start
    for m_start, m_end in _merged(matches, text):
        if m_start < position or m_end > end:
            continue
        shown.append(text[position:m_end])
        marks.append((m_start + shift, m_end + shift))
        position = m_end
    shown.append(text[position:end].rstrip(" ,;:"))
    shown.append(suffix)
    return Snippet("".join(shown), tuple(marks))
