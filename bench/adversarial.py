"""Adversarial search benchmark: quoted phrases of common words, alone and against other users.

    .venv/bin/python bench/adversarial.py [--seconds S] [--workers N] [--json]

Uses the full shared corpus and the index bench/relevance.py keeps under bench/.cache (built on
first use). Two measurements:

1. *Phrase latency*: 10 quoted phrases of the archive's most common syllables, each run 3 times
   in-process after a warm-up; the median per query, then the median and max over queries.
2. *Contention*, the way the bot runs searches (worker pool, `asyncio.wait_for` around
   `asyncio.to_thread`, a `BANTIN_SEARCH_TIMEOUT` of 5 s, and the search deadline when the code
   has one): 4 normal users each search, read for 0.3 s, search again, for S seconds — first alone,
   then while 2 users each keep 5 quoted common-word queries in flight (no rate limit: the worst
   case), then while 2 users send what the default rate limit lets through (5 at once, then one
   every 3 s). Reported: normal users' p50/p95 and how many of their searches "took too long".

Run it from an old checkout too (copy this file there) to get the "before" figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search import ensure_store, percentile, sample_queries  # noqa: E402

INDEX = ROOT / "bench" / ".cache" / "relevance-index"
TIMEOUT = 5.0
#: --as-is: search the index as it is, even if built with another schema version (older code
#: reads a newer index fine: it ignores the positions).
AS_IS = False
#: Quoted phrases of syllables found in most of the archive's articles.
PHRASES = ['"của các"', '"cho biết"', '"trong những năm"', '"đã được"', '"của những"',
           '"các cơ quan"', '"người dân"', '"có thể"', '"một số"', '"trong các"']


def _deadline(seconds: float) -> AbstractContextManager[Any]:
    """The search deadline, on code that has one (`index.budget`); nothing on older code."""
    try:
        from bantin.index.budget import deadline_after
    except ImportError:
        return nullcontext()
    return deadline_after(seconds)


def open_index(workers: int) -> Any:
    from bantin.index.maintenance import update_index
    from bantin.index.pool import PooledIndex
    from bantin.index.searcher import SearchIndex

    if not AS_IS:
        with ensure_store() as store:
            update = update_index(store, INDEX)
        if update.full:
            print(f"  built the index in {update.seconds:.0f} s", flush=True)
    return PooledIndex.open(INDEX, workers) if workers else SearchIndex.open(INDEX)


def phrase_latency() -> dict[str, Any]:
    index = open_index(0)
    try:
        for query in PHRASES:
            index.search(query)
        medians = []
        for query in PHRASES:
            times = []
            for _ in range(3):
                started = time.perf_counter()
                index.search(query)
                times.append(time.perf_counter() - started)
            medians.append(statistics.median(times))
        totals = {q: index.search(q).total for q in PHRASES}
    finally:
        index.close()
    return {"median_s": statistics.median(medians), "max_s": max(medians),
            "per_query_s": dict(zip(PHRASES, medians, strict=True)), "totals": totals}


async def _timed(search: Callable[[], Any]) -> tuple[float, bool]:
    """One search as the bot runs it: (seconds, took too long)."""

    def run() -> Any:
        with _deadline(TIMEOUT):
            return search()

    started = time.perf_counter()
    try:
        page = await asyncio.wait_for(asyncio.to_thread(run), TIMEOUT)
        late = bool(getattr(page, "timed_out", False))
    except TimeoutError:
        late = True
    return time.perf_counter() - started, late


async def _contention(index: Any, normal: list[str], seconds: float, attackers: int,
                      limited: bool = False) -> dict[str, Any]:
    stop = time.perf_counter() + seconds
    latencies: list[float] = []
    late = 0
    attacks = 0

    async def user(offset: int) -> None:
        nonlocal late
        i = offset
        while time.perf_counter() < stop:
            query = normal[i % len(normal)]
            i += 4
            elapsed, too_long = await _timed(partial(index.search, query))
            latencies.append(elapsed)
            late += too_long
            await asyncio.sleep(0.3)

    async def attacker(offset: int) -> None:
        """Keeps 5 queries in flight (`limited`: 5 at once, then one every 3 s: what the bot's
        default rate limit lets through)."""
        nonlocal attacks
        i = offset
        if limited:
            sent = [asyncio.ensure_future(_timed(partial(index.search, PHRASES[(i + k) % 10]))) for k in range(5)]
            while time.perf_counter() < stop:
                await asyncio.sleep(3.0)
                i += 1
                sent.append(asyncio.ensure_future(_timed(partial(index.search, PHRASES[(i + 5) % 10]))))
            attacks += len(sent)
            await asyncio.gather(*sent)
            return
        while time.perf_counter() < stop:
            burst = [PHRASES[(i + k) % len(PHRASES)] for k in range(5)]
            i += 5
            await asyncio.gather(*(_timed(partial(index.search, q)) for q in burst))
            attacks += 5

    # the bot's to_thread pool is large enough for every search in flight
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(32))
    await asyncio.gather(*(user(n) for n in range(4)), *(attacker(n * 5) for n in range(attackers)))
    return {"searches": len(latencies), "p50_s": percentile(latencies, 0.5), "p95_s": percentile(latencies, 0.95),
            "too_long": late, "attack_queries": attacks}


def contention(seconds: float, workers: int) -> dict[str, Any]:
    with ensure_store() as store:
        normal = sample_queries(store, 200)
    index = open_index(workers)
    try:
        for query in PHRASES + normal[:20]:  # warm every worker a little
            index.search(query)
        alone = asyncio.run(_contention(index, normal, seconds, 0))
        attacked = asyncio.run(_contention(index, normal, seconds, 2))
        limited = asyncio.run(_contention(index, normal, seconds, 2, limited=True))
    finally:
        index.close()
    return {"alone": alone, "with_2_attackers": attacked, "with_2_rate_limited": limited}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each contention run")
    parser.add_argument("--workers", type=int, default=2, help="search worker processes (0: in-process)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--as-is", action="store_true", help="do not update or rebuild the index first")
    args = parser.parse_args()
    global AS_IS
    AS_IS = args.as_is
    result = {"phrases": phrase_latency(), "contention": contention(args.seconds, args.workers)}
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    phrases, runs = result["phrases"], result["contention"]
    print(f"10 quoted common-word phrases: median {phrases['median_s'] * 1000:.0f} ms, "
          f"max {phrases['max_s'] * 1000:.0f} ms")
    for name, run in runs.items():
        print(f"normal users, {name:17}: {run['searches']} searches, p50 {run['p50_s'] * 1000:.0f} ms, "
              f"p95 {run['p95_s'] * 1000:.0f} ms, took too long {run['too_long']} "
              f"(attack queries {run['attack_queries']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
