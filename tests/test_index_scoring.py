"""The scorer's pruned top k is exactly the top k of scoring every candidate.

`Scorer.top` skips documents whose upper bound cannot reach the current top k; a bound that is
ever too low would silently drop a result. So the pruned answer is compared with brute force
over every matching document, on a real index of articles mixing the same syllables as units,
scattered, in titles, leads and bodies.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bantin.index import scoring
from bantin.index.analysis import fold
from bantin.index.query import match_query, parse_query, rank_query
from bantin.index.scoring import Scorer
from bantin.index.searcher import SearchIndex
from tests.test_index_helpers import article, build

UNITS = ["hội đồng nhân dân", "ủy ban", "chi bộ", "đảng viên", "kết nạp", "nông thôn mới", "hồ tiêu",
         "chuyển đổi số", "giao thông", "HĐND", "UBND", "đồng bào", "nhân viên", "dân làng", "tỉnh"]
SYLLABLES = sorted({s for unit in UNITS for s in unit.split()})


def _text(rng: random.Random, size: int) -> str:
    """Some whole units, some syllables on their own, in any order."""
    parts = [rng.choice(UNITS) if rng.random() < 0.4 else rng.choice(SYLLABLES) for _ in range(size)]
    return " ".join(parts).capitalize() + "."


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchIndex]:
    rng = random.Random(14)
    articles = [
        article(f"a{i}", _text(rng, rng.randint(2, 6)), _text(rng, rng.randint(0, 12)),
                "\n\n".join(_text(rng, rng.randint(3, 30)) for _ in range(rng.randint(0, 3))))
        for i in range(160)
    ]
    store, root = build(tmp_path_factory.mktemp("scoring"), articles)
    store.close()
    with SearchIndex.open(root) as opened:
        yield opened


def brute_force(scorer: Scorer, candidates: set[int], k: int) -> list[tuple[int, float]]:
    scored = [(d, scorer.score(d)) for d in candidates]
    scored.sort(key=lambda kv: (-kv[1], kv[0]))
    return scored[:k]


words = st.lists(st.sampled_from([*SYLLABLES, "HĐND", "UBND"]), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(words=words, folded=st.booleans(), k=st.integers(1, 25), coverage=st.booleans(), short=st.sampled_from([0, 8]))
def test_pruned_top_k_is_the_brute_force_top_k(
    index: SearchIndex, words: list[str], folded: bool, k: int, coverage: bool, short: int
) -> None:
    """`short=0` treats every body list as long, as the common syllables of a big archive are."""
    query = " ".join(words)
    parsed = parse_query(fold(query) if folded else query)
    engine = index._engine
    candidates = engine.docs(match_query(parsed))
    scorer = Scorer(engine, rank_query(parsed), coverage=coverage)
    default, scoring.SHORT_LIST = scoring.SHORT_LIST, short
    try:
        assert scorer.top(set(candidates), k) == brute_force(scorer, candidates, k)
    finally:
        scoring.SHORT_LIST = default


def test_every_unit_query_of_the_fixture_keeps_its_order(index: SearchIndex) -> None:
    """The realistic queries, pruned or not, list the same articles (a quick readable check)."""
    engine = index._engine
    for unit in UNITS:
        for query in (unit, fold(unit)):
            parsed = parse_query(query)
            candidates = engine.docs(match_query(parsed))
            scorer = Scorer(engine, rank_query(parsed))
            assert scorer.top(set(candidates), 10) == brute_force(scorer, candidates, 10), query


def test_an_abbreviation_only_in_the_body_is_not_pruned(tmp_path: Path) -> None:
    """"HĐND" in the body counts as the whole unit "hội đồng nhân dân", though the scorer does not
    read the body's long lists to know which documents have it: its bound must assume they may."""
    scattered = [
        article(f"s{i}", "Tin trong tuần", "Tin vắn.", "Hội chợ mở. Đồng lúa chín. Nhân viên làm việc. Dân vui.")
        for i in range(3)
    ]
    others = [article(f"o{i}", "Tin khác", "Tin vắn.", "Mưa to gió lớn." + " HĐND họp." * (i < 8)) for i in range(30)]
    unit = article("unit", "Tin trong tuần", "Tin vắn.", "Kỳ họp HĐND xã thông qua nghị quyết.")
    store, root = build(tmp_path, [*scattered, *others, unit])
    store.close()
    with SearchIndex.open(root) as opened:
        engine = opened._engine
        for query in ("hội đồng nhân dân", "hoi dong nhan dan"):
            parsed = parse_query(query)
            candidates = engine.docs(match_query(parsed))
            scorer = Scorer(engine, rank_query(parsed))
            default, scoring.SHORT_LIST = scoring.SHORT_LIST, 0
            try:
                for k in (1, 2, 3):
                    assert scorer.top(set(candidates), k) == brute_force(scorer, candidates, k), (query, k)
            finally:
                scoring.SHORT_LIST = default
