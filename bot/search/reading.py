"""Reading a whole article inside Telegram: its text cut into messages, or one `.txt` file.

Pure functions over plain strings, so the cutting can be property-tested without templates or a
network. Lengths are UTF-16 code units, the unit Telegram counts its limits in (an emoji is 2).
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right

from bantin.index.analysis import fold

#: Telegram's limit for a document's caption, after entity parsing.
MAX_CAPTION = 1024
#: Filenames: short enough for every phone's file list, and nothing a file system can refuse.
MAX_FILENAME = 60
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
#: A sentence ends at . ! ? or … (closing quotes and brackets stay with it) before a space.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*(?=\s)")
_WORD_END = re.compile(r"\S(?=\s)")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_VISIBLE = re.compile(r"\S")
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def split_message_text(text: str, first: int, rest: int) -> list[str]:
    """Cut `text` into consecutive pieces for successive messages: the first piece's visible text
    (stripped) is at most `first` UTF-16 units, every other piece's at most `rest`.

    Cuts fall on paragraph breaks (blank lines). Only a paragraph too long for a whole message is
    cut inside, at a sentence end, else between words, else anywhere; half a message is the
    least a sentence or word cut keeps, so no piece is a stub. Nothing is lost or reordered:
    `"".join(pieces) == text`.
    """
    if not text.strip():
        return [text]
    # units[i]: UTF-16 length of text[:i]. Cut candidates are indexes where a piece may end.
    units = [0]
    for char in text:
        units.append(units[-1] + (2 if ord(char) > 0xFFFF else 1))
    breaks = [m.start() for m in _PARAGRAPH_BREAK.finditer(text)]
    sentences = [m.end() for m in _SENTENCE_END.finditer(text)]
    words = [m.end() for m in _WORD_END.finditer(text)]
    end = len(text.rstrip())
    pieces: list[str] = []
    start = 0
    while True:
        budget = max(2, first if not pieces else rest)
        shown = _VISIBLE.search(text, start)  # where the piece's visible text begins
        visible = shown.start() if shown else end
        if units[end] - units[visible] <= budget:
            pieces.append(text[start:])
            return pieces
        limit = max(bisect_right(units, units[visible] + budget) - 1, visible + 1)
        cut = _last(breaks, visible, limit, visible + 1)
        if cut is None:
            half = visible + (limit - visible) // 2
            cut = _last(sentences, visible, limit, half) or _last(words, visible, limit, half) or limit
        pieces.append(text[start:cut])
        start = cut


def _last(positions: list[int], start: int, limit: int, least: int) -> int | None:
    """The last position in (start, limit] that is at least `least`, if any."""
    i = bisect_right(positions, limit) - 1
    if i >= 0 and positions[i] > start and positions[i] >= least:
        return positions[i]
    return None


def document_filename(title: str, fallback: str) -> str:
    """`Đảng bộ xã Ea Rông: …` → `dang-bo-xa-ea-rong.txt`: ASCII, ≤ MAX_FILENAME characters, cut
    between words; `fallback` (already a slug) when the title has no Latin letters or digits."""
    room = MAX_FILENAME - len(".txt")
    slug = _slug(title)
    if len(slug) > room:
        cut = slug[: room + 1].rfind("-")
        slug = slug[:cut] if cut >= room // 2 else slug[:room].rstrip("-")
    return f"{slug or _slug(fallback)[:room]}.txt"


def saved_filename(filename: str, article_id: str) -> str:
    """The name a document is saved under on disk (the console's `files/`): its name plus the
    article's id, since two articles can share a title and so a name. An id that cannot be part
    of a file name as it is becomes its slug and a short hash of it: distinct ids, distinct names."""
    if not article_id:
        return filename
    tag = article_id
    if not _SAFE_ID.fullmatch(article_id):
        digest = hashlib.blake2b(article_id.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
        tag = "-".join(part for part in (_slug(article_id)[:24].strip("-"), digest) if part)
    return f"{filename.removesuffix('.txt')}-{tag}.txt"


def _slug(text: str) -> str:
    return _NOT_SLUG.sub("-", fold(text).lower()).strip("-")
