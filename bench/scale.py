"""Scale benchmark (issue 16): the shared corpus once, twice and four times over.

    .venv/bin/python bench/scale.py [--scales 1,2,4] [--queries 1000] [--users 1,20] [--keep]
                                    [--json out.json] [--quick]
    .venv/bin/python bench/scale.py --table before.json [after.json ...]   # print saved figures

For each scale ×N the archive is the 35k corpus N times, copy k > 1 of an article under the id
`<id>~k` (distinct documents, same text), cached as an article store in bench/.cache/scale-xN/
(git-ignored; built once, ~1 min per 35k articles). Then, every phase in its own process:

- full build (`rebuild_index`, default workers) of `scale-xN/index`: time, articles/s, and the peak
  of the build's total PSS (the build process and its workers, sampled from /proc every second)
  beside the largest single process's peak RSS (getrusage);
- no-op reindex (`update_index` with nothing to do) and the index's size on disk;
- search p50/p95: the query set searched in a fresh process on that index, as bench/search.py does;
- `bantin run` with default settings (search workers `auto`) against the local fake Bot API
  (tests/fake_botapi.py): total PSS of the bot and all its descendants (from
  /proc/<pid>/smaps_rollup) idle after start-up, then reply p50/p95 (message queued at the fake
  server → the bot's sendMessage seen there) with 1 and with 20 concurrent users (closed loop,
  distinct chat ids; the query set is split between the levels, so every query is new to the bot),
  then the PSS again after all of them;
- at the largest scale: 500 new articles stored, then the incremental update timed (and removed
  again afterwards, so the cached store keeps its N copies).

Queries: 2–5 consecutive syllables of corpus titles, half typed without diacritics, distinct
(even folded), drawn with a fixed seed: the same set at every scale, so the ×4/×1 ratios compare
like with like. For the bench only, the per-user rate limit is raised and PTB's flood limiter is
off (BANTIN_RATE_BURST, BANTIN_RATE_PER_MINUTE, BANTIN_FLOOD_RATE): the bot's own capacity is
measured, as in bench/bot.py; the output says so. MB are MiB (/proc counts KiB); 1 GB = 1024 MB.
The fake server, the simulated users and the bot share this machine's cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bantin.articles.model import Article  # noqa: E402
from bantin.articles.store import ArticleStore  # noqa: E402
from bench.procmem import PeakPss, breakdown, cpu_seconds, pss_mb, tree  # noqa: E402
from bench.search import CACHE, CORPUS, ensure_store, percentile, phase_build, phase_noop, phase_search, run_phase  # noqa: E402

SEED = 20261130
NEW_ARTICLES = 500
#: The bench's own settings for `bantin run`, printed with the results (see the module docstring).
BENCH_ENV = {"BANTIN_RATE_BURST": "100000", "BANTIN_RATE_PER_MINUTE": "100000", "BANTIN_FLOOD_RATE": "0",
             "BANTIN_LOG_LEVEL": "WARNING"}
REPLY_TIMEOUT = 60.0
MB = 1024 * 1024


# -- archives ----------------------------------------------------------------------------------


def copy_id(article_id: str, copy: int) -> str:
    """Copy 1 keeps the original id; copy k is `<id>~k`, so every copy is its own document."""
    return article_id if copy == 1 else f"{article_id}~{copy}"


def copy_article(article: Article, copy: int) -> Article:
    """The article as copy `copy` (a URL, when there is one, differs per copy too)."""
    if copy == 1:
        return article
    url = f"{article.url}#~{copy}" if article.url else article.url
    return dataclasses.replace(article, id=copy_id(article.id, copy), url=url, first_seen=None, rev=0)


def scale_dir(scale: int) -> Path:
    return CACHE / f"scale-x{scale}"


def ensure_scale_store(scale: int) -> Path:
    """The ×`scale` archive's store, built once from the ×1 one (the corpus as it is)."""
    base = ensure_store(scale_dir(1) / "articles.sqlite")
    base.close()
    path = scale_dir(scale) / "articles.sqlite"
    marker = path.with_suffix(".complete")
    if scale == 1 or marker.exists():
        return path
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with ArticleStore(scale_dir(1) / "articles.sqlite", readonly=True) as source, ArticleStore(path) as target:
        for copy in range(1, scale + 1):
            for batch in _batches((copy_article(a, copy) for a in source.iter_articles()), 2000):
                target.upsert_many(batch)
    marker.write_text("ok\n")
    return path


def _batches(items: Iterable[Article], size: int) -> Iterator[list[Article]]:
    batch: list[Article] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- queries -----------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def citizen_queries(titles: Sequence[str], count: int, *, seed: int = SEED) -> list[str]:
    """`count` distinct queries of 2–5 consecutive syllables from random titles, lower-case,
    every other one without diacritics; distinct even folded (a folded twin would be a repeat)."""
    from bantin.index.analysis import fold

    rng = random.Random(seed)
    queries: list[str] = []
    seen: set[str] = set()
    attempts = 0
    while len(queries) < count:
        attempts += 1
        if attempts > count * 200:
            raise ValueError(f"only {len(queries)} distinct queries in these titles, {count} asked")
        words = _WORD.findall(rng.choice(titles).lower())
        if len(words) < 2:
            continue
        size = rng.randint(2, min(5, len(words)))
        start = rng.randint(0, len(words) - size)
        query = " ".join(words[start : start + size])
        key = fold(query)
        if key in seen:
            continue
        seen.add(key)
        queries.append(key if len(queries) % 2 else query)
    return queries


# -- the bot -----------------------------------------------------------------------------------


def _settle(pid: int, *, quiet: float = 0.05, within: float = 120.0) -> None:
    """Wait until the bot's process tree uses almost no CPU for a second (start-up done)."""
    deadline = time.monotonic() + within
    before = cpu_seconds(tree(pid))
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = cpu_seconds(tree(pid))
        if now - before < quiet:
            return
        before = now


def _notice(name: str) -> str:
    """The start of a Vietnamese notice template, to tell such a reply from results."""
    return (ROOT / "templates" / "vi" / f"{name}.html").read_text(encoding="utf-8").split("<")[0].strip()[:40]


#: Replies that are not results: the search took too long (BANTIN_SEARCH_TIMEOUT), or failed.
NOTICES = {"timeouts": _notice("timeout"), "errors": _notice("error")}


def reply_latencies(fake: Any, queries: Sequence[str], users: int,
                    first_chat: int) -> tuple[list[float], dict[str, int]]:
    """`users` closed-loop users (one chat each) share `queries`; seconds from each message
    queued at the fake server to the bot's reply (a sendMessage to that chat), and how many
    replies were notices rather than results (a fast "took too long" must not pass for speed)."""
    pending = iter(queries)
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    notices = dict.fromkeys(NOTICES, 0)

    def user(chat: int) -> None:
        while True:
            with lock:
                query = next(pending, None)
            if query is None:
                return
            mark = len(fake.requests)  # look only at calls after this query (bench/bot.py: O(n²) otherwise)
            sent = time.monotonic()
            fake.send_text(chat, query)
            try:
                reply = fake.wait_for("sendMessage", lambda c, chat=chat: c.params.get("chat_id") == chat,
                                      timeout=REPLY_TIMEOUT, since=mark)[0]
            except AssertionError:
                with lock:
                    errors.append(query)
                continue
            with lock:
                latencies.append(time.monotonic() - sent)
                text = str(reply.params.get("text", ""))
                for kind, start in NOTICES.items():
                    notices[kind] += text.startswith(start)

    threads = [threading.Thread(target=user, args=(first_chat + n,)) for n in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        print(f"    no reply within {REPLY_TIMEOUT:.0f} s to {len(errors)} queries, e.g. {errors[:3]}", flush=True)
    return latencies, notices


def bench_bot(data_dir: Path, queries: Sequence[str], levels: Sequence[int]) -> dict[str, Any]:
    """`bantin run` (default workers) against the fake Bot API: PSS idle and after the queries,
    reply latencies per concurrency level."""
    from tests.e2e import running_bot
    from tests.fake_botapi import FakeBotAPI

    for name in os.listdir(data_dir):  # the bot's own state from an earlier run: start afresh
        if name not in ("articles.sqlite", "articles.sqlite-wal", "articles.sqlite-shm", "articles.complete",
                        "index"):
            target = data_dir / name
            shutil.rmtree(target) if target.is_dir() else target.unlink()
    shares = split_evenly(queries, len(levels))
    result: dict[str, Any] = {"replies": {}}
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANTIN_")}
    with FakeBotAPI() as fake:
        started = time.monotonic()
        with running_bot(fake, data_dir, startup_timeout=300, environ=env, **BENCH_ENV) as proc:
            result["startup_s"] = time.monotonic() - started
            _settle(proc.pid)
            pids = tree(proc.pid)
            result["processes"] = len(pids)
            result["pss_idle_mb"] = pss_mb(pids)
            result["processes_idle"] = breakdown(pids)
            print(f"    bot up in {result['startup_s']:.1f} s, {len(pids)} processes, "
                  f"PSS idle {result['pss_idle_mb']:.0f} MB", flush=True)
            for n, (users, share) in enumerate(zip(levels, shares, strict=True)):
                latencies, notices = reply_latencies(fake, share, users, 10_000 * (n + 1))
                level = result["replies"][str(users)] = {**summary(latencies, len(share)), **notices}
                print(f"    {users:3d} users: {len(latencies)} replies, p50 {level['p50_ms']:.0f} ms, p95 "
                      f"{level['p95_ms']:.0f} ms; 'took too long' {notices['timeouts']}, "
                      f"errors {notices['errors']}", flush=True)
            _settle(proc.pid, within=30)
            pids = tree(proc.pid)
            result["pss_after_mb"] = pss_mb(pids)
            result["processes_after"] = breakdown(pids)
            for row in result["processes_after"]:
                print(f"      pid {row['pid']}: PSS {row['pss_mb']:.0f} MB (anonymous {row['anon_mb']:.0f}, "
                      f"files {row['file_mb']:.0f}) {row['command'][:60]}", flush=True)
            result["queries"] = len(queries)
            result["violations"] = len(fake.violations)
    return result


def split_evenly(items: Sequence[str], parts: int) -> list[list[str]]:
    """`items` in `parts` consecutive runs whose lengths differ by at most one."""
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for n in range(parts):
        end = start + size + (1 if n < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return out


def summary(latencies: Sequence[float], asked: int) -> dict[str, float]:
    if not latencies:
        return {"n": 0, "asked": asked, "p50_ms": float("nan"), "p95_ms": float("nan")}
    return {"n": len(latencies), "asked": asked, "p50_ms": percentile(list(latencies), 0.5) * 1000,
            "p95_ms": percentile(list(latencies), 0.95) * 1000}


# -- one scale ---------------------------------------------------------------------------------


def bench_scale(scale: int, queries: Sequence[str], levels: Sequence[int], *, largest: bool,
                keep: bool) -> dict[str, Any]:
    started = time.perf_counter()
    store_path = ensure_scale_store(scale)
    with ArticleStore(store_path, readonly=True) as store:
        articles = store.count()
    data_dir = store_path.parent
    index_root = data_dir / "index"
    shutil.rmtree(index_root, ignore_errors=True)
    print(f"×{scale}: {articles} articles (store ready in {time.perf_counter() - started:.0f} s)", flush=True)
    out: dict[str, Any] = {"scale": scale, "articles": articles}
    try:
        with PeakPss() as peak:
            build = run_phase(phase_build, str(index_root), str(store_path))
        out.update(build_s=build["seconds"], build_rate=articles / build["seconds"], build_peak_pss_mb=peak.peak,
                   build_max_rss_mb=build["rss_mb"])
        print(f"    built in {build['seconds']:.1f} s ({out['build_rate']:.0f} articles/s), peak PSS "
              f"{peak.peak:.0f} MB", flush=True)
        out["noop_s"] = run_phase(phase_noop, str(index_root), str(store_path))["seconds"]
        search = run_phase(phase_search, str(index_root), list(queries))
        out.update(index_mb=search["size"] / MB, search=summary(search["latencies"], len(queries)))
        print(f"    index {out['index_mb']:.0f} MB, no-op {out['noop_s']:.2f} s, search p50 "
              f"{out['search']['p50_ms']:.1f} ms p95 {out['search']['p95_ms']:.1f} ms", flush=True)
        out["bot"] = bench_bot(data_dir, queries, levels)
        if largest:
            out["incremental_s"], out["incremental_added"] = incremental(store_path, index_root, scale)
            print(f"    incremental {NEW_ARTICLES} articles: {out['incremental_s']:.1f} s", flush=True)
    finally:
        if not keep:
            shutil.rmtree(index_root, ignore_errors=True)
    return out


def incremental(store_path: Path, index_root: Path, scale: int) -> tuple[float, int]:
    """Store 500 articles new to the archive and time the index update; then remove them again
    (store and index), so the cached store keeps exactly its copies."""
    with ArticleStore(scale_dir(1) / "articles.sqlite", readonly=True) as source:
        fresh = [copy_article(a, scale + 1) for a, _ in zip(source.iter_articles(), range(NEW_ARTICLES), strict=False)]
    with ArticleStore(store_path) as store:
        store.upsert_many(fresh)
    try:
        update = run_phase(phase_noop, str(index_root), str(store_path))
    finally:
        with ArticleStore(store_path) as store:
            store.delete_many(a.id for a in fresh)
        run_phase(phase_noop, str(index_root), str(store_path))
    return update["seconds"], update["added"]


# -- the table ---------------------------------------------------------------------------------

Row = tuple[str, Callable[[dict[str, Any]], float | None], str, str | None, Callable[[float], bool] | None]


def _reply(users: int, key: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda r: r.get("bot", {}).get("replies", {}).get(str(users), {}).get(key)


def rows(levels: Sequence[int]) -> list[Row]:
    """(label, value of a scale's result, format, target text, check); a target applies to the
    ×1 column when its text starts with '35k', otherwise to the ×4 column (141k)."""
    out: list[Row] = [
        ("articles", lambda r: r.get("articles"), "{:,.0f}", None, None),
        ("full build (s)", lambda r: r.get("build_s"), "{:.0f}", None, None),
        ("build rate (articles/s)", lambda r: r.get("build_rate"), "{:,.0f}", "141k ≥ 600", lambda v: v >= 600),
        ("peak build memory, total PSS (MB)", lambda r: r.get("build_peak_pss_mb"), "{:,.0f}", "141k ≤ 1,024",
         lambda v: v <= 1024),
        ("  largest build process, peak RSS (MB)", lambda r: r.get("build_max_rss_mb"), "{:,.0f}", None, None),
        ("index on disk (MB)", lambda r: r.get("index_mb"), "{:,.0f}", None, None),
        ("no-op reindex (s)", lambda r: r.get("noop_s"), "{:.2f}", "141k ≤ 1", lambda v: v <= 1),
        ("incremental 500 articles (s)", lambda r: r.get("incremental_s"), "{:.1f}", "141k ≤ 10", lambda v: v <= 10),
        ("`bantin run` PSS idle (MB)", lambda r: r.get("bot", {}).get("pss_idle_mb"), "{:,.0f}", None, None),
        ("`bantin run` PSS after the queries (MB)", lambda r: r.get("bot", {}).get("pss_after_mb"), "{:,.0f}",
         "35k ≤ 450", lambda v: v <= 450),
        ("`bantin run` PSS after the queries (MB) ", lambda r: r.get("bot", {}).get("pss_after_mb"), "{:,.0f}",
         "141k ≤ 1,229", lambda v: v <= 1229),
        ("search p50 (ms)", lambda r: r.get("search", {}).get("p50_ms"), "{:.1f}", None, None),
        ("search p95 (ms)", lambda r: r.get("search", {}).get("p95_ms"), "{:.1f}", "141k ≤ 60", lambda v: v <= 60),
    ]
    for users in levels:
        out.append((f"reply p50, {users} user{'s' if users > 1 else ''} (ms)", _reply(users, "p50_ms"), "{:.0f}",
                    None, None))
        target: tuple[str | None, Callable[[float], bool] | None] = (
            ("141k ≤ 300", lambda v: v <= 300) if users == 20 else (None, None))
        out.append((f"reply p95, {users} user{'s' if users > 1 else ''} (ms)", _reply(users, "p95_ms"), "{:.0f}",
                    *target))
        out.append((f"  'took too long' replies, {users} user{'s' if users > 1 else ''}", _reply(users, "timeouts"),
                    "{:.0f}", None, None))
    return out


def growth(results: dict[int, dict[str, Any]], levels: Sequence[int]) -> list[tuple[str, float | None, str | None,
                                                                                      Callable[[float], bool] | None]]:
    """The ×4/×1 ratios (None without both scales)."""
    def ratio(get: Callable[[dict[str, Any]], float | None]) -> float | None:
        if 1 not in results or 4 not in results:
            return None
        low, high = get(results[1]), get(results[4])
        return high / low if low and high is not None else None

    most = max(levels) if levels else 1
    return [
        ("search p95 ×4/×1", ratio(lambda r: r.get("search", {}).get("p95_ms")), "≤ 2.5×", lambda v: v <= 2.5),
        (f"reply p95 ({most} users) ×4/×1", ratio(_reply(most, "p95_ms")), None, None),
        ("PSS after the queries ×4/×1", ratio(lambda r: r.get("bot", {}).get("pss_after_mb")), "≤ 3×",
         lambda v: v <= 3),
        ("full build time ×4/×1", ratio(lambda r: r.get("build_s")), None, None),
    ]


def format_table(results: dict[int, dict[str, Any]], levels: Sequence[int]) -> str:
    """The results as a markdown table: one column per scale, then the issue's target and
    whether it was met (pass / miss; '-' when the scale it applies to was not run)."""
    scales = sorted(results)
    header = ["", *(f"×{s} ({results[s].get('articles', 0) / 1000:.0f}k)" for s in scales), "target", "pass/miss"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, get, fmt, target, check in rows(levels):
        values = [get(results[s]) for s in scales]
        if all(v is None for v in values):
            continue
        cells = [fmt.format(v) if v is not None else "-" for v in values]
        verdict = "-"
        if target is not None and check is not None:
            applies = 1 if target.startswith("35k") else 4
            value = get(results[applies]) if applies in results else None
            verdict = "-" if value is None or value != value else ("pass" if check(value) else "**miss**")
        lines.append("| " + " | ".join([label.strip(), *cells, target or "", verdict]) + " |")
    for label, value, target, check in growth(results, levels):
        if value is None:
            continue
        verdict = "-" if check is None else ("pass" if check(value) else "**miss**")
        pad = [""] * (len(scales) - 1)
        lines.append("| " + " | ".join([label, *pad, f"{value:.2f}×", target or "", verdict]) + " |")
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------------------


def save(path: Path, results: dict[int, dict[str, Any]], users: Sequence[int], queries: int) -> None:
    report = {"queries": queries, "users": list(users), "settings": BENCH_ENV, "load": os.getloadavg(),
              "results": {str(k): v for k, v in results.items()}}
    path.write_text(json.dumps(report, indent=2))


def table_from(paths: Sequence[Path]) -> str:
    """The table from saved --json files (later files win for a scale they share): e.g. scales
    measured in separate runs, or a run that was stopped half-way."""
    results: dict[int, dict[str, Any]] = {}
    users: list[int] = []
    for path in paths:
        report = json.loads(path.read_text())
        results.update({int(k): v for k, v in report["results"].items()})
        users = users or list(report["users"])
    return format_table(results, users)


def _load() -> str:
    """The 1/5/15-minute load averages: the figures move with what else this machine runs."""
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", type=_ints, default=[1, 2, 4], help="copies of the corpus, e.g. 1,2,4")
    parser.add_argument("--queries", type=int, default=1000, help="distinct queries (searched, then sent)")
    parser.add_argument("--users", type=_ints, default=[1, 20], help="concurrent users per reply phase")
    parser.add_argument("--keep", action="store_true", help="keep the built indexes in bench/.cache/scale-x*/index")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="smoke run: ×1 only, 200 queries")
    parser.add_argument("--table", type=Path, nargs="+", metavar="JSON",
                        help="only print the table from saved --json files, measuring nothing")
    args = parser.parse_args(argv)
    if args.table:
        print(table_from(args.table))
        return 0
    if args.quick:
        args.scales, args.queries = [1], 200
    if not CORPUS.exists():
        print(f"shared corpus not found at {CORPUS}; nothing to measure", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with ensure_store(scale_dir(1) / "articles.sqlite") as store:
        queries = citizen_queries([a.title for a in store.iter_articles()], args.queries)
    print(f"{len(queries)} distinct queries (2–5 syllables, half unaccented, seed {SEED}); scales "
          f"{', '.join(f'×{s}' for s in args.scales)}; reply phases with {', '.join(map(str, args.users))} users "
          f"sharing the queries", flush=True)
    print("bench settings for `bantin run`: " + " ".join(f"{k}={v}" for k, v in BENCH_ENV.items())
          + " (per-user limit raised, flood limiter off); search workers: default", flush=True)
    print(f"load average at start: {_load()} on {os.cpu_count()} cores", flush=True)
    results: dict[int, dict[str, Any]] = {}
    for scale in args.scales:
        results[scale] = bench_scale(scale, queries, args.users, largest=scale == max(args.scales), keep=args.keep)
        if args.json:  # after every scale: a long run stopped half-way keeps what it measured
            save(args.json, results, args.users, len(queries))
        if scale != args.scales[-1]:
            print(f"\nso far:\n{format_table(results, args.users)}\n", flush=True)
    print()
    print(format_table(results, args.users))
    print(f"\nMB = MiB; PSS summed over `bantin run` and all its descendants from /proc/<pid>/smaps_rollup; "
          f"{time.perf_counter() - started:.0f} s in all; load average at the end: {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
