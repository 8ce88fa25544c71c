"""Search benchmark on the full shared corpus, against a naive Whoosh baseline built in the same run.

    .venv/bin/python bench/search.py [--queries N] [--keep]

Measures, for our index (`index` package) and for a naive one (Whoosh's StandardAnalyzer on
title + body, MultifieldParser, default AND): full build time and rate, no-op incremental
reindex time (ours), query latency p50/p95 over 1–6-word queries drawn from titles (half typed
without diacritics), index size and peak RSS. Every phase runs in its own process so each peak
RSS is its own. The article store is cached under bench/.cache (git-ignored); both indexes are
rebuilt on every run (that is what is measured) in a temporary folder.

Targets (issue 3): build ≥ 400 articles/s, no-op reindex ≤ 5 s, query p95 ≤ 50 ms and ≤ 1/4 of
the baseline's p95; issue 14: query p95 ≤ 30 ms. Query times are printed twice: wall clock, and
the CPU time of the searching process (what a search costs even when other processes share the
cores; on a busy machine the wall clock mostly measures the others). `--keep DIR --reuse`
searches indexes built by an earlier `--keep DIR` run without building them again.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bantin.articles.jsonl import read_jsonl  # noqa: E402
from bantin.articles.model import Article  # noqa: E402
from bantin.articles.store import ArticleStore  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "vn-news-35k.jsonl.gz"
CACHE = ROOT / "bench" / ".cache"
STORE = CACHE / "articles.sqlite"
SEED = 20170705


# -- corpus ------------------------------------------------------------------------------------


def ensure_store(path: Path = STORE) -> ArticleStore:
    """The shared corpus in an article store, loaded once and cached (about 15 s)."""
    marker = path.with_suffix(".complete")
    if not marker.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        with ArticleStore(path) as store:
            batch: list[Article] = []
            for item in read_jsonl(CORPUS):
                if isinstance(item, Article):
                    batch.append(item)
                if len(batch) >= 2000:
                    store.upsert_many(batch)
                    batch = []
            store.upsert_many(batch)
        marker.write_text("ok\n")
    return ArticleStore(path)


def sample_queries(store: ArticleStore, count: int, *, seed: int = SEED) -> list[str]:
    """1–6 consecutive words of random titles; every other one without diacritics."""
    from bantin.index.analysis import fold

    rng = random.Random(seed)
    titles = [a.title for a in store.iter_articles()]
    queries: list[str] = []
    while len(queries) < count:
        words = [w for w in re.split(r"[\s,.:;!?\"'“”()\[\]]+", rng.choice(titles)) if w]
        if not words:
            continue
        size = min(len(words), rng.randint(1, 6))
        start = rng.randint(0, len(words) - size)
        query = " ".join(words[start : start + size])
        queries.append(fold(query) if len(queries) % 2 else query)
    return queries


# -- phases (each in its own process) ----------------------------------------------------------


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def phase_build(root: str, store_path: str = str(STORE)) -> dict[str, Any]:
    from bantin.index.maintenance import rebuild_index

    with ArticleStore(Path(store_path), readonly=True) as store:
        update = rebuild_index(store, Path(root))
    return {"seconds": update.seconds, "docs": update.docs, "rss_mb": _peak_rss_mb()}


def phase_noop(root: str, store_path: str = str(STORE)) -> dict[str, Any]:
    """`update_index` timed from outside: with nothing to do it is the no-op reindex; after new
    articles were stored (bench/scale.py) it is the incremental update."""
    from bantin.index.maintenance import update_index

    with ArticleStore(Path(store_path), readonly=True) as store:
        started = time.perf_counter()
        update = update_index(store, Path(root))
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "added": update.added, "rss_mb": _peak_rss_mb()}


def phase_search(root: str, queries: list[str]) -> dict[str, Any]:
    from bantin.index.searcher import SearchIndex

    with SearchIndex.open(Path(root)) as index:
        size = index.size_bytes()
        latencies, cpu = [], []
        for query in queries:
            started, used = time.perf_counter(), time.process_time()
            index.search(query, per_page=5)
            latencies.append(time.perf_counter() - started)
            cpu.append(time.process_time() - used)
    return {"latencies": latencies, "cpu": cpu, "size": size, "rss_mb": _peak_rss_mb()}


def naive_schema() -> Any:
    from whoosh import fields
    from whoosh.analysis import StandardAnalyzer

    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=fields.TEXT(analyzer=StandardAnalyzer(), stored=True),
        body=fields.TEXT(analyzer=StandardAnalyzer()),
    )


def phase_naive_build(folder: str) -> dict[str, Any]:
    from whoosh import index

    Path(folder).mkdir(parents=True, exist_ok=True)
    ix = index.create_in(folder, naive_schema())
    started = time.perf_counter()
    docs = 0
    with ArticleStore(STORE, readonly=True) as store:
        writer = ix.writer(limitmb=256)
        for article in store.iter_articles():
            writer.add_document(id=article.id, title=article.title, body=article.text)
            docs += 1
        writer.commit()
    return {"seconds": time.perf_counter() - started, "docs": docs, "rss_mb": _peak_rss_mb()}


def phase_naive_search(folder: str, queries: list[str]) -> dict[str, Any]:
    from whoosh import index
    from whoosh.qparser import MultifieldParser

    from bantin.index.layout import dir_size

    ix = index.open_dir(folder)
    parser = MultifieldParser(["title", "body"], ix.schema)
    latencies, cpu = [], []
    with ix.searcher() as searcher:
        for query in queries:
            started, used = time.perf_counter(), time.process_time()
            results = searcher.search(parser.parse(query), limit=5)
            len(results)  # the total, as a results page shows it
            [hit["title"] for hit in results]
            latencies.append(time.perf_counter() - started)
            cpu.append(time.process_time() - used)
    return {"latencies": latencies, "cpu": cpu, "size": dir_size(Path(folder)), "rss_mb": _peak_rss_mb()}


def run_phase(func: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run one phase in a fresh process (its own peak RSS) and return its result."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def target() -> None:
        sender.send(func(*args))

    process = context.Process(target=target)
    process.start()
    result = receiver.recv()
    process.join()
    return result


# -- report ------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="build into this folder and keep it (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: search the indexes already built there instead of building them")
    args = parser.parse_args()
    if args.reuse and args.keep is None:
        parser.error("--reuse needs --keep FOLDER")
    if not CORPUS.exists():
        print(f"shared corpus not found at {CORPUS}; nothing to measure", file=sys.stderr)
        return 2

    started = time.perf_counter()
    with ensure_store() as store:
        articles = store.count()
        queries = sample_queries(store, args.queries)
    work = args.keep or Path(tempfile.mkdtemp(prefix="bantin-bench-"))
    ours, naive = work / "index", work / "naive"
    reuse = args.reuse and ours.is_dir() and naive.is_dir()
    if not reuse:
        for folder in (ours, naive):
            shutil.rmtree(folder, ignore_errors=True)
    nan = {"seconds": math.nan, "rss_mb": math.nan}
    try:
        print(f"corpus: {articles} articles; {len(queries)} queries (1–6 words, half unaccented)", flush=True)
        build = nan if reuse else run_phase(phase_build, str(ours))
        print(f"  built ours in {build['seconds']:.1f} s" if not reuse else f"  reusing {ours}", flush=True)
        noop = run_phase(phase_noop, str(ours))
        naive_build = nan if reuse else run_phase(phase_naive_build, str(naive))
        print(f"  built naive in {naive_build['seconds']:.1f} s" if not reuse else f"  reusing {naive}", flush=True)
        search = run_phase(phase_search, str(ours), queries)
        naive_search = run_phase(phase_naive_search, str(naive), queries)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    ours_p50, ours_p95 = (percentile(search["latencies"], q) * 1000 for q in (0.5, 0.95))
    naive_p50, naive_p95 = (percentile(naive_search["latencies"], q) * 1000 for q in (0.5, 0.95))
    # CPU time per query: what a search costs, even while other processes share the cores
    cpu_p50, cpu_p95 = (percentile(search["cpu"], q) * 1000 for q in (0.5, 0.95))
    naive_cpu_p50, naive_cpu_p95 = (percentile(naive_search["cpu"], q) * 1000 for q in (0.5, 0.95))
    rate, naive_rate = articles / build["seconds"], articles / naive_build["seconds"]
    rows = [
        ("full build (s)", f"{build['seconds']:.1f}", f"{naive_build['seconds']:.1f}",
         f"{build['seconds'] / naive_build['seconds']:.2f}"),
        ("build rate (articles/s)", f"{rate:.0f}", f"{naive_rate:.0f}", f"{rate / naive_rate:.2f}"),
        ("no-op reindex (s)", f"{noop['seconds']:.2f}", "-", "-"),
        ("query p50 (ms)", f"{ours_p50:.1f}", f"{naive_p50:.1f}", f"{ours_p50 / naive_p50:.2f}"),
        ("query p95 (ms)", f"{ours_p95:.1f}", f"{naive_p95:.1f}", f"{ours_p95 / naive_p95:.2f}"),
        ("query CPU p50 (ms)", f"{cpu_p50:.1f}", f"{naive_cpu_p50:.1f}", f"{cpu_p50 / naive_cpu_p50:.2f}"),
        ("query CPU p95 (ms)", f"{cpu_p95:.1f}", f"{naive_cpu_p95:.1f}", f"{cpu_p95 / naive_cpu_p95:.2f}"),
        ("query mean (ms)", f"{statistics.fmean(search['latencies']) * 1000:.1f}",
         f"{statistics.fmean(naive_search['latencies']) * 1000:.1f}", ""),
        ("index size (MB)", f"{search['size'] / 1e6:.1f}", f"{naive_search['size'] / 1e6:.1f}",
         f"{search['size'] / naive_search['size']:.2f}"),
        ("peak RSS build (MB)", f"{build['rss_mb']:.0f}", f"{naive_build['rss_mb']:.0f}",
         f"{build['rss_mb'] / naive_build['rss_mb']:.2f}"),
        ("peak RSS search (MB)", f"{search['rss_mb']:.0f}", f"{naive_search['rss_mb']:.0f}",
         f"{search['rss_mb'] / naive_search['rss_mb']:.2f}"),
    ]
    print()
    print(f"{'':26} {'ours':>10} {'naive':>10} {'ours/naive':>11}")
    for name, a, b, ratio in rows:
        print(f"{name:26} {a:>10} {b:>10} {ratio:>11}")
    checks = [
        ("build ≥ 400 articles/s", None if reuse else rate >= 400),
        ("no-op reindex ≤ 5 s", noop["seconds"] <= 5),
        ("query p95 ≤ 50 ms", ours_p95 <= 50),
        ("query p95 ≤ 30 ms (issue 14)", ours_p95 <= 30),
        ("query p95 ≤ 1/4 of naive", ours_p95 <= naive_p95 / 4),
    ]
    print()
    for name, ok in checks:
        print(f"  {'n/a ' if ok is None else 'ok  ' if ok else 'MISS'} {name}")
    print(f"\n({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
