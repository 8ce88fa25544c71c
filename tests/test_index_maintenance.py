"""Keeping the index in step with the store: incremental updates, rebuilds, swaps, locks, races."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bantin.articles.model import Article
from bantin.articles.store import ArticleStore
from bantin.index import layout
from bantin.index.maintenance import IndexBusy, IndexUpdate, rebuild_index, update_index
from bantin.index.schema import SCHEMA_VERSION
from bantin.index.searcher import SearchIndex
from tests.test_index_helpers import article, ids

ROOT = Path(__file__).resolve().parent.parent
TEXT = "đảng viên chi bộ xã huyện tỉnh nhân dân kinh tế văn hóa giáo dục nông thôn mới đường giao thông"
SYLLABLES = [*TEXT.split(), "hội", "nghị", "cán", "công", "tác", "thanh", "niên", "lúa", "cà", "phê"]


def synthetic(count: int, *, seed: int = 1, prefix: str = "s") -> list[Article]:
    """Plausible short articles, enough of them to make a build take a while."""
    rng = random.Random(seed)

    def sentence(n: int) -> str:
        return " ".join(rng.choice(SYLLABLES) for _ in range(n)).capitalize() + "."

    return [article(f"{prefix}{i:05d}", sentence(8), sentence(25), "\n\n".join(sentence(40) for _ in range(4)))
            for i in range(count)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ArticleStore]:
    with ArticleStore(tmp_path / "articles.sqlite") as opened:
        yield opened


def test_update_builds_the_index_when_missing_then_applies_changes(store: ArticleStore, tmp_path: Path) -> None:
    root = tmp_path / "index"
    store.upsert_many([article("a", "Kết nạp đảng viên"), article("b", "Giá lúa tăng")])
    first = update_index(store, root)
    assert first.full and (first.added, first.docs, first.rev) == (2, 2, store.revision())
    with SearchIndex.open(root) as index:
        assert ids(index, "dang vien") == ["a"]

        store.upsert_many([article("c", "Đảng viên trẻ"), article("a", "Kết nạp đảng viên mới ở xã")])
        store.delete_many(["b"])
        update = update_index(store, root)
        assert (update.added, update.updated, update.deleted, update.full) == (1, 1, 1, False)
        assert update.docs == 2 and update.rev == store.revision()

        # the open index notices the commit by itself
        assert sorted(ids(index, "dang vien")) == ["a", "c"]
        assert ids(index, "gia lua") == []
        assert index.search("xa").results[0].title == "Kết nạp đảng viên mới ở xã"
        assert index.doc_count() == 2


def test_no_op_update_is_instant_and_writes_nothing(store: ArticleStore, tmp_path: Path) -> None:
    root = tmp_path / "index"
    store.upsert_many(synthetic(50))
    update_index(store, root)
    generation = layout.current_generation(root)
    assert generation is not None
    before = sorted(p.name for p in generation.iterdir())
    update = update_index(store, root, lock_timeout=0)  # no changes: not even the lock is needed
    assert (update.added, update.updated, update.deleted, update.full) == (0, 0, 0, False)
    assert update.seconds < 1.0
    assert sorted(p.name for p in generation.iterdir()) == before


def test_update_reports_progress_and_json(store: ArticleStore, tmp_path: Path) -> None:
    store.upsert_many(synthetic(30))
    seen: list[tuple[int, int]] = []
    update = rebuild_index(store, tmp_path / "index", progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (30, 30)
    assert set(update.to_json()) == {"added", "updated", "deleted", "rev", "seconds", "full", "docs"}
    assert isinstance(update, IndexUpdate)


def test_rebuild_swaps_generations_while_a_reader_keeps_working(store: ArticleStore, tmp_path: Path) -> None:
    root = tmp_path / "index"
    store.upsert_many([article("a", "Kết nạp đảng viên")])
    rebuild_index(store, root)
    with SearchIndex.open(root) as index:
        old = index.generation
        assert ids(index, "đảng viên") == ["a"]
        store.upsert_many([article("b", "Đảng viên trẻ")])
        update = rebuild_index(store, root)
        assert update.full and update.docs == 2
        assert ids(index, "đảng viên", per_page=10) == ["a", "b"] or sorted(ids(index, "đảng viên")) == ["a", "b"]
        assert index.generation != old
        rebuild_index(store, root)
        rebuild_index(store, root)
        assert ids(index, "đảng viên", per_page=10)
    kept = layout.generations(root)
    assert len(kept) == 2 and layout.current_generation(root) == kept[-1]  # live + the one before


def test_a_half_built_generation_is_ignored_then_cleaned_up(store: ArticleStore, tmp_path: Path) -> None:
    root = tmp_path / "index"
    store.upsert_many([article("a", "Kết nạp đảng viên")])
    rebuild_index(store, root)
    junk = root / layout.generation_name(99)
    junk.mkdir()
    (junk / "MAIN_garbage.seg").write_bytes(b"\x00" * 100)
    with SearchIndex.open(root) as index:
        assert ids(index, "đảng viên") == ["a"]
    store.upsert_many([article("b", "Tin mới")])
    update_index(store, root)
    assert not junk.exists()


def _rebuild_in_subprocess(store_path: Path, root: Path, workers: int) -> subprocess.Popen[bytes]:
    code = (
        "import sys; from pathlib import Path\n"
        "from bantin.articles.store import ArticleStore\n"
        "from bantin.index.maintenance import rebuild_index\n"
        "if __name__ == '__main__':\n"
        f"    rebuild_index(ArticleStore(Path({str(store_path)!r})), Path({str(root)!r}), workers={workers})\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, start_new_session=True)


def _wait_for(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("workers", [1, 2])
def test_a_killed_rebuild_leaves_the_old_index_usable(store: ArticleStore, tmp_path: Path, workers: int) -> None:
    root = tmp_path / "index"
    store.upsert_many([article("old", "Kết nạp đảng viên")])
    rebuild_index(store, root)
    old = layout.current_generation(root)
    store.upsert_many(synthetic(6000))
    process = _rebuild_in_subprocess(store.path, root, workers)
    try:
        new = root / layout.generation_name(layout.generation_number(old) + 1)  # type: ignore[arg-type, operator]
        assert _wait_for(lambda: new.exists() and any(new.iterdir()), 30), "the rebuild never started"
        time.sleep(0.5)
        assert process.poll() is None, "the rebuild finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)  # the parent only: its workers must notice and stop
        process.wait()
        assert layout.current_generation(root) == old
        with SearchIndex.open(root) as index:
            assert ids(index, "kết nạp đảng viên") == ["old"]
        assert _wait_for(lambda: not _group_alive(process.pid), 30), "index workers outlived their parent"
        update = update_index(store, root)  # the next writer finishes the job and clears the debris
        assert update.docs == store.count()
        assert len(layout.generations(root)) <= 2
    finally:
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)


def test_parallel_build_matches_a_serial_one(store: ArticleStore, tmp_path: Path) -> None:
    store.upsert_many(synthetic(400))
    serial = rebuild_index(store, tmp_path / "serial", workers=1)
    parallel = rebuild_index(store, tmp_path / "parallel", workers=2)
    assert serial.docs == parallel.docs == 400
    with SearchIndex.open(tmp_path / "serial") as one, SearchIndex.open(tmp_path / "parallel") as two:
        for query in ("đảng viên", "nông thôn mới", "cà phê lúa"):
            assert one.search(query).total == two.search(query).total > 0


def test_another_schema_version_triggers_a_full_rebuild(store: ArticleStore, tmp_path: Path) -> None:
    root = tmp_path / "index"
    store.upsert_many([article("a", "Kết nạp đảng viên")])
    rebuild_index(store, root)
    generation = layout.current_generation(root)
    assert generation is not None
    layout.write_meta(generation, layout.IndexMeta(rev=store.revision(), schema_version=SCHEMA_VERSION - 1))
    assert not SearchIndex.exists(root) or update_index(store, root).full


def test_writers_take_turns(store: ArticleStore, tmp_path: Path) -> None:
    root = tmp_path / "index"
    store.upsert_many(synthetic(200))
    rebuild_index(store, root)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with ArticleStore(store.path) as own:
                own.upsert_many(synthetic(50, seed=n, prefix=f"w{n}-"))
                if n % 2:
                    rebuild_index(own, root)
                else:
                    update_index(own, root)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = update_index(store, root)
    assert final.docs == store.count() == 400
    with SearchIndex.open(root) as index:
        assert index.doc_count() == 400


def test_a_writer_that_waits_too_long_gets_index_busy(store: ArticleStore, tmp_path: Path) -> None:
    root = tmp_path / "index"
    store.upsert_many([article("a", "Kết nạp đảng viên")])
    rebuild_index(store, root)
    code = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(root / layout.LOCK)!r}, os.O_RDWR)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(30)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        store.upsert_many([article("b", "Tin mới")])
        with pytest.raises(IndexBusy, match="tiến trình khác"):
            update_index(store, root, lock_timeout=0.3)
        with pytest.raises(IndexBusy):
            rebuild_index(store, root, lock_timeout=0.1)
    finally:
        holder.kill()
        holder.wait()
    assert update_index(store, root).added == 1  # a lock dies with its holder


def test_searches_race_with_reindexing(store: ArticleStore, tmp_path: Path) -> None:
    root = tmp_path / "index"
    store.upsert_many([article("anchor", "Kết nạp đảng viên mới", "Tin chi bộ."), *synthetic(300)])
    rebuild_index(store, root)
    stop = threading.Event()
    failures: list[str] = []

    def searcher(index: SearchIndex) -> None:
        while not stop.is_set():
            try:
                page = index.search("kết nạp đảng viên mới", per_page=5)
                if page.total < 1 or "anchor" not in {h.id for h in page.results}:
                    failures.append(f"lost the anchor: {page.total}")
            except Exception as exc:  # pragma: no cover - reported below
                failures.append(repr(exc))
            time.sleep(0.01)  # a busy bot, not a benchmark: leave the writer some CPU (GIL)

    with SearchIndex.open(root) as shared, SearchIndex.open(root) as second:
        threads = [threading.Thread(target=searcher, args=(ix,)) for ix in (shared, shared, second)]
        for thread in threads:
            thread.start()
        try:
            for round_ in range(5):
                store.upsert_many(synthetic(40, seed=100 + round_, prefix=f"r{round_}-"))
                if round_ == 2:
                    rebuild_index(store, root)
                else:
                    update_index(store, root)
                store.delete_many([f"r{round_}-00000"])
                update_index(store, root)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert failures == []
        assert shared.doc_count() == second.doc_count() == store.count()
