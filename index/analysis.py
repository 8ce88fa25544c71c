"""Vietnamese text analysis for Whoosh: one tokenizer and a few small filters.

Citizens mostly type without diacritics, sometimes in capitals, with either tone placement
("hoà"/"hòa"). So every syllable is indexed twice: its *exact* form (NFC, lower case, tone mark on
the canonical vowel) and its *folded* form (no diacritics, đ→d). A query matches on the folded
form and earns a bonus for the exact one, so "bàn" finds "bán" but prefers "bàn".

Adjacent syllables are also indexed as folded *bigrams* ("dang_vien"): Vietnamese words are
mostly two syllables, and a bigram term ranks "đảng viên" above scattered "đảng" … "viên" far more
cheaply than a positional phrase query would.

Whoosh pickles analyzers into the index's schema, so every class here must stay importable as
`index.analysis.<Name>` and compare equal by value (the Whoosh `Filter.__eq__` does that).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from itertools import chain, pairwise
from typing import Any

from whoosh.analysis import Filter, MultiFilter, Token, Tokenizer
from whoosh.analysis.analyzers import CompositeAnalyzer

#: Joins the two folded syllables of a bigram term; never part of a unigram (the tokenizer
#: splits on "_"), so bigram terms cannot collide with syllables.
BIGRAM_SEP = "_"

# Letters and digits; "_" is excluded because it is the bigram separator.
_WORD = re.compile(r"[^\W_]+")
# Punctuation that ends a phrase: no bigram is formed across it ("Hà Nội. Đảng" is not a word).
_PHRASE_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”«»…|\n]")
# Anything between two syllables other than spaces and hyphens: a quoted phrase cannot span it.
_NOT_PHRASE_GAP = re.compile(r"[^\s\-]")
_PHRASE_GAPS = re.compile(r"(?:[^\w\s\-]|_)+")

# -- folding -----------------------------------------------------------------------------------


def _build_fold_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for cp in chain(range(0x00C0, 0x0250), range(0x1E00, 0x1F00)):
        char = chr(cp)
        decomposed = unicodedata.normalize("NFD", char)
        base = decomposed[0]
        if len(decomposed) > 1 and base.isascii() and all(unicodedata.combining(c) for c in decomposed[1:]):
            table[cp] = base
    table[ord("đ")] = "d"
    table[ord("Đ")] = "D"
    for cp in range(0x0300, 0x0370):  # stray combining marks left over from odd NFD input
        table[cp] = None
    return table


_FOLD_TABLE = _build_fold_table()


def fold(text: str) -> str:
    """Remove every diacritic (tone and vowel marks) and turn đ into d: the unaccented spelling."""
    if text.isascii():
        return text
    return text.translate(_FOLD_TABLE)


def word_start_matches(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """Matches of `pattern` that begin a word (not preceded by a letter or digit), in order.

    Why not a lookbehind inside the pattern: a pattern that starts with one loses the regex
    engine's scan for its first literal, and measured 15× slower over article bodies.
    """
    pos = 0
    while (match := pattern.search(text, pos)) is not None:
        start = match.start()
        if start == 0 or not text[start - 1].isalnum():
            yield match
            pos = max(match.end(), start + 1)
        else:
            pos = start + 1


def breaks_phrase(gap: str) -> bool:
    """Whether text between two syllables separates them (punctuation, not just space)."""
    return _PHRASE_BREAK.search(gap) is not None


# -- tone placement ----------------------------------------------------------------------------

_VOWELS = frozenset("aăâeêioôơuưy")
_QUALITY_VOWELS = frozenset("ăâêôơư")
# Combining tone marks, in the order huyền, sắc, hỏi, ngã, nặng.
_TONE_MARKS = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
_TONED: dict[str, tuple[str, int]] = {}
_RETONE: dict[tuple[str, int], str] = {}
for _base in _VOWELS:
    for _tone, _mark in enumerate(_TONE_MARKS, start=1):
        _composed = unicodedata.normalize("NFC", _base + _mark)
        _TONED[_composed] = (_base, _tone)
        _RETONE[(_base, _tone)] = _composed


def _tone_position(base: str, modern: bool) -> int:
    """Index of the vowel that carries the tone in a toneless syllable, or -1 if not Vietnamese."""
    start = next((i for i, c in enumerate(base) if c in _VOWELS), -1)
    if start < 0:
        return -1
    end = start
    while end < len(base) and base[end] in _VOWELS:
        end += 1
    if any(c in _VOWELS for c in base[end:]):
        return -1  # two vowel groups: a foreign word such as "café", leave it alone
    first = start
    if end - start > 1 and start == 1 and base[:2] in ("qu", "gi"):
        first = 2  # the u of "qu" and the i of "gi" belong to the initial consonant
    marked = [i for i in range(first, end) if base[i] in _QUALITY_VOWELS]
    if marked:
        return marked[-1]  # ươ → ơ, iê → ê, uô → ô …
    size = end - first
    if size == 1:
        return first
    if end < len(base):
        return end - 1  # closed syllable: hoàng, toán
    if size == 2:
        if base[first:end] in ("oa", "oe", "uy"):
            return end - 1 if modern else first  # the one real old/new difference: hòa/hoà
        return first  # mùa, hài, cháo
    return first + 1  # ngoài, khuỷu


@lru_cache(maxsize=100_000)
def place_tone(syllable: str, *, modern: bool = False) -> str:
    """Move a lower-case syllable's tone mark onto its canonical vowel.

    Old ("hòa", "thủy") and new ("hoà", "thuỷ") placements, and misplaced marks such as "qúy",
    all map to one spelling; the corpus uses the old style almost exclusively, so that is the
    default (and what suggestions show). Anything that is not one Vietnamese syllable with one
    tone mark is returned unchanged.
    """
    chars = list(syllable)
    tone = 0
    for i, char in enumerate(chars):
        found = _TONED.get(char)
        if found is not None:
            if tone:
                return syllable
            chars[i], tone = found
    if not tone:
        return syllable
    target = _tone_position("".join(chars), modern)
    if target < 0:
        return syllable
    chars[target] = _RETONE[(chars[target], tone)]
    return "".join(chars)


def normalize_word(word: str) -> str:
    """The exact form of one syllable: NFC, lower case, canonical tone placement."""
    word = unicodedata.normalize("NFC", word).lower()
    return word if word.isascii() else place_tone(word)


# -- Whoosh components -------------------------------------------------------------------------


class VietnameseTokenizer(Tokenizer):
    """Splits text into lower-case NFC runs of letters and digits.

    The whole value is normalised (NFC, lower case) before splitting: doing it once per text
    instead of once per token is most of what makes indexing fast enough, and NFC first means
    decomposed (NFD) input tokenizes like composed input. Character offsets, when asked for,
    refer to that normalised text. With `boundaries`, each token carries `boundary`: True when
    punctuation separates it from the previous token (the bigram filter needs it).
    """

    def __init__(self, boundaries: bool = True) -> None:
        self.boundaries = boundaries

    def __eq__(self, other: object) -> bool:
        return self.__class__ is other.__class__ and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((self.__class__, self.boundaries))

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        value = unicodedata.normalize("NFC", value).lower()
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        token.boost = 1.0
        token.stopped = False
        token.boundary = True
        if not tokenize:
            token.text = value
            if keeporiginal:
                token.original = value
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        if not (positions or chars or keeporiginal or self.boundaries):
            for text in _WORD.findall(value):  # the indexing fast path
                token.text = text
                yield token
            return
        if positions and not (chars or keeporiginal or self.boundaries):
            yield from _positioned(value, token, start_pos)  # the fast path for positional fields
            return
        last_end = 0
        skipped = 0  # extra positions left between syllables that a phrase may not span
        for pos, match in enumerate(_WORD.finditer(value)):
            start, end = match.span()
            token.text = text = match.group()
            gap = value[last_end:start]
            last_end = end
            if self.boundaries:
                token.boundary = pos == 0 or (gap != " " and _PHRASE_BREAK.search(gap) is not None)
            if keeporiginal:
                token.original = text
            if positions:
                if pos and gap != " " and _NOT_PHRASE_GAP.search(gap) is not None:
                    skipped += 1
                token.pos = start_pos + pos + skipped
            if chars:
                token.startchar, token.endchar = start_char + start, start_char + end
            yield token


def _positioned(value: str, token: Token, start_pos: int) -> Iterator[Token]:
    """Syllables with positions; anything between two syllables other than spaces and hyphens
    skips a position, so syllables are adjacent exactly when a quoted phrase may join them (see
    `index.query.phrase_pattern`). Splitting at such characters first keeps this as cheap as
    the plain fast path: they never occur inside a syllable."""
    pos = start_pos
    for segment in _PHRASE_GAPS.split(value):
        for text in _WORD.findall(segment):
            token.text = text
            token.pos = pos
            pos += 1
            yield token
        pos += 1


class ToneFilter(Filter):
    """Puts each (lower-case) syllable's tone mark on its canonical vowel, see `place_tone`."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            text = token.text
            if not text.isascii():
                token.text = place_tone(text)
            yield token


class BigramFilter(Filter):
    """After each syllable, also emits the folded bigram it forms with the previous syllable.

    Bigrams never cross punctuation (see the tokenizer's `boundary`); they are folded so that
    unaccented queries use them too.
    """

    def __init__(self, sep: str = BIGRAM_SEP) -> None:
        self.sep = sep

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        sep = self.sep
        previous: str | None = None
        for token in tokens:
            folded = fold(token.text)
            yield token
            if previous is not None and not getattr(token, "boundary", False):
                token.text = previous + sep + folded
                yield token
            previous = folded


class FoldFilter(Filter):
    """Emits the folded form of each token; with `keep_exact`, the exact form too (same position).

    Tokens that have no diacritics are emitted once, so exact terms always contain a mark and
    never collide with folded ones.
    """

    def __init__(self, keep_exact: bool = True) -> None:
        self.keep_exact = keep_exact

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        keep_exact = self.keep_exact
        for token in tokens:
            text = token.text
            if text.isascii():
                yield token
                continue
            folded = text.translate(_FOLD_TABLE)
            if keep_exact and folded != text:
                yield token
            token.text = folded
            yield token


class IndexOnlyFilter(MultiFilter):
    """A `MultiFilter` that runs its filter when indexing and passes tokens through otherwise.

    Whoosh's own `MultiFilter` calls `next()` on the stream eagerly, which raises on empty text
    (a body that is only punctuation) under Python 3; this one decides lazily.
    """

    def __init__(self, index: Filter) -> None:
        super().__init__(index=index)

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for first in tokens:
            chosen = self.filters.get(first.mode, self.default_filter)
            yield from chosen(chain([first], tokens))
            return


def vietnamese_analyzer(*, exact: bool = True, bigrams: bool = True) -> CompositeAnalyzer:
    """Tokenizer and filters for one text field.

    Index mode yields exact syllables (when `exact`), folded syllables and folded bigrams (when
    `bigrams`). Any other mode (query) yields only the normalised exact syllables: the query
    builder derives folded forms and bigrams itself, because it weighs them differently.
    """
    analyzer: CompositeAnalyzer = VietnameseTokenizer(boundaries=bigrams) | ToneFilter()
    if bigrams:
        analyzer = analyzer | IndexOnlyFilter(BigramFilter())
    return analyzer | IndexOnlyFilter(FoldFilter(keep_exact=exact))


class PairTokenizer(Tokenizer):
    """Only the folded bigrams of a text ("dang_vien"), never across punctuation, in one pass.

    For the `pairs` field, which exists so that a multi-syllable word counts as a unit in the
    body too. Folding the whole value once and skipping Token bookkeeping beyond the text keeps
    it cheap; the cost that remains is Whoosh writing one posting per distinct bigram.
    """

    def __eq__(self, other: object) -> bool:
        return self.__class__ is other.__class__

    def __hash__(self) -> int:
        return hash(self.__class__)

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        token.boost = 1.0
        token.stopped = False
        folded = fold(unicodedata.normalize("NFC", value).lower())
        for phrase in _PHRASE_BREAK.split(folded):
            words = _WORD.findall(phrase)
            for left, right in pairwise(words):
                token.text = left + BIGRAM_SEP + right
                yield token


def query_syllables(text: str) -> list[tuple[str, bool]]:
    """(exact syllable, follows punctuation) pairs of a query, in order."""
    return [(t.text, t.boundary) for t in _QUERY_ANALYZER(text, mode="query")]


_QUERY_ANALYZER = VietnameseTokenizer() | ToneFilter()
