"""Related articles: a "more like this" query built from an article's own distinctive words.

Whoosh's `more_like` needs term vectors (a large, slow-to-write index part) or re-analyses stored
text through the field analyzers; here the article's title, lead and the start of its body are
folded into syllables and bigrams once, weighted by tf·idf against the index, and the best dozen
become one OR query. Results drop the article itself and near-duplicates (the same story
scraped twice, or syndicated under a slightly different title), also among themselves.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from whoosh.query import Or, Query, Term
from whoosh.searching import Searcher

from bantin.index.analysis import BIGRAM_SEP, fold, query_syllables
from bantin.index.engine import Engine
from bantin.index.schema import stored_body
from bantin.index.scoring import Scorer

#: How much of the body describes the article well enough (and stays cheap to analyse).
BODY_CHARS = 3000
UNIGRAMS = 14
BIGRAMS = 6
#: Words in more than this share of articles say nothing about a topic (in archives large enough
#: for shares to mean something: below MIN_DF_CAP articles, idf alone does the weighting).
MAX_DF_SHARE = 0.08
MIN_DF_CAP = 50
TITLE_JACCARD = 0.8
LEAD_JACCARD = 0.9


@dataclass(frozen=True)
class Fingerprint:
    """Enough of an article to recognise a copy of it."""

    title: frozenset[str]
    lead: frozenset[str]

    @classmethod
    def of(cls, stored: dict[str, Any]) -> Fingerprint:
        return cls(_folded_set(stored.get("title") or ""), _folded_set(stored.get("lead") or ""))

    def near(self, other: Fingerprint) -> bool:
        if _jaccard(self.title, other.title) >= TITLE_JACCARD:
            return True
        return min(len(self.lead), len(other.lead)) >= 5 and _jaccard(self.lead, other.lead) >= LEAD_JACCARD


def related_docnums(engine: Engine, searcher: Searcher, article_id: str, *, limit: int) -> list[tuple[int, float]]:
    """(docnum, score) of up to `limit` related articles; [] for an unknown id."""
    found = engine.docs(Term("id", article_id))
    if not found:
        return []
    docnum = min(found)
    stored = searcher.stored_fields(docnum)
    query = more_like_query(searcher, stored)
    if query is None:
        return []
    seen = [Fingerprint.of(stored)]
    picked: list[tuple[int, float]] = []
    for candidate, score in Scorer(engine, query, coverage=False).top(engine.docs(query), limit * 4 + 10):
        if candidate == docnum:
            continue
        fingerprint = Fingerprint.of(searcher.stored_fields(candidate))
        if any(fingerprint.near(other) for other in seen):
            continue
        seen.append(fingerprint)
        picked.append((candidate, score))
        if len(picked) >= limit:
            break
    return picked


def more_like_query(searcher: Searcher, stored: dict[str, Any]) -> Query | None:
    """An OR of the article's most distinctive folded syllables (in `text`) and title bigrams."""
    reader = searcher.reader()
    total = max(1, reader.doc_count_all())
    max_df = max(MAX_DF_SHARE * total, MIN_DF_CAP)
    title = [fold(s) for s, _ in query_syllables(stored.get("title") or "")]
    rest = [fold(s) for s, _ in query_syllables(f"{stored.get('lead') or ''} {stored_body(stored)[:BODY_CHARS]}")]
    counts: Counter[str] = Counter(rest)
    for syllable in title:
        counts[syllable] += 3  # the title says what the article is about
    scored: list[tuple[float, str, str]] = []
    for term, tf in counts.items():
        if len(term) < 2 or term.isdigit():
            continue
        df = reader.doc_frequency("text", term)
        if df < 2 or df > max_df:
            continue
        scored.append((math.log1p(tf) * math.log(1 + total / df), "text", term))
    bigrams = {a + BIGRAM_SEP + b for a, b in itertools.pairwise(title)}
    for term in bigrams:
        df = reader.doc_frequency("title", term)
        if 2 <= df <= max_df:
            scored.append((2.0 * math.log(1 + total / df), "title", term))
    if not scored:
        return None
    scored.sort(reverse=True)
    unigrams = [s for s in scored if s[1] == "text"][:UNIGRAMS]
    pairs = [s for s in scored if s[1] == "title"][:BIGRAMS]
    top = max(s[0] for s in unigrams + pairs)
    return Or([Term(fieldname, term, boost=weight / top) for weight, fieldname, term in unigrams + pairs])


def _folded_set(text: str) -> frozenset[str]:
    return frozenset(fold(s) for s, _ in query_syllables(text))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
