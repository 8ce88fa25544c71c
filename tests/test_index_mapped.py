"""Index files are read from the memory map, not copied into each process (issue 16)."""

from __future__ import annotations

import io
import os
import pickle
import random
import tracemalloc
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bantin.index.mapped import MappedFile
from bantin.index.searcher import SearchIndex
from tests.test_index_helpers import article, build

_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.integers(-1, 40)),
        st.tuples(st.just("readline"), st.integers(-1, 40)),
        st.tuples(st.just("seek"), st.integers(0, 80), st.sampled_from([os.SEEK_SET, os.SEEK_CUR, os.SEEK_END])),
        st.tuples(st.just("readinto"), st.integers(0, 40)),
        st.tuples(st.just("peek"), st.integers(0, 9000)),
    ),
    max_size=30,
)


@given(st.binary(max_size=64), _OPS)
def test_mapped_file_reads_like_bytesio(data: bytes, ops: list[tuple[object, ...]]) -> None:
    mapped, reference = MappedFile(memoryview(data)), io.BytesIO(data)
    for op in ops:
        if op[0] == "seek":
            offset, whence = int(op[1]), int(op[2])  # type: ignore[call-overload]
            if whence != os.SEEK_SET:
                offset -= 40  # relative seeks go both ways (never before the start)
                offset = max(offset, -reference.tell() if whence == os.SEEK_CUR else -len(data))
            assert mapped.seek(offset, whence) == reference.seek(offset, whence)
        elif op[0] == "peek":  # what comes next, without moving (pickle.load prefetches with it)
            ahead = mapped.peek(int(op[1]))  # type: ignore[call-overload]
            rest = data[reference.tell() :]
            assert rest.startswith(ahead) and (ahead or not rest)
        elif op[0] == "readinto":
            a, b = bytearray(int(op[1])), bytearray(int(op[1]))  # type: ignore[call-overload]
            assert mapped.readinto(a) == reference.readinto(b)
            assert a == b
        else:
            method = str(op[0])
            assert getattr(mapped, method)(op[1]) == getattr(reference, method)(op[1])
        assert mapped.tell() == reference.tell()


def test_mapped_file_unpickles_in_sequence() -> None:
    values = [{"a": 1, "b": [1.5, "ĐẢNG"]}, b"\n\x00" * 10, ("x", 2), "đảng viên " * 500, tuple(range(3000))]
    buffer = io.BytesIO()
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        for value in values:
            pickle.dump(value, buffer, protocol)
    mapped = MappedFile(memoryview(buffer.getvalue()))
    for _ in range(3):
        assert [pickle.load(mapped) for _ in values] == values  # type: ignore[arg-type]


def test_opening_the_index_does_not_copy_its_files(tmp_path: Path) -> None:
    """Before: every compound file was copied into a BytesIO at open (360 MB per worker at 35k)."""
    rng = random.Random(16)
    syllables = [
        "đảng", "viên", "hội", "đồng", "nhân", "dân", "thủy", "điện", "hòa",
        "bình", "kỷ", "luật", "cán", "bộ", "chuyển", "đổi", "số", "tỉnh",
    ]
    articles = [
        article(f"a{i}", " ".join(rng.choices(syllables, k=8)), " ".join(rng.choices(syllables, k=30)),
                " ".join(rng.choices(syllables, k=400)) + f" mã{i}")
        for i in range(300)
    ]
    store, root = build(tmp_path, articles)
    store.close()
    size = sum(f.stat().st_size for f in root.rglob("*.seg"))
    assert size > 300_000
    tracemalloc.start()
    try:
        with SearchIndex.open(root) as index:
            held, _ = tracemalloc.get_traced_memory()
            assert [h.id for h in index.search("mã7").results] == ["a7"]
    finally:
        tracemalloc.stop()
    assert held < size / 4
