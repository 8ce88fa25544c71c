"""Searching in worker processes gives the same answers as searching in-process, and survives a dead worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bantin.index.budget import deadline_after
from bantin.index.pool import PooledIndex, default_workers
from bantin.index.searcher import IndexMissing, SearchIndex
from tests.test_index_helpers import article, build
from tests.test_index_search import ARTICLES, WEATHER

QUERIES = ["bàn", "ban", "ky luat can bo", "thủy điện hòa bình", '"đảng viên"', "thời tiết", "", "<b>&"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store, index_root = build(tmp_path_factory.mktemp("pool"), ARTICLES + WEATHER)
    store.close()
    return index_root


@pytest.fixture(scope="module")
def pooled(root: Path) -> Iterator[PooledIndex]:
    with PooledIndex.open(root, 2) as index:
        yield index


def test_pooled_searches_equal_in_process_searches(root: Path, pooled: PooledIndex) -> None:
    with SearchIndex.open(root) as local:
        for query in QUERIES:
            for sort in ("relevance", "newest"):
                assert pooled.search(query, per_page=3, page=2, sort=sort) == local.search(
                    query, per_page=3, page=2, sort=sort)
        assert pooled.related("hoa-binh") == local.related("hoa-binh")
        assert pooled.doc_count() == local.doc_count()


def test_a_killed_worker_costs_no_reply(root: Path) -> None:
    with PooledIndex.open(root, 1) as index:
        first = index.search("bàn")
        # Kill every worker process the pool has started, then search again.
        pool = index._pool
        assert pool is not None
        pool.submit(int).result()  # the worker is up
        for pid in list(pool._processes):
            os.kill(pid, signal.SIGKILL)
        assert index.search("bàn") == first  # answered in-process while the pool restarts
        assert index.search("bàn") == first  # and by the new pool afterwards


def test_missing_index_is_reported_before_any_worker_starts(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing):
        PooledIndex.open(tmp_path / "index", 2)


def test_workers_see_a_new_commit(tmp_path: Path) -> None:
    from bantin.index.maintenance import update_index

    store, root = build(tmp_path, [article("a1", "Bản tin thử", "Mở đầu.", "Thân bài.")])
    with PooledIndex.open(root, 1) as index:
        assert index.search("cầu treo").total == 0
        store.upsert_many([article("a2", "Khánh thành cầu treo", "Cầu mới.", "Thân bài.")])
        update_index(store, root)
        assert [hit.id for hit in index.search("cầu treo").results] == ["a2"]
    store.close()


@pytest.mark.parametrize(("cpus", "workers"), [(1, 1), (2, 2), (4, 4), (16, 4)])
def test_default_workers_one_per_core_up_to_four(cpus: int, workers: int) -> None:
    assert default_workers(cpus) == workers


def test_workers_end_when_the_bot_is_killed(root: Path) -> None:
    """Bug: after a SIGKILL of the bot, its search workers lived on forever, each holding memory."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from bantin.index.pool import PooledIndex\n"
        "index = PooledIndex.open(Path(sys.argv[1]), 2)\n"
        "index.search('bàn')\n"
        "print(*index._pool._processes, flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdout is not None
    workers = [int(pid) for pid in proc.stdout.readline().split()]
    assert len(workers) == 2
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) counts as ended
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:  # gone meanwhile, or no /proc here: kill(pid, 0) said it exists
        return not Path(f"/proc/{pid}").parent.exists()


def test_an_expired_search_returns_at_once_and_frees_the_worker(root: Path) -> None:
    with PooledIndex.open(root, 1) as index:
        expected = index.search("thời tiết")
        assert not expected.timed_out and expected.results
        late = index.search('"thời tiết"', deadline=time.time() - 1)
        assert late.timed_out and late.results == [] and late.total == 0
        with deadline_after(-1):  # the bot's way: a deadline for everything run under its timeout
            assert index.search("thời tiết").timed_out
        assert index.search("thời tiết") == expected  # the same single worker answers the next one
