"""A damaged index is recognised at once, repaired from the store, and a failed repair leaves no trace."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage

from bantin.articles.store import ArticleStore
from bantin.index import layout
from bantin.index import searcher as searcher_module
from bantin.index.maintenance import index_pending, rebuild_index, update_index
from bantin.index.searcher import IndexDamaged, IndexMissing, SearchIndex
from tests.damage import KINDS, damage
from tests.test_index_helpers import article, ids
from tests.test_index_maintenance import synthetic


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ArticleStore]:
    with ArticleStore(tmp_path / "articles.sqlite") as opened:
        opened.upsert_many([article("a", "Kết nạp đảng viên"), article("b", "Giá lúa tăng"), *synthetic(30)])
        yield opened


@pytest.mark.parametrize("kind", KINDS)
def test_opening_a_damaged_index_says_so_at_once(store: ArticleStore, tmp_path: Path, kind: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "index"
    update_index(store, root)
    damage(root, kind)
    naps: list[float] = []
    monkeypatch.setattr(whoosh_index, "sleep", naps.append)  # Whoosh's own retry loop
    monkeypatch.setattr(searcher_module.time, "sleep", naps.append)
    with pytest.raises(IndexDamaged) as raised:
        SearchIndex.open(root)
    assert naps == []  # no retries meant for a swap in progress (they took 13 s)
    assert raised.value.generation == layout.current_generation(root)
    assert str(raised.value)  # a reason a person can read


def test_a_missing_index_is_not_called_damaged(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing):
        SearchIndex.open(tmp_path / "index")


@pytest.mark.parametrize("kind", KINDS)
def test_update_rebuilds_a_damaged_index_from_the_store(store: ArticleStore, tmp_path: Path, kind: str) -> None:
    root = tmp_path / "index"
    update_index(store, root)
    damage(root, kind)
    assert index_pending(store, root) is None  # unusable: needs a build, not a catch-up
    update = update_index(store, root)
    assert update.full and update.docs == store.count()
    with SearchIndex.open(root) as index:
        assert ids(index, "ket nap") == ["a"]
    assert index_pending(store, root) == 0


def test_pending_counts_changes_the_index_has_not_seen(store: ArticleStore, tmp_path: Path) -> None:
    root = tmp_path / "index"
    assert index_pending(store, root) is None
    update_index(store, root)
    assert index_pending(store, root) == 0
    store.upsert_many([article("c", "Đường giao thông")])
    assert index_pending(store, root) == 1


class _DiskFull:
    """Every file Whoosh creates accepts `budget` bytes in all, then fails with ENOSPC."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, budget: int) -> None:
        self.budget = budget
        original = FileStorage.create_file

        def create_file(storage: FileStorage, name: str, **kwargs: Any) -> Any:
            handle = original(storage, name, **kwargs)
            raw = handle.file
            write = raw.write

            def limited(data: bytes) -> int:
                self.budget -= len(data)
                if self.budget < 0:
                    raise OSError(errno.ENOSPC, "No space left on device")
                return write(data)

            raw.write = limited
            return handle

        monkeypatch.setattr(FileStorage, "create_file", create_file)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_full_rebuild_that_runs_out_of_disk_leaves_the_previous_index_live(
        store: ArticleStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    root = tmp_path / "index"
    update_index(store, root)
    live = layout.current_generation(root)
    _DiskFull(monkeypatch, budget=20_000)
    with pytest.raises(OSError) as raised:
        rebuild_index(store, root, workers=workers)
    assert raised.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert layout.current_generation(root) == live
    assert layout.generations(root) == [live]  # the partial generation is gone
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]
    with SearchIndex.open(root) as index:
        assert ids(index, "ket nap") == ["a"]
