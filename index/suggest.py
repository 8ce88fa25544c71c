""""Did you mean": corrections drawn from the index's own (folded) vocabulary.

Only words the index has never seen are corrected. A candidate is, in order of preference:
the word typed with Telex keys left in ("ddangr" → "dang"), two known syllables typed without
the space between them ("dangvien" → "dang vien"), or the most frequent known word one (then two)
edits away. A suggestion is offered only if it finds clearly more articles than the query did.
Corrected words typed with accents are shown with the accents titles give them beside the
query's neighbouring words.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import unicodedata
from typing import Any

from whoosh.reading import IndexReader

from bantin.index.analysis import BIGRAM_SEP, place_tone
from bantin.index.engine import Engine
from bantin.index.query import ParsedQuery, Word, match_query, parse_query

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_MARKS = {"a": "aăâ", "e": "eê", "o": "oôơ", "u": "uư", "d": "dđ"}
_VOWEL_LETTERS = frozenset("aăâeêioôơuưy")
_TONES = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
#: Vocabulary is re-read at most this often (new articles rarely add the word someone mistyped).
VOCAB_TTL = 600.0
#: A known word this rare may still be a typo.
RARE = 3
#: A suggestion is offered when it finds more than this many times the articles the query did.
CLEARLY_MORE = 2
#: Longer "words" are not corrected: no Vietnamese syllable (or two run together) is this long,
#: and the candidates grow with the length (two edits of 200 letters took 55 s).
MAX_CORRECTABLE = 16
#: Two edits away is tried only up to this length (about 50,000 candidates per letter).
MAX_TWO_EDITS = 10
_TELEX_TONE = re.compile(r"(?<=[a-z])[sfrxj]$")
_TELEX_MARKS = (("dd", "d"), ("aa", "a"), ("ee", "e"), ("oo", "o"), ("aw", "a"), ("ow", "o"), ("uw", "u"))


class Suggester:
    """Holds the vocabulary of the last reader it saw, so repeated misses stay cheap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: object = None
        self._loaded = 0.0
        self._vocab: frozenset[str] = frozenset()

    def suggest(self, engine: Engine, parsed: ParsedQuery, total: int) -> str | None:
        """A better query, or None when no word looks mistyped or correcting does not help.

        A word looks mistyped when the index has never seen it, or has seen it in no more than
        `RARE` articles (typos make it into articles too). The caller asks only when the query
        found little, or when a word of it is rare; the suggestion must find clearly more
        (`CLEARLY_MORE` times as many articles, and at least one).
        """
        if not parsed.words:
            return None
        reader = engine.reader
        self._load(reader)
        changed = False
        out: list[str] = []
        words = parsed.words
        for i, word in enumerate(words):
            df = reader.doc_frequency("text", word.folded)
            correction = None
            if df == 0 or (df <= RARE and not word.folded.isdigit() and not _in_known_pair(reader, words, i)):
                correction = self._correct(reader, word.folded, df)
            if correction is None:
                out.append(word.exact)
                continue
            changed = True
            if word.accented:
                context = {w.folded for j, w in enumerate(words) if abs(j - i) == 1}
                correction = _display(engine, correction, context)
            out.append(correction)
        if not changed:
            return None
        suggestion = " ".join(out)
        found = len(engine.docs(match_query(parse_query(suggestion))))
        return suggestion if found > CLEARLY_MORE * total else None

    # -- candidates ------------------------------------------------------------------------------

    def _correct(self, reader: IndexReader, word: str, df: int) -> str | None:
        """The best correction of one folded word, or None; it must be far more common."""
        vocab = self._vocab

        def common(candidate: str) -> int:
            return reader.doc_frequency("text", candidate)

        if len(word) > MAX_CORRECTABLE:
            return None
        telex = _untelex(word)
        if telex != word and telex in vocab and common(telex) > df * 10:
            return telex
        near = {w for w in _edits(word) if w in vocab} if len(word) >= 3 and not word.isdigit() else set()
        edit = max(sorted(near), key=common) if near else None
        split = _best_split(reader, word, vocab)
        if split is not None and (edit is None or split[0] > common(edit)):
            return split[1]
        if edit is None and 5 <= len(word) <= MAX_TWO_EDITS and not word.isdigit():
            near = {w2 for w1 in _edits(word) for w2 in _edits(w1) if w2 in vocab}
            edit = max(sorted(near), key=common) if near else None
        return edit if edit is not None and common(edit) > df * 10 else None

    # -- vocabulary ------------------------------------------------------------------------------

    def _load(self, reader: IndexReader) -> None:
        key = id(reader)
        with self._lock:
            if self._key == key or (self._vocab and time.monotonic() - self._loaded < VOCAB_TTL):
                return
            self._vocab = frozenset(_decode(t) for t in reader.lexicon("text"))
            self._key, self._loaded = key, time.monotonic()


def _in_known_pair(reader: IndexReader, words: tuple[Word, ...], i: int) -> bool:
    """Whether a rare word is written next to its query neighbour in some article ("cầu treo"):
    then it is a real, if rare, word and not a typo."""
    pairs = [(words[j - 1], words[j]) for j in (i, i + 1) if 0 < j < len(words) and words[j].joined]
    return any(reader.doc_frequency("pairs", a.folded + BIGRAM_SEP + b.folded) for a, b in pairs)


def _best_split(reader: IndexReader, word: str, vocab: frozenset[str]) -> tuple[int, str] | None:
    """"dangvien" → (df, "dang vien") when both halves are known and titles or leads use the pair."""
    best: tuple[int, str] | None = None
    for i in range(1, len(word)):
        left, right = word[:i], word[i:]
        if left in vocab and right in vocab:
            pair = left + BIGRAM_SEP + right
            df = reader.doc_frequency("title", pair) + reader.doc_frequency("lead", pair)
            if df and (best is None or df > best[0]):
                best = (df, f"{left} {right}")
    return best


def _display(engine: Engine, correction: str, context: set[str]) -> str:
    """A corrected word as titles spell it beside the query's neighbouring words ("tham nhũg" →
    "tham nhũng", not the far more common "những"), else as titles most often spell it."""
    near: set[int] = set()
    for word in context:
        near.update(engine.postings("title", word).ids)
    out = []
    for part in correction.split():
        best, best_key = part, (0, 0)
        for spelling in accent_variants(part):
            ids = engine.postings("title", spelling).ids
            key = (len(near.intersection(ids)) if near else 0, len(ids))
            if key > best_key:
                best, best_key = spelling, key
        out.append(best)
    return " ".join(out)


def accent_variants(folded: str, *, limit: int = 400) -> set[str]:
    """Every spelling of a folded syllable with vowel marks, đ and one tone (canonically placed).

    Empty when the syllable has too many possibilities to be a Vietnamese syllable.
    """
    options = [_MARKS.get(c, c) for c in folded]
    count = 1
    for choices in options:
        count *= len(choices)
    if count > limit:
        return set()
    found: set[str] = set()
    for letters in itertools.product(*options):
        base = "".join(letters)
        found.add(base)
        for i, letter in enumerate(base):
            for mark in _TONES if letter in _VOWEL_LETTERS else ():
                toned = unicodedata.normalize("NFC", base[: i + 1] + mark + base[i + 1 :])
                found.add(place_tone(toned))
    found.discard(folded)
    return found


def _untelex(word: str) -> str:
    """Undo Telex typing keys in a folded word: "ddangr" → "dang", "vieetj" → "viet"."""
    out = _TELEX_TONE.sub("", word)
    for keys, letter in _TELEX_MARKS:
        out = out.replace(keys, letter)
    return out


def _edits(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    swaps = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in _ALPHABET]
    inserts = [a + c + b for a, b in splits for c in _ALPHABET]
    return set(deletes + swaps + replaces + inserts)


def _decode(term: Any) -> str:
    return term.decode("utf-8") if isinstance(term, bytes) else str(term)
