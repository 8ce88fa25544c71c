"""Full builds write a segment per batch (bounded memory), and catching up never merges big segments (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from whoosh import index as whoosh_index

from bantin.articles.store import ArticleStore
from bantin.index import bulk, codec, maintenance
from bantin.index.bulk import TermPool
from bantin.index.layout import current_generation
from bantin.index.maintenance import rebuild_index, update_index
from bantin.index.schema import SCHEMA
from bantin.index.searcher import SearchIndex
from tests.test_index_maintenance import synthetic

QUERIES = ["đảng viên", "nong thon moi", "cà phê lúa", "\"giao thông\"", "thanh niên -lúa", "2019"]


def segment_sizes(root: Path) -> list[int]:
    generation = current_generation(root)
    assert generation is not None
    ix = whoosh_index.open_dir(str(generation), schema=SCHEMA)
    return sorted(s.doc_count_all() for s in ix._segments())


def answers(root: Path) -> list[tuple[int, list[str]]]:
    with SearchIndex.open(root) as index:
        out = []
        for query in QUERIES:
            for sort in ("relevance", "newest"):
                page = index.search(query, per_page=10, sort=sort)
                out.append((page.total, [hit.id for hit in page.results]))
        return out


def scored_answers(root: Path) -> list[tuple[list[object], list[float]]]:
    """Per query, sort and page (1–2): the total and ids, and the scores."""
    with SearchIndex.open(root) as index:
        out: list[tuple[list[object], list[float]]] = []
        for query in QUERIES:
            for sort in ("relevance", "newest"):
                for page_number in (1, 2):
                    page = index.search(query, page=page_number, per_page=10, sort=sort)
                    out.append(([page.total, *(hit.id for hit in page.results)], [hit.score for hit in page.results]))
        return out


@pytest.mark.parametrize(("workers", "largest"), [(1, 80), (2, 40), (4, 20)])
def test_without_a_batch_setting_more_build_processes_write_smaller_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int, largest: int
) -> None:
    """The default batch is a memory budget for all build processes together: 4 cores hold no
    more articles at once than 2 (the measured default), and one process holds all of it."""
    monkeypatch.setattr(bulk, "BATCH", 40)  # per process on 2, as `BATCH` is measured
    with ArticleStore(tmp_path / "articles.sqlite") as store:
        store.upsert_many(synthetic(230))
        rebuild_index(store, tmp_path / "index", workers=workers)
    sizes = segment_sizes(tmp_path / "index")
    assert sum(sizes) == 230 and max(sizes) == largest


@pytest.mark.parametrize("workers", [1, 2])
def test_a_full_build_writes_one_segment_per_batch_and_finds_the_same(tmp_path: Path, workers: int) -> None:
    with ArticleStore(tmp_path / "articles.sqlite") as store:
        store.upsert_many(synthetic(230))
        rebuild_index(store, tmp_path / "whole", workers=workers)
        rebuild_index(store, tmp_path / "batched", workers=workers, batch=50)
    assert segment_sizes(tmp_path / "whole") == sorted(segment_sizes(tmp_path / "whole"))
    assert len(segment_sizes(tmp_path / "whole")) == workers
    batched = segment_sizes(tmp_path / "batched")
    assert sum(batched) == 230 and max(batched) == 50 and len(batched) >= 230 // 50
    assert answers(tmp_path / "batched") == answers(tmp_path / "whole")
    # the scores too, and the second pages: the segments a build writes change no result
    whole, batched_scores = scored_answers(tmp_path / "whole"), scored_answers(tmp_path / "batched")
    assert [ids for ids, _ in batched_scores] == [ids for ids, _ in whole]
    for (_, scores), (_, expected) in zip(batched_scores, whole, strict=True):
        assert scores == pytest.approx(expected, rel=0, abs=1e-9)


def test_catching_up_merges_small_segments_but_never_the_batches(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: Whoosh's MERGE_SMALL merged nearly every segment of a batched build into the
    first catch-up's (its Fibonacci rule), rewriting the whole index to add a few articles."""
    monkeypatch.setattr(maintenance, "SMALL_SEGMENT", 20)
    monkeypatch.setattr(maintenance, "MERGE_FANOUT", 3)
    root = tmp_path / "index"
    with ArticleStore(tmp_path / "articles.sqlite") as store:
        store.upsert_many(synthetic(240))
        rebuild_index(store, root, workers=1, batch=24)
        assert segment_sizes(root) == [24] * 10
        store.upsert_many(synthetic(5, seed=2, prefix="new-a"))
        update_index(store, root)
        assert segment_sizes(root) == [5] + [24] * 10
        store.upsert_many(synthetic(4, seed=3, prefix="new-b"))
        update_index(store, root)
        assert segment_sizes(root) == [4, 5] + [24] * 10
        store.upsert_many(synthetic(3, seed=4, prefix="new-c"))
        update_index(store, root)
        assert segment_sizes(root) == [3, 4, 5] + [24] * 10
        store.upsert_many(synthetic(2, seed=5, prefix="new-d"))
        update_index(store, root)  # three small ones: merged into this commit's segment
        assert segment_sizes(root) == [14] + [24] * 10
        with SearchIndex.open(root) as index:
            assert index.doc_count() == 254


def test_index_batch_setting() -> None:
    from bantin.bot.settings import SettingsError, load_settings

    assert load_settings({}).index_batch is None  # the index's own default
    assert load_settings({"BANTIN_INDEX_BATCH": "20000"}).index_batch == 20000
    for bad in ("0", "499", "-5", "lots"):
        with pytest.raises(SettingsError, match="BANTIN_INDEX_BATCH"):
            load_settings({"BANTIN_INDEX_BATCH": bad})


def test_reindex_full_writes_segments_of_the_configured_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from bantin.bot.cli import main

    data = tmp_path / "data"
    data.mkdir()
    with ArticleStore(data / "articles.sqlite") as store:
        store.upsert_many(synthetic(1100))
    monkeypatch.setenv("BANTIN_DATA_DIR", str(data))
    monkeypatch.setenv("BANTIN_INDEX_BATCH", "500")
    monkeypatch.chdir(tmp_path)
    assert main(["reindex", "--full", "--json"]) == 0
    assert segment_sizes(data / "index") == [100, 500, 500]


def test_the_term_pool_writes_exactly_the_postings_whooshs_pool_writes(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def postings(root: Path) -> list[tuple[object, ...]]:
        generation = current_generation(root)
        assert generation is not None
        with whoosh_index.open_dir(str(generation), schema=SCHEMA).reader() as reader:
            return [*reader.iter_postings(), *(tuple(sorted(d.items())) for d in reader.all_stored_fields())]

    def segment_files(root: Path) -> list[dict[str, bytes]]:
        """Every segment's files (postings, terms, columns), named without the segment's id."""
        generation = current_generation(root)
        assert generation is not None
        ix = whoosh_index.open_dir(str(generation), schema=SCHEMA)
        out = []
        for segment in ix._segments():
            files = segment.open_compound_file(ix.storage)
            out.append({name.split(".", 1)[1]: files.open_file(name).read() for name in files.list()})
        return out

    monkeypatch.setattr(codec, "BLOCK", 128)  # posting blocks smaller than the commonest terms' lists
    with ArticleStore(tmp_path / "articles.sqlite") as store:
        store.upsert_many(synthetic(300))
        rebuild_index(store, tmp_path / "ours", workers=1, batch=250)
        monkeypatch.setattr(maintenance, "with_term_pool", lambda writer: writer)
        rebuild_index(store, tmp_path / "whoosh", workers=1, batch=250)
    ours = postings(tmp_path / "ours")
    assert len(ours) > 10_000
    assert ours == postings(tmp_path / "whoosh")
    # byte for byte, block statistics included; some terms span several posting blocks (128)
    assert segment_files(tmp_path / "ours") == segment_files(tmp_path / "whoosh")
    generation = current_generation(tmp_path / "ours")
    assert generation is not None
    with whoosh_index.open_dir(str(generation), schema=SCHEMA).reader() as reader:
        assert max(reader.doc_frequency("text", term) for term in reader.lexicon("text")) > codec.BLOCK


_POSTING = st.tuples(st.sampled_from(["lead", "pairs", "text", "id"]), st.binary(max_size=4), st.booleans(),
                     st.floats(allow_nan=False, width=64), st.one_of(st.just(b""), st.none(), st.binary(max_size=6)))


@given(st.lists(_POSTING, max_size=300))
def test_the_term_pool_yields_its_postings_in_field_term_and_docnum_order(draws: list[tuple]) -> None:
    """Documents are added in docnum order (a posting for the next document, or the same one);
    the pool must give back every posting, values and weights as given, sorted as Whoosh's writer
    needs them."""
    pool, added, docnum = TermPool(), [], 0
    for fieldname, term, next_doc, weight, value in draws:
        docnum += next_doc
        item = (fieldname, term, docnum, weight, value)
        pool.add(item)
        added.append(item)
    got = list(pool.iter_postings())
    assert got == sorted(added, key=lambda item: item[:3])
    assert [type(item[4]) for item in got] == [type(item[4]) for item in sorted(added, key=lambda item: item[:3])]
    pool.cleanup()
    assert list(pool.iter_postings()) == []


def test_search_cache_setting() -> None:
    from bantin.bot.settings import SettingsError, load_settings
    from bantin.index.engine import CACHE_BUDGET

    assert load_settings({}).search_cache == CACHE_BUDGET  # 96 MB of 8-byte postings
    assert load_settings({"BANTIN_SEARCH_CACHE_MB": "32"}).search_cache == 4_000_000
    for bad in ("0", "7", "5000", "big"):
        with pytest.raises(SettingsError, match="BANTIN_SEARCH_CACHE_MB"):
            load_settings({"BANTIN_SEARCH_CACHE_MB": bad})


def test_a_small_postings_cache_stays_small_and_finds_the_same(tmp_path: Path) -> None:
    with ArticleStore(tmp_path / "articles.sqlite") as store:
        store.upsert_many(synthetic(200))
        rebuild_index(store, tmp_path / "index", workers=1)
    expected = answers(tmp_path / "index")
    with SearchIndex.open(tmp_path / "index", cache=300) as index:
        for _ in range(2):
            got = []
            for query in QUERIES:
                for sort in ("relevance", "newest"):
                    page = index.search(query, per_page=10, sort=sort)
                    got.append((page.total, [hit.id for hit in page.results]))
                    engine = index._engine
                    assert engine._cached <= 300 or len(engine._cache) == 1
            assert got == expected
