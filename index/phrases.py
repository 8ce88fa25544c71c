"""Quoted phrases: which candidates have the phrase's syllables next to each other.

From positions (`index.schema.TermPositions`): each phrase word's positions are decoded only for
the candidates still in the running, rarest word first, and a candidate keeps the phrase when
some start position has word i at start + i for every i. The work is bounded by the postings of
the phrase's words among the candidates, whatever the phrase; before, the best 1,000 candidates'
stored texts were folded and searched with a regular expression, 1–3 s for common words, and
matches beyond those 1,000 were missed.

An index built before positions existed (`NoPositions`) still gets that old check, bounded by
the search's budget like everything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bantin.index.analysis import fold
from bantin.index.budget import Budget
from bantin.index.engine import Engine, NoPositions
from bantin.index.query import Word, phrase_pattern

__all__ = ["NoPositions", "by_positions", "by_stored_text"]

#: The field whose positions are read: title + lead + body.
FIELD = "text"


def by_positions(engine: Engine, phrases: Iterable[Sequence[str]], docs: set[int], budget: Budget) -> set[int]:
    """The documents of `docs` that contain every phrase (folded syllables, in order)."""
    kept = docs
    for words in phrases:
        if not kept:
            break
        kept = _with_phrase(engine, list(words), kept, budget)
    return kept


def _with_phrase(engine: Engine, words: list[str], docs: set[int], budget: Budget) -> set[int]:
    if len(words) < 2:
        return docs
    found: dict[str, dict[int, Sequence[int]]] = {}
    alive = docs
    for word in sorted(set(words), key=lambda w: len(engine.postings(FIELD, w).ids)):
        found[word] = engine.positions(FIELD, word, alive, budget)
        alive = alive.intersection(found[word])
        if not alive:
            return set()
    first, rest = found[words[0]], [(offset, found[w]) for offset, w in enumerate(words[1:], 1)]
    kept: set[int] = set()
    for n, docnum in enumerate(alive):
        if not n % 256:
            budget.spend(256)
        starts = first[docnum]
        if len(starts) == 1:  # the first word once in the article: look for the others after it
            start = starts[0]
            if all(start + offset in positions[docnum] for offset, positions in rest):
                kept.add(docnum)
            continue
        candidates = set(starts)
        for offset, positions in rest:
            # starts that have this word `offset` places later: p - offset for each of its positions
            candidates.intersection_update(map(offset.__rsub__, positions[docnum]))
            if not candidates:
                break
        if candidates:
            kept.add(docnum)
    return kept


def by_stored_text(engine: Engine, phrases: Iterable[tuple[Word, ...]], docnums: Iterable[int],
                   budget: Budget) -> set[int]:
    """The documents of `docnums` whose stored title, lead and body contain every phrase.

    The old way, for indexes without positions (and a brute-force reference for tests): each
    text is read and folded, so callers bound how many they pass.
    """
    patterns = [phrase_pattern(p) for p in phrases]
    kept: set[int] = set()
    for docnum in docnums:
        stored, body, _ = engine.stored(docnum)
        text = "\n".join((stored.get("title") or "", stored.get("lead") or "", body))
        budget.texts += 1
        budget.spend(len(text) // 64 + 1)
        folded = fold(text).lower()
        if all(p.search(folded) for p in patterns):
            kept.add(docnum)
    return kept
