"""Positions apart (`index.codec`): searches read no positions, phrases find the same, and
segments written before the layout (an old codec) stay readable and mergeable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec, W3LeafMatcher

from bantin.articles.model import Article
from bantin.index import codec, maintenance
from bantin.index.budget import Budget
from bantin.index.codec import ApartLeafMatcher, BantinCodec
from bantin.index.engine import Engine, NoPositions
from bantin.index.maintenance import update_index
from bantin.index.schema import SCHEMA, TermCounts, article_document, build_schema
from bantin.index.searcher import SearchIndex
from tests.test_index_helpers import article, build

ARTICLES = [
    article("a", "Hội đồng nhân dân tỉnh họp", "Kỳ họp thứ năm của hội đồng nhân dân.", "Đại biểu chất vấn."),
    article("b", "Nhân dân góp ý", "Hội đồng thẩm định dự án đường.", "Người dân đồng tình với hội đồng."),
    article("c", "Giá lúa tăng", "Nông dân phấn khởi.", "Hội nông dân tỉnh cho biết giá lúa tăng."),
    article("d", "Đường mới", "Hội đồng nhân dân xã duyệt dự án.", "Đường nối hai xã đã được khởi công."),
]
#: Words searched (no phrase), then quoted phrases.
PLAIN = ["hội đồng", "nhân dân", "giá lúa", "dự án đường", "nông dân tỉnh"]
QUOTED = ['"hội đồng nhân dân"', '"nhân dân góp"', '"giá lúa tăng"', '"dân tỉnh"', '"đồng nhân" dự án']


def old_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writers get a codec like those pickled before the layout: no `positions_apart` of its own."""

    def init(self: BantinCodec, *args: Any, **kwargs: Any) -> None:
        W3Codec.__init__(self, *args, **kwargs)

    monkeypatch.setattr(BantinCodec, "__init__", init)


def answers(root: Path, queries: list[str]) -> dict[str, list[tuple[str, float]]]:
    with SearchIndex.open(root) as index:
        return {q: [(h.id, round(h.score, 6)) for h in index.search(q).results] for q in queries}


def segment_codecs(root: Path) -> list[bool]:
    """`positions_apart` of each segment's (unpickled) codec."""
    with SearchIndex.open(root) as index:
        return [s.segment().codec().positions_apart for s, _ in index._engine._leaves]


class CountingFile:
    """A segment's ".pos" subfile that records which terms read it."""

    def __init__(self, file: Any, seen: list[str], term: str) -> None:
        self._file, self._seen, self._term = file, seen, term

    def get(self, position: int, length: int) -> bytes:
        self._seen.append(self._term)
        return bytes(self._file.get(position, length))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records every read of a ".pos" subfile (by term), and every decoding of old-layout values."""
    seen: list[str] = []
    apart_init = ApartLeafMatcher.__init__

    def counting_init(self: ApartLeafMatcher, postfile: Any, posfile: Any, *args: Any, **kwargs: Any) -> None:
        apart_init(self, postfile, CountingFile(posfile, seen, kwargs["term"][1].decode("utf-8")), *args, **kwargs)

    old_values = W3LeafMatcher._read_values

    def counting_values(self: W3LeafMatcher) -> None:
        seen.append(self._term[1].decode("utf-8"))
        old_values(self)

    monkeypatch.setattr(ApartLeafMatcher, "__init__", counting_init)
    monkeypatch.setattr(W3LeafMatcher, "_read_values", counting_values)
    yield seen


def test_new_segments_keep_positions_in_their_own_subfile(tmp_path: Path) -> None:
    store, root = build(tmp_path, ARTICLES)
    store.close()
    assert segment_codecs(root) == [True]
    with SearchIndex.open(root) as index:
        sub = index._engine._leaves[0][0]
        matcher = sub.postings("text", "hoi")
        assert isinstance(matcher, ApartLeafMatcher)
        matcher._read_data()
        offset, length = matcher._data[2]  # the block holds where its values are, not them
        assert isinstance(offset, int) and length > 0
        assert matcher.value()  # and they are read from there
        assert not isinstance(sub.postings("title", "hoi"), ApartLeafMatcher)  # counts only: no values


def test_searches_without_a_phrase_read_no_positions(tmp_path: Path, reads: list[str]) -> None:
    store, root = build(tmp_path, ARTICLES)
    store.close()
    with SearchIndex.open(root) as index:
        for query in PLAIN:
            assert index.search(query).results
        assert reads == []
        assert {h.id for h in index.search('"hội đồng nhân dân"').results} == {"a", "d"}
    assert reads  # the phrase did read them: the recording works


def test_an_index_of_the_old_codec_searches_and_matches_phrases_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_store, new_root = build(tmp_path / "new", ARTICLES)
    new_store.close()
    with monkeypatch.context() as patch:
        old_codec(patch)
        old_store, old_root = build(tmp_path / "old", ARTICLES)
        old_store.close()
    assert segment_codecs(old_root) == [False]
    assert not list((old_root).glob("*/*.pos"))
    before, after = answers(old_root, PLAIN + QUOTED), answers(new_root, PLAIN + QUOTED)
    assert after == before
    assert {i for i, _ in after['"hội đồng nhân dân"']} == {"a", "d"}
    with SearchIndex.open(old_root) as index:
        engine = index._engine
        assert set(engine.positions("text", "hoi", {0, 1, 2, 3}, Budget())) == {0, 1, 2, 3}


def test_a_merge_of_old_and_new_segments_keeps_positions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        old_codec(patch)
        store, root = build(tmp_path, ARTICLES[:2])  # one segment in the old layout
    monkeypatch.setattr(maintenance, "MERGE_FANOUT", 2)
    added: list[Article] = [
        article("e", "Hội đồng nhân dân phường", "Giám sát chợ."),
        article("f", "Chợ mới", "Nhân dân góp vốn xây chợ."),
    ]
    for new in added:  # each catch-up writes a new-layout segment; the second merges the others in
        store.upsert_many([new])
        update_index(store, root)
    store.close()
    assert segment_codecs(root) == [True]  # the old segment was merged into a new one
    found = answers(root, ['"hội đồng nhân dân"', '"nhân dân góp"', '"giám sát chợ"'])
    assert {i for i, _ in found['"hội đồng nhân dân"']} == {"a", "e"}
    assert {i for i, _ in found['"nhân dân góp"']} == {"b", "f"}
    assert {i for i, _ in found['"giám sát chợ"']} == {"e"}


def test_mixed_segments_answer_phrases_from_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        old_codec(patch)
        store, root = build(tmp_path, ARTICLES)
    store.upsert_many([article("e", "Hội đồng nhân dân phường", "Giám sát chợ.")])
    update_index(store, root)  # a second segment, not merged: one of each layout
    store.close()
    assert sorted(segment_codecs(root)) == [False, True]
    found = answers(root, ['"hội đồng nhân dân"'])
    assert {i for i, _ in found['"hội đồng nhân dân"']} == {"a", "d", "e"}


@pytest.mark.parametrize("apart", [True, False])
def test_a_text_field_written_without_positions_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        apart: bool) -> None:
    """As before positions existed (schema version 1): `text` kept counts only, in either layout."""
    schema = build_schema()
    schema["text"].format = TermCounts()
    if not apart:
        old_codec(monkeypatch)
    ix = whoosh_index.create_in(str(tmp_path), schema)
    writer = ix.writer(codec=BantinCodec())
    writer.add_document(**article_document(ARTICLES[0]))
    writer.commit()
    with whoosh_index.open_dir(str(tmp_path), schema=SCHEMA).reader() as reader:
        engine = Engine(reader)
        assert list(engine.postings("text", "hoi").ids) == [0]
        with pytest.raises(NoPositions):
            engine.positions("text", "hoi", {0}, Budget())


def test_long_lists_read_the_same_whatever_the_block_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists over several blocks (`BLOCK`): the same postings, positions and results as Whoosh's
    128 a block, the size older segments were written with."""
    articles = [
        article(f"n{i:04d}", f"Tin số {i} về hội đồng nhân dân" if i % 3 else f"Tin số {i}",
                "Nhân dân tỉnh góp ý." if i % 2 else "Hội đồng họp.", "hội đồng " * (i % 5) + "nhân dân xã")
        for i in range(1300)
    ]
    with monkeypatch.context() as patch:
        patch.setattr(codec, "BLOCK", 128)
        _, small = build(tmp_path / "small", articles)
    _, large = build(tmp_path / "large", articles)

    def read(root: Path) -> tuple[object, ...]:
        with SearchIndex.open(root) as index:
            engine = index._engine
            docs = set(range(0, 1300, 7))
            assert [s.segment().codec()._blocklimit for s, _ in engine._leaves] == [128 if root == small else 512]
            return tuple(
                (list(p.ids), list(p.tfs), engine.positions("text", word, docs, Budget()))
                for word in ("hoi", "dong", "nhan", "dan", "xa")
                for p in [engine.postings("text", word)]
            )

    assert read(small) == read(large)
    queries = ["hội đồng", "nhân dân xã", '"hội đồng nhân dân"', '"dân xã"', "tin số 700"]
    assert answers(small, queries) == answers(large, queries)
