"""Quoted phrases from positions: the same answers as reading the stored texts, for bounded work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bantin.articles.store import ArticleStore
from bantin.index import phrases
from bantin.index.analysis import vietnamese_analyzer
from bantin.index.budget import Budget
from bantin.index.engine import Engine, NoPositions
from bantin.index.maintenance import rebuild_index
from bantin.index.query import match_query, parse_query
from bantin.index.ranking import RERANK_DEPTH
from bantin.index.schema import decode_positions, encode_positions
from bantin.index.searcher import SearchIndex
from tests.conftest import corpus_articles
from tests.test_index_helpers import article, build

#: Phrases of the archive's most common syllables (each in most articles), and a few names.
COMMON = ['"của các"', '"cho biết"', '"trong những năm"', '"đã được"', '"của các" "cho biết"',
          '"thành phố hồ chí minh"', '"người dân"', '"các cơ quan" chức năng', '"có thể" -"không"',
          '"đảng viên"', '"ủy ban nhân dân"', '"ngày ngày"']


@given(st.lists(st.integers(0, 200_000), min_size=1, max_size=60, unique=True))
def test_positions_survive_encoding(positions: list[int]) -> None:
    positions.sort()
    assert list(decode_positions(encode_positions(positions))) == positions


def test_punctuation_leaves_a_gap_a_phrase_cannot_cross() -> None:
    analyzer = vietnamese_analyzer(exact=False, bigrams=False)
    tokens = [(t.text, t.pos) for t in analyzer("Hà Nội. Đảng viên - chi bộ\n\nmới, cũ", positions=True, mode="index")]
    assert tokens == [("ha", 0), ("noi", 1), ("dang", 3), ("vien", 4), ("chi", 5), ("bo", 6), ("moi", 7),
                      ("cu", 9)]


def test_phrases_across_punctuation_and_paragraphs(tmp_path: Path) -> None:
    store, root = build(tmp_path, [
        article("dot", "Hà Nội. Đảng bộ"),
        article("space", "Hà Nội đảng bộ"),
        article("paragraph", "Tin Hà", "Nội thành"),
        article("hyphen", "Hà-Nội mới"),
    ])
    store.close()
    with SearchIndex.open(root) as index:
        assert {h.id for h in index.search('"nội đảng"').results} == {"space"}
        assert {h.id for h in index.search('"hà nội"').results} == {"space", "dot", "paragraph", "hyphen"}


def test_fields_without_positions_say_so(tmp_path: Path) -> None:
    store, root = build(tmp_path, [article("a", "Đảng viên mới")])
    store.close()
    with SearchIndex.open(root) as index:
        engine = index._engine
        with pytest.raises(NoPositions):
            engine.positions("title", "dang", {0}, Budget())  # title keeps only counts


# -- on real articles -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchIndex]:
    folder = tmp_path_factory.mktemp("phrases")
    with ArticleStore(folder / "articles.sqlite") as store:
        store.upsert_many(corpus_articles(3000))
        rebuild_index(store, folder / "index", workers=2)
    with SearchIndex.open(folder / "index") as index:
        yield index


def old_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """The implementation before positions: the stored texts of the best 1,000 candidates."""

    def no_positions(*args: object) -> set[int]:
        raise NoPositions("text")

    monkeypatch.setattr(phrases, "by_positions", no_positions)


@pytest.mark.corpus
@pytest.mark.parametrize("query", COMMON)
def test_positions_find_exactly_what_the_stored_texts_have(corpus: SearchIndex, query: str) -> None:
    engine, parsed = corpus._engine, parse_query(query)
    candidates = engine.docs(match_query(parsed))
    folded = [tuple(w.folded for w in p) for p in parsed.phrases]
    found = phrases.by_positions(engine, folded, candidates, Budget())
    # brute force: every candidate's stored text, folded and searched
    assert found == phrases.by_stored_text(engine, parsed.phrases, sorted(candidates), Budget())


@pytest.mark.corpus
@pytest.mark.parametrize("query", COMMON)
def test_phrase_results_are_those_of_before(corpus: SearchIndex, query: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    now = corpus.search(query, per_page=10)
    with monkeypatch.context() as patch:
        old_way(patch)
        before = corpus.search(query, per_page=10)
    assert now.total >= before.total  # the old check missed matches beyond its 1,000 candidates
    if before.total >= 10:
        assert [h.id for h in now.results] == [h.id for h in before.results]
    else:
        assert now == before


@pytest.mark.corpus
def test_a_common_phrase_reads_no_stored_text_and_its_work_is_bounded(corpus: SearchIndex,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    engine = corpus._engine
    parsed = parse_query('"của các"')
    candidates = engine.docs(match_query(parsed))
    assert len(candidates) > 1000  # common: more than the old check ever read
    budget = Budget()
    found = phrases.by_positions(engine, [("cua", "cac")], candidates, budget)
    assert found and budget.texts == 0
    # at most: each word's postings scanned once, and its positions in the candidates decoded and compared
    postings = [engine.postings("text", w) for w in ("cua", "cac")]
    assert budget.work <= sum(len(p.ids) + 2 * int(sum(p.tfs)) for p in postings)

    # the whole search reads stored text only for what it shows and re-ranks (the shown page and
    # the next one, read to collapse near-duplicates, are among the re-ranked best)
    reads: list[int] = []
    stored = Engine.stored
    monkeypatch.setattr(Engine, "stored", lambda self, docnum: reads.append(docnum) or stored(self, docnum))
    page = corpus.search('"của các"', per_page=5)
    assert page.total == len(found) and len(set(reads)) <= RERANK_DEPTH
