"""Daily digests at scale: build time per subscriber, and sends/s through the local Bot API server.

Run: .venv/bin/python bench/digest.py [--subscribers 10000] [--articles 6000] [--limited 500]

Setup (in a temporary folder): the first `--articles` articles of the shared corpus, most of them
an "archive" first seen a month ago and the last 400 re-dated as this week's news (first seen over
the past 6 days, so late-scraped pages are in too); `--subscribers`
subscribers, 3 in 4 with 1–3 topics from a list of realistic saved searches, accented or not.

Measures
* build: planning every subscriber's digest (reading the week's articles, matching each distinct
  topic once, choosing and rendering each digest with Jinja), per subscriber, with the share spent
  on topics;
* sends/s, rate limiter off: every digest through the real Broadcaster and PTB `Bot` to the
  fake Bot API server (tests/fake_botapi.py, in its own process so it does not share our GIL),
  each send recorded in the SQLite delivery log; target ≥ 300/s;
* sends/s, rate limiter on: `--limited` digests at the configured BANTIN_DIGEST_RATE (default 25/s);
  target ≥ 90 % of it.
Skips with a message when the shared corpus is absent.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bantin.articles.jsonl import RecordError, read_jsonl  # noqa: E402
from bantin.articles.model import VIETNAM_TZ  # noqa: E402
from bantin.articles.store import ArticleStore  # noqa: E402
from bantin.bot.digests.broadcast import Broadcaster, Limits  # noqa: E402
from bantin.bot.digests.runner import DigestRunner  # noqa: E402
from bantin.bot.digests.store import SubscriptionStore  # noqa: E402
from bantin.bot.render import Renderer  # noqa: E402
from bantin.bot.settings import Settings  # noqa: E402
from bantin.bot.telegram.send import digest_bot, telegram_sender  # noqa: E402
from bantin.index.topics import TopicIndex  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "vn-news-35k.jsonl.gz"
FRESH = 400
TOPICS = [
    "đảng viên", "dang vien", "chuyển đổi số", "chuyen doi so", "nông thôn mới", "nong thon moi", "giáo dục",
    "y tế", "giao thông", "du lịch", "an ninh trật tự", "phòng chống tham nhũng", "cải cách hành chính",
    "xây dựng đảng", "kinh tế", "nông nghiệp", "hồ tiêu", "cà phê", "bão lũ", "môi trường", "thanh niên",
    "phụ nữ", "quốc phòng", "biên giới", "văn hóa", "thể thao", "doanh nghiệp", "đầu tư", "xuất khẩu",
    "chi bộ", "hội đồng nhân dân", "bầu cử", "người có công", "giảm nghèo", "covid", "tiêm chủng",
    "trường học", "học sinh", "bệnh viện", "cầu treo", "đường giao thông nông thôn", "khởi nghiệp",
]

SERVER = """
import sys, time, json
sys.path.insert(0, sys.argv[1])
from tests.fake_botapi import FakeBotAPI
fake = FakeBotAPI()
fake.start()
print(fake.url, flush=True)
for line in sys.stdin:
    if line.strip() == "report":
        sends = [c for c in fake.requests if c.method == "sendMessage"]
        print(json.dumps({"sends": len(sends), "ok": sum(c.status == 200 for c in sends),
                          "violations": fake.violations[:5], "chats": len({c.params.get("chat_id") for c in sends})}),
              flush=True)
    elif line.strip() == "stop":
        break
fake.stop()
"""


def prepare(tmp: Path, articles: int, now: datetime) -> ArticleStore:
    corpus = [a for a in itertools.islice((x for x in read_jsonl(CORPUS) if not isinstance(x, RecordError)),
                                          articles)]
    store = ArticleStore(tmp / "articles.sqlite")
    store.upsert_many(corpus[:-FRESH], now=now - timedelta(days=30))
    rng = random.Random(7)
    fresh = corpus[-FRESH:]
    for batch_start in range(0, FRESH, 20):  # 20 ingest runs over the past 6 days
        seen = now - timedelta(hours=6 * 24 * (1 - batch_start / FRESH))
        batch = [replace(a, published=(seen - timedelta(hours=rng.uniform(0, 30))).astimezone(VIETNAM_TZ))
                 for a in fresh[batch_start : batch_start + 20]]
        store.upsert_many(batch, now=seen)
    print(f"setup: {len(corpus):,} articles in the store, {FRESH} of them this week's news")
    return store


def subscribe(subs: SubscriptionStore, count: int, now: datetime) -> None:
    rng = random.Random(11)
    slots = ["06:00", "06:30", "07:00", "07:00", "07:00", "12:00", "18:30", "21:00"]
    for n in range(count):
        topics = tuple(rng.sample(TOPICS, rng.randint(1, 3))) if rng.random() < 0.75 else ()
        subs.subscribe(1_000_000 + n, lang="vi" if n % 5 else "en", slot=rng.choice(slots), topics=topics,
                       now=now - timedelta(days=8))


async def send_all(runner: DigestRunner, url: str, token: str, limits: Limits) -> tuple[int, float]:
    subs = runner.subscriptions
    pending = subs.pending(now=runner.clock())
    bot = digest_bot(token, url, pool=limits.concurrency + 4)
    async with bot:
        broadcaster = Broadcaster(subs, telegram_sender(bot), limits, clock=runner.clock)
        started = time.perf_counter()
        report = await broadcaster.deliver(pending)
        seconds = time.perf_counter() - started
    assert report.failed == report.blocked == report.retry_later == 0, report
    return report.messages, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--articles", type=int, default=6_000)
    parser.add_argument("--limited", type=int, default=500, help="digests sent with the rate limiter on")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"skipped: {CORPUS} is absent (the shared data lives beside the checkout)")
        return 0
    rate = Settings().digest_rate
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        store = prepare(tmp, args.articles, now)
        subs = SubscriptionStore(tmp / "bot.sqlite")
        subscribe(subs, args.subscribers, now)
        runner = DigestRunner(store, subs, Renderer(), size=10, clock=lambda: now)

        # -- build -----------------------------------------------------------------------------
        spent = {"topics": 0, "index": 0.0, "search": 0.0}
        real_open, real_match = TopicIndex._open, TopicIndex.match

        def timed_open(self: TopicIndex) -> object:
            started = time.perf_counter()
            try:
                return real_open(self)
            finally:
                spent["index"] += time.perf_counter() - started

        def timed_match(self: TopicIndex, topic: str) -> frozenset[str]:
            started = time.perf_counter()
            try:
                return real_match(self, topic)
            finally:
                spent["topics"] += 1
                spent["search"] += time.perf_counter() - started

        TopicIndex._open, TopicIndex.match = timed_open, timed_match  # type: ignore[method-assign]
        started = time.perf_counter()
        plan = runner.plan(now, force=True)
        build = time.perf_counter() - started
        TopicIndex._open, TopicIndex.match = real_open, real_match  # type: ignore[method-assign]
        sizes = [p.articles for _, p in plan.items]
        with_digest = sum(1 for _, p in plan.items if p.parts)
        messages = sum(len(p.parts) for _, p in plan.items)
        print(f"build: {len(plan.items):,} subscribers in {build:.2f} s = {build / len(plan.items) * 1000:.3f} ms"
              f" per subscriber; topics: {spent['topics']} distinct, matched in {spent['search']:.2f} s "
              f"(of which {spent['index']:.2f} s indexing the week's {FRESH} articles in memory); "
              f"{with_digest:,} non-empty digests, {messages:,} messages, median {sorted(sizes)[len(sizes) // 2]}"
              f" articles per digest")
        started = time.perf_counter()
        subs.plan([p for _, p in plan.items], now=now)
        print(f"record: {len(plan.items):,} log rows in {time.perf_counter() - started:.2f} s")

        # -- send ------------------------------------------------------------------------------
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(ROOT)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert server.stdin and server.stdout
        url = server.stdout.readline().strip()
        try:
            sent, seconds = asyncio.run(send_all(runner, url, "123456:TEST-TOKEN",
                                                 Limits(rate=None, per_chat=None, concurrency=args.concurrency)))
            off = sent / seconds
            print(f"send, limiter off: {sent:,} messages in {seconds:.1f} s = {off:,.0f}/s "
                  f"(target ≥ 300/s: {'ok' if off >= 300 else 'MISSED'}, ×{off / 300:.2f})")

            later = now + timedelta(minutes=1)
            runner.clock = lambda: later
            chosen = set(sorted(s.chat_id for s in subs.active() if not s.topics)[: args.limited])
            fresh = store.first_seen_after(now - timedelta(days=1), limit=3)
            store.upsert_many([replace(a, id=f"{a.id}-late") for a in fresh], now=later)
            again = runner.plan(later, force=True)
            subs.plan([p for s, p in again.items if s.chat_id in chosen], now=later)
            sent, seconds = asyncio.run(send_all(runner, url, "123456:TEST-TOKEN",
                                                 Limits(rate=rate, per_chat=1.0, concurrency=args.concurrency)))
            on = sent / seconds
            print(f"send, limiter on at {rate:g}/s: {sent:,} messages in {seconds:.1f} s = {on:.1f}/s "
                  f"= {on / rate:.1%} of the limit (target ≥ 90%: {'ok' if on >= 0.9 * rate else 'MISSED'})")
            server.stdin.write("report\n")
            server.stdin.flush()
            seen = json.loads(server.stdout.readline())
            print(f"server saw {seen['sends']:,} sendMessage calls to {seen['chats']:,} chats, "
                  f"{seen['ok']:,} accepted; violations: {seen['violations'] or 'none'}")
        finally:
            server.stdin.write("stop\n")
            server.stdin.flush()
            server.wait(timeout=10)
        subs.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
