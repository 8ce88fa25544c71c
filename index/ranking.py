"""Ranking a parsed query: which articles, in which order, and how many in all.

1. Strict: every word must match (`index.query.match_query`; an abbreviation or its expansion
   counts as the words it stands for). If a date filter finds nothing, the date is read as words
   instead (the shared archive has no dates; a year can also be a word), then dropped, and
   `date_dropped` says so to the user.
2. No strict match at all: relax to "all words but one", then (for longer queries) "at least half
   the words". Only then, so "no article contains every word" is true whenever it is shown.
3. Score with `index.scoring` (BM25 per word and word pair, best field wins, times coverage).
4. Re-rank the best few from their stored text, which the index does not fully hold: whether the
   words typed with accents appear with exactly those accents (every word counts once the query
   has any accent: "tam" typed beside "bạc" means "tam", not "tạm"): a bonus in title or lead, a
   penalty when a word is found only with other accents; and whether adjacent query words are
   adjacent in the body too.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter

from whoosh.query import Term
from whoosh.searching import Searcher

from bantin.index import phrases
from bantin.index.analysis import fold, place_tone, query_syllables, word_start_matches
from bantin.index.budget import Budget
from bantin.index.engine import Engine
from bantin.index.query import ParsedQuery, exclusion_query, match_query, rank_query
from bantin.index.scoring import Ranked, Scorer

#: Without positions (an old index), quoted phrases are checked against the stored text of at
#: most this many candidates.
PHRASE_CANDIDATES = 1000
#: How many of the best candidates are re-ranked from their stored text.
RERANK_DEPTH = 20
#: Re-rank factors: 1 + EXACT_HEAD * share² for the share of adjacent query pairs (or, for one
#: word, of words) in title + lead with exactly the typed accents; 1 - MISACCENT * share for the
#: share of words found (folded) but never with their typed accents; 1 + BODY_PAIR * share for
#: the share of adjacent query pairs adjacent in the body.
EXACT_HEAD = 0.5
MISACCENT = 0.5
BODY_PAIR = 0.2
#: How much of the body the re-ranker reads.
BODY_CHARS = 3000


class Ranking:
    """Runs a parsed query; `docs` holds (docnum, score) of the first `limit` results in order."""

    def __init__(self, engine: Engine, searcher: Searcher, parsed: ParsedQuery, *, newest: bool, limit: int,
                 budget: Budget | None = None) -> None:
        self.engine = engine
        self.searcher = searcher
        self.budget = budget if budget is not None else Budget()
        self.newest = newest
        self.limit = limit
        self.relaxed = False
        self.parsed = parsed
        #: The period ("2023", "2023-09") of a date filter that nothing matched, so it was lifted.
        self.date_dropped: str | None = None
        self.total, self.docs = self._run(parsed)
        if self.total == 0 and parsed.period is not None and (parsed.words or parsed.date_words):
            self.date_dropped = parsed.period
            dated = parsed
            self.parsed = parsed = dated.without_date()
            self.total, self.docs = self._run(parsed)
            if self.total == 0 and dated.words:
                self.parsed = parsed = dated.without_date(as_words=False)
                self.total, self.docs = self._run(parsed)
        self.strict_total = self.total
        words = len({w.folded for w in parsed.words})
        if self.total == 0 and words > 1:
            for minimum in sorted({max(1, words - 1), max(1, (words + 1) // 2)}, reverse=True):
                self.budget.check()
                total, docs = self._run(parsed, minimum=minimum)
                if total:
                    self.total, self.docs, self.relaxed = total, docs, True
                    break

    @property
    def highlight(self) -> tuple[str, ...]:
        """The folded words to mark in snippets (with the other spellings of abbreviations)."""
        words = [w.folded for w in self.parsed.words]
        words += [w.folded for alt in self.parsed.alternatives for form in alt.forms for w in form]
        return tuple(dict.fromkeys(words))

    @property
    def exact(self) -> dict[str, str]:
        """Folded word → the spelling typed, when the query has accents (see `_rerank`)."""
        words = self.parsed.words
        if not any(w.accented for w in words):
            return {}
        return {w.folded: w.exact for w in words}

    def _run(self, parsed: ParsedQuery, *, minimum: int | None = None) -> tuple[int, Ranked]:
        """Total and best results: all words must match, or (relaxed) at least `minimum` of them."""
        engine = self.engine
        self.budget.check()
        allowed: set[int] | None = None
        if parsed.period is not None:
            allowed = engine.docs(Term("period", parsed.period))
            if not allowed:
                return 0, []
        if not parsed.words:  # a date alone: everything from then, newest first
            assert allowed is not None
            return len(allowed), self._newest(None, allowed)
        matched = engine.docs(match_query(parsed)) if minimum is None else self._at_least(parsed, minimum)
        if allowed is not None:
            matched &= allowed
        scorer = Scorer(engine, rank_query(parsed), budget=self.budget)
        if parsed.phrases:
            matched = self._phrase_filter(parsed, scorer, matched)
        if self.newest:
            return len(matched), self._newest(scorer, matched)
        best = scorer.top(matched, max(self.limit, RERANK_DEPTH))
        return len(matched), self._rerank(parsed, best)[: self.limit]

    def _at_least(self, parsed: ParsedQuery, minimum: int) -> set[int]:
        counts: Counter[int] = Counter()
        for word in dict.fromkeys(w.folded for w in parsed.words):
            counts.update(self.engine.postings("text", word).ids)
        matched = {docnum for docnum, count in counts.items() if count >= minimum}
        return matched - self.engine.docs(exclusion_query(parsed))

    def _newest(self, scorer: Scorer | None, matched: set[int]) -> Ranked:
        """Newest first; among equally dated (or undated) articles, best first."""
        published = self.engine.column("published_ts")
        order = sorted(matched, key=lambda d: (-published[d], d))
        if len(order) > self.limit:
            cutoff = published[order[self.limit - 1]]
            newer = [d for d in order if published[d] > cutoff]
            tied = {d for d in matched if published[d] == cutoff}
        else:
            newer, tied = order, set()
        ranked = [(d, scorer.score(d) if scorer else 0.0) for d in newer]
        ranked.sort(key=lambda kv: (-published[kv[0]], -kv[1], kv[0]))
        need = self.limit - len(ranked)
        if tied and need > 0:
            ranked += scorer.top(tied, need) if scorer else [(d, 0.0) for d in sorted(tied)[:need]]
        return ranked[: self.limit]

    def _phrase_filter(self, parsed: ParsedQuery, scorer: Scorer, matched: set[int]) -> set[int]:
        """Quoted phrases: keep the candidates that have every phrase (see `index.phrases`).

        An index without positions falls back to reading the stored text of the best
        `PHRASE_CANDIDATES` only, so with more candidates than that the total counts what was checked.
        """
        try:
            folded = [tuple(w.folded for w in p) for p in parsed.phrases]
            return phrases.by_positions(self.engine, folded, matched, self.budget)
        except phrases.NoPositions:
            best = [docnum for docnum, _ in scorer.top(matched, PHRASE_CANDIDATES)]
            return phrases.by_stored_text(self.engine, parsed.phrases, best, self.budget)

    def _rerank(self, parsed: ParsedQuery, best: Ranked) -> Ranked:
        words = parsed.words
        if not best or not words:
            return best
        pairs = [(a.folded, b.folded) for a, b in itertools.pairwise(words) if b.joined and a.folded != b.folded]
        pair_patterns = [_pair_pattern(a, b) for a, b in pairs]
        # Once any word carries accents, every word is taken as typed ("tam" beside "bạc" is not
        # "tạm"); a query without any accent says nothing about them.
        exact = {w.exact for w in words} if any(w.accented for w in words) else set()
        if not exact and not pair_patterns:
            return best
        # words an abbreviation may stand for ("HĐND") are not required to be spelled out
        spelled = sorted(exact - {w.exact for alt in parsed.alternatives for w in words[alt.start : alt.end]})
        accent_patterns = [_accent_pattern(word) for word in spelled]
        exact_pairs = {(a.exact, b.exact) for a, b in itertools.pairwise(words) if b.joined} if exact else set()
        depth = min(len(best), RERANK_DEPTH)
        rescored: Ranked = []
        for docnum, score in best[:depth]:
            fields, body, memo = self.engine.stored(docnum)
            factor = 1.0
            if exact:
                syllables = [s for s, _ in query_syllables(f"{fields.get('title') or ''}\n{fields.get('lead') or ''}")]
                head = set(syllables)
                if exact_pairs:  # units spelled as typed, not the same syllables scattered
                    found_pairs = exact_pairs & set(itertools.pairwise(syllables))
                    factor *= 1.0 + EXACT_HEAD * (len(found_pairs) / len(exact_pairs)) ** 2
                else:
                    factor *= 1.0 + EXACT_HEAD * (len(exact & head) / len(exact)) ** 2
                lower = memo.get("lower")
                if lower is None:
                    lower = memo["lower"] = unicodedata.normalize("NFC", body[:BODY_CHARS]).lower()
                missing = sum(
                    1 for word, p in zip(spelled, accent_patterns, strict=True)
                    if word not in head and not next(word_start_matches(p, lower), None)
                )
                factor *= 1.0 - MISACCENT * missing / len(exact)
            if pair_patterns:
                folded = memo.get("rerank")
                if folded is None:
                    folded = memo["rerank"] = fold(body[:BODY_CHARS]).lower()
                found = sum(1 for p in pair_patterns if next(word_start_matches(p, folded), None))
                factor *= 1.0 + BODY_PAIR * found / len(pair_patterns)
            rescored.append((docnum, score * factor))
        rescored.sort(key=lambda kv: (-kv[1], kv[0]))
        return rescored + best[depth:]


def _accent_pattern(exact: str) -> re.Pattern[str]:
    """A syllable with exactly these accents, in either tone placement ("hòa" and "hoà")."""
    spellings = {exact, place_tone(exact, modern=True)}
    return re.compile("(?:" + "|".join(map(re.escape, sorted(spellings))) + r")(?![^\W_])")


def _pair_pattern(left: str, right: str) -> re.Pattern[str]:
    # begins a word: checked by word_start_matches, not a lookbehind (see there)
    return re.compile(re.escape(left) + r"[\s\-]+" + re.escape(right) + r"(?![^\W_])")
