"""Ingest throughput on the shared corpus: parse only, and parse + store, in articles/s.

Run: .venv/bin/python bench/ingest.py [--repeat 3]
Also measures raw pages: the corpus written out as scraper-style pages (a sample of it), so the
raw-page parser is measured too. Prints medians of the repeats; target ≥ 2,000 articles/s parse+store.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bantin.articles.ingest import ingest  # noqa: E402
from bantin.articles.jsonl import RecordError, read_jsonl  # noqa: E402
from bantin.articles.rawpage import parse_page  # noqa: E402
from bantin.articles.store import ArticleStore  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "vn-news-35k.jsonl.gz"
PAGES = 5000


def parse_only() -> tuple[int, float]:
    started = time.perf_counter()
    count = sum(1 for item in read_jsonl(CORPUS) if not isinstance(item, RecordError))
    return count, time.perf_counter() - started


def parse_and_store(tmp: Path) -> tuple[int, float, float]:
    with ArticleStore(tmp / "articles.sqlite") as store:
        started = time.perf_counter()
        report = ingest(store, [CORPUS])
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = ingest(store, [CORPUS])
        second = time.perf_counter() - started
        assert again.unchanged == report.added
    return report.added, first, second


def write_pages(folder: Path) -> int:
    """Corpus articles written as the scraper writes pages (error, title, date line, author, chrome)."""
    folder.mkdir(parents=True)
    n = 0
    for item in read_jsonl(CORPUS):
        if isinstance(item, RecordError):
            continue
        body = "\n\n".join(item.paragraphs)
        text = (f"The operation has timed out {item.title}\n0{n % 9 + 1}/0{n % 9 + 1}/2019 - Lượt xem: {n}\n"
                f"{body}\n\nTrường Xuân\n\n(Bấm vào đây để nhận mã)\n\nTin liên quan\n\nLÊN ĐẦU TRANG")
        (folder / f"{n:06d}.txt").write_text(text, encoding="utf-8")
        n += 1
        if n == PAGES:
            break
    return n


def raw_pages(folder: Path) -> tuple[float, float]:
    files = sorted(folder.iterdir())
    started = time.perf_counter()
    for path in files:
        parse_page(path.read_bytes(), source=str(path))
    parse_rate = len(files) / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp, ArticleStore(Path(tmp) / "a.sqlite") as store:
        started = time.perf_counter()
        ingest(store, [folder])
        store_rate = len(files) / (time.perf_counter() - started)
    return parse_rate, store_rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"skipped: {CORPUS} is absent")
        return 0
    parse_rates, store_rates, noop_rates = [], [], []
    count = 0
    for _ in range(args.repeat):
        count, seconds = parse_only()
        parse_rates.append(count / seconds)
        with tempfile.TemporaryDirectory() as tmp:
            added, first, second = parse_and_store(Path(tmp))
        store_rates.append(added / first)
        noop_rates.append(added / second)
    with tempfile.TemporaryDirectory() as tmp:
        write_pages(Path(tmp) / "pages")
        page_parse, page_store = raw_pages(Path(tmp) / "pages")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parse_median = statistics.median(parse_rates)
    print(f"corpus: {count} articles, {args.repeat} runs (medians)")
    print(f"  JSON Lines parse only        {parse_median:8.0f} articles/s")
    print(f"  JSON Lines parse + store     {statistics.median(store_rates):8.0f} articles/s"
          f"   (ratio to parse only: {statistics.median(store_rates) / parse_median:.2f}; target ≥ 2000/s)")
    print(f"  re-ingest, all unchanged     {statistics.median(noop_rates):8.0f} articles/s")
    print(f"  raw pages parse only         {page_parse:8.0f} pages/s   ({PAGES} pages)")
    print(f"  raw pages parse + store      {page_store:8.0f} pages/s")
    print(f"  peak RSS                     {rss:8.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
