"""Scoring the candidates of a query, computing full scores only for those that can reach the top.

A rank query (`index.query.rank_query`) is an OR of *groups*, one per word or word pair; a group
is a DisjunctionMax over *members* (title, lead, text), a member a sum of terms. A document's
score is the sum of its groups' scores, each the best member plus `tiebreak` times the others,
multiplied by its *coverage* factor (the share of query words found in title or lead, see
`COVERAGE_FLOOR`).

The coverage and unit factors depend only on matches in the title, the lead and the `pairs`
field, whose postings are short; the body's single syllables (`text`) add at most a known amount
per group. So the scorer first sums every candidate's evidence outside the body exactly, with its
exact factors (an upper bound of its score, see `Scorer._bounds`), then computes full scores best
bound first and stops once no remaining candidate can reach the current top k. Documents with no
evidence outside the body are scored only when the top k is not full of better ones.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from typing import Any, NamedTuple

from whoosh import query as wq

from bantin.index.budget import Budget
from bantin.index.engine import Engine, intersect

#: The fields over the whole text (or its first paragraphs): many, weak postings ("dense"); the
#: short fields (title, lead) are "sparse", and only they count as coverage.
DENSE_FIELDS = frozenset({"text", "pairs"})
#: Adjacent word pairs over the article's first paragraphs: a match there is a whole unit.
PAIRS_FIELD = "pairs"
#: A document's score is multiplied by FLOOR + (1 - FLOOR) * share², where share is the share of
#: query words found in its title or lead.
COVERAGE_FLOOR = 0.5
#: Likewise, times UNIT_FLOOR + (1 - UNIT_FLOOR) * share² for the share of the query's adjacent
#: word pairs found as units (in title, lead or the `pairs` field): "hội đồng nhân dân" written
#: out beats the same four syllables scattered. 0.55 rather than 0.5: on the topical set's tuning
#: split it is as good (nDCG@10 +0.0006/+0.0001), and the known-item MRR of unaccented queries no
#: longer falls below main's (0.9700 → 0.9722); 0.3–0.7 and BODY_BIGRAM 1–3 were tried, none better.
UNIT_FLOOR = 0.55

Ranked = list[tuple[int, float]]
#: Bounds are raised by this much, so float rounding never prunes a document that ties.
_SAFETY = 1.0 + 1e-9
#: A posting list up to this many times the candidates is read whole; a longer one is searched
#: per candidate (title/lead, pairs) or, in the body, bounded by its maximum (`Scorer._bounds`).
SHORT_LIST = 8


class Clause(NamedTuple):
    """One term: BM25 = scale * tf / (tf + norms[doc]) for the documents in `ids`."""

    ids: Any  # array of ascending document numbers
    tfs: Any  # array of term counts, parallel to ids
    size: int
    scale: float  # boost * idf * (k1 + 1): also an upper bound, as tf / (tf + norm) < 1
    norms: list[float]

    def score(self, docnum: int) -> float:
        i = bisect_left(self.ids, docnum)
        if i < self.size and self.ids[i] == docnum:
            tf = self.tfs[i]
            return self.scale * tf / (tf + self.norms[docnum])
        return 0.0


class Group(NamedTuple):
    sparse: list[list[Clause]]  # members over title/lead
    dense: list[list[Clause]]  # members over text
    tiebreak: float
    slots: frozenset[str]  # the query words it counts for in coverage
    units: bool  # its dense members are word pairs: a match there counts for coverage too
    kind: str  # "word", "pair" or "form" (see index.query.Unit)


class Scorer:
    """The compiled rank query of one search."""

    def __init__(self, engine: Engine, query: wq.Query, *, coverage: bool = True, budget: Budget | None = None) -> None:
        self.budget = budget if budget is not None else Budget()
        self.groups = [_group(engine, q) for q in _groups(query)]
        self.words = len(frozenset().union(*(g.slots for g in self.groups)))
        self.coverage = coverage and self.words > 1
        self.floor = COVERAGE_FLOOR if self.coverage else 1.0
        self.pairs = sum(1 for g in self.groups if g.kind == "pair") if coverage else 0

    def score(self, docnum: int) -> float:
        """The full score of one document (see the module docstring)."""
        total = 0.0
        covered: set[str] = set()
        pairs = 0
        for sparse, dense, tiebreak, slots, units, kind in self.groups:
            best = summed = 0.0
            head = False
            for members, in_head in ((sparse, True), (dense, units)):
                for member in members:
                    value = sum(clause.score(docnum) for clause in member)
                    if value:
                        summed += value
                        best = max(best, value)
                        head = head or in_head
            total += best + tiebreak * (summed - best)
            if head and slots:
                covered.update(slots)
            if best and kind != "word":
                pairs += 1 if kind == "pair" else self.pairs  # another spelling is a whole unit
        return self._scaled(total, pairs, len(covered))

    def _scaled(self, value: float, pairs: int, covered: int) -> float:
        """`value` times the unit and coverage factors of a document with `pairs` units and
        `covered` query words in its title or lead (see the module docstring)."""
        if self.pairs:
            value *= UNIT_FLOOR + (1.0 - UNIT_FLOOR) * min(1.0, pairs / self.pairs) ** 2
        if self.coverage:
            value *= self.floor + (1.0 - self.floor) * (covered / self.words) ** 2
        return value

    def top(self, candidates: set[int], k: int) -> Ranked:
        """The best `k` candidates with their scores, best first (ties: lower docnum first)."""
        if not candidates or k <= 0:
            return []
        bounds, body, lowest = self._bounds(candidates)
        best: list[tuple[float, int]] = []  # heap of (score, -docnum): the k best so far
        spend = self.budget.spend
        for docnum in sorted(bounds, key=bounds.__getitem__, reverse=True):
            if len(best) == k and bounds[docnum] < best[0][0]:
                break  # neither this candidate nor any after it can make the top k
            spend(8)  # a full score costs several postings' worth
            _push(best, k, self.score(docnum), docnum)
        if len(best) < k or best[0][0] <= body * lowest:
            for docnum, value in self._body_only(candidates.difference(bounds)):
                if len(best) == k and value * lowest < best[0][0]:
                    break  # `value * lowest` bounds the full score (see `_bounds`)
                spend(8)  # as above: a full score, checked against the search's deadline
                _push(best, k, self.score(docnum), docnum)
        return [(-d, s) for s, d in sorted(best, reverse=True)]

    def _bounds(self, candidates: set[int]) -> tuple[dict[int, float], float, float]:
        """An upper bound of the full score of every candidate with evidence outside the body's
        common syllables; the long body lists' maximum (`body`); and the highest factors of a
        candidate without such evidence (`lowest`), whose score is at most `body * lowest`.

        Why: the coverage and unit factors decide most rankings ("hội đồng nhân dân" written out
        versus its syllables scattered), and they depend on matches in the title, the lead, the
        `pairs` field and rare body terms ("hdnd"), whose postings are short. Those are summed
        exactly here, with which groups each document matched; only long body lists are bounded
        by their maximum. So a document's bound is (its exact evidence + the long lists' maximum)
        times its exact factors, and a document without any such evidence scores at most that
        maximum times the lowest factors. A group's score (best member plus tiebreak times the
        rest) never exceeds the sum of its members, so the bound holds.
        """
        sums: dict[int, float] = {}
        masks: dict[int, int] = {}  # bit g: head evidence in group g; bit width+g: any match in it
        get, mask_of = sums.get, masks.get
        body = 0.0
        limit = SHORT_LIST * len(candidates)
        width = len(self.groups)
        unknown = 0  # match bits of the groups with a long body list: whether they match is not known
        for number, group in enumerate(self.groups):
            head, match = 1 << number, 1 << (width + number)
            members = [(m, True) for m in group.sparse] + [(m, group.units) for m in group.dense]
            for member, in_head in members:
                bits = head | match if in_head else match
                for ids, tfs, size, scale, norms in member:
                    # a body list is read only to learn which documents have a unit ("hdnd")
                    if not in_head and (size > limit or group.kind == "word"):
                        body += scale
                        unknown |= match
                        continue
                    self.budget.spend(min(size, limit))
                    if size <= limit:
                        # a short list (titles, leads): one pass over it beats a search per match
                        matches: Any = ((d, tf) for d, tf in zip(ids, tfs, strict=True) if d in candidates)
                    else:
                        matches = ((d, tfs[bisect_left(ids, d)]) for d in intersect(candidates, ids))
                    for d, tf in matches:
                        sums[d] = get(d, 0.0) + scale * tf / (tf + norms[d])
                        masks[d] = mask_of(d, 0) | bits
        factors: dict[int, float] = {}
        bounds: dict[int, float] = {}
        for d, evidence in sums.items():
            mask = masks[d]
            factor = factors.get(mask)
            if factor is None:
                factor = factors[mask] = self._factor(mask | unknown) * _SAFETY
            bounds[d] = (evidence + body) * factor
        return bounds, body, self._factor(unknown) * _SAFETY

    def _factor(self, mask: int) -> float:
        """The highest unit and coverage factors of a document with these matches (`_bounds`'s
        mask, where a group whose long body lists were not read counts as matched)."""
        width = len(self.groups)
        covered: set[str] = set()
        pairs = 0
        for number, group in enumerate(self.groups):
            if group.slots and mask >> number & 1:
                covered.update(group.slots)
            if group.kind != "word" and mask >> (width + number) & 1:
                pairs += 1 if group.kind == "pair" else self.pairs
        return self._scaled(1.0, pairs, len(covered))

    def _body_only(self, rest: set[int]) -> Ranked:
        """The documents without evidence outside the body, best first, with their body scores.

        Without such evidence a group's score is its body members', so this is exact up to the
        tiebreak and the factors, which only lower it (`_bounds`' `lowest` bounds those).
        """
        if not rest:
            return []
        totals = dict.fromkeys(rest, 0.0)
        for group in self.groups:
            for member in group.dense:
                for ids, tfs, size, scale, norms in member:
                    self.budget.spend(size)
                    for d, tf in zip(ids, tfs, strict=True):
                        if d in totals:
                            totals[d] += scale * tf / (tf + norms[d])
        return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def _push(heap: list[tuple[float, int]], k: int, score: float, docnum: int) -> None:
    item = (score, -docnum)
    if len(heap) < k:
        heapq.heappush(heap, item)
    elif item > heap[0]:
        heapq.heapreplace(heap, item)


def _groups(query: wq.Query) -> list[wq.Query]:
    if isinstance(query, wq.Or):
        return list(query.subqueries)
    return [] if query is wq.NullQuery else [query]


def _group(engine: Engine, query: wq.Query) -> Group:
    """A DisjunctionMax becomes a group of its members; anything else, a group of one member."""
    if isinstance(query, wq.DisjunctionMax):
        members = [_clauses(engine, q, query.boost) for q in query.subqueries]
        tiebreak = query.tiebreak
    else:
        members, tiebreak = [_clauses(engine, query, 1.0)], 0.0
    sparse = [m for m in members if m and not all(c.fieldname in DENSE_FIELDS for c in m)]
    dense = [m for m in members if m and all(c.fieldname in DENSE_FIELDS for c in m)]
    slots: frozenset[str] = getattr(query, "slots", frozenset())
    units = bool(dense) and all(c.fieldname == PAIRS_FIELD for m in dense for c in m)
    kind: str = getattr(query, "kind", "word")
    return Group(
        [[c.clause for c in m] for m in sparse], [[c.clause for c in m] for m in dense], tiebreak, slots, units, kind
    )


class _Named(NamedTuple):
    fieldname: str
    clause: Clause


def _clauses(engine: Engine, query: wq.Query, factor: float) -> list[_Named]:
    """The Term leaves of a member, with their boosts multiplied down the tree."""
    found: list[_Named] = []

    def walk(q: wq.Query, boost: float) -> None:
        boost *= q.boost
        if isinstance(q, wq.Term):
            text = q.text.decode("utf-8") if isinstance(q.text, bytes) else str(q.text)
            postings = engine.postings(q.fieldname, text)
            if postings.ids and boost:
                bm25 = engine.bm25(q.fieldname, text)
                clause = Clause(postings.ids, postings.tfs, len(postings.ids), boost * bm25.scale, bm25.norms)
                found.append(_Named(q.fieldname, clause))
        elif isinstance(q, wq.CompoundQuery):
            for sub in q.subqueries:
                walk(sub, boost)

    walk(query, factor)
    return found
