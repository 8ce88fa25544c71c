"""Website poll throughput against a local site on 127.0.0.1 (tests/website.py): pages/s.

Run: .venv/bin/python bench/fetch.py [--pages 300] [--repeat 3]
Measures, with the per-host limit off (BANTIN_FEED_RATE=0; in production it is 1 request/s, so
the site, not us, sets the pace): a first poll (feed + every page: fetch, extract, store), a second
poll (the feed answers 304: nothing fetched), extraction alone (parse_webpage on the same pages),
and the same first poll at the default 1 request/s for a few pages, to show the pacing.
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bantin.articles.store import ArticleStore  # noqa: E402
from bantin.articles.web.client import ClientConfig, PoliteClient  # noqa: E402
from bantin.articles.web.fetch import poll  # noqa: E402
from bantin.articles.web.state import FetchState  # noqa: E402
from bantin.articles.webpage import parse_webpage  # noqa: E402
from tests.website import Website, article_html, rss  # noqa: E402

PARAGRAPH = ("Sáng nay, Đảng ủy xã {n} tổ chức hội nghị sơ kết công tác xây dựng Đảng sáu tháng đầu năm, với sự "
             "tham gia của hơn một trăm đảng viên đến từ các chi bộ thôn, buôn trong xã và đại diện các đoàn thể.")


def build_site(site: Website, pages: int) -> list[str]:
    now = datetime.now(UTC).replace(microsecond=0)
    for n in range(pages):
        paragraphs = [PARAGRAPH.format(n=n)] + [f"Đoạn {k} của bài {n}. " + PARAGRAPH.format(n=n) for k in range(8)]
        site.page(f"/tin/{n}.html", article_html(f"Tin số {n}: hội nghị sơ kết ở xã {n}", paragraphs,
                                                 published=now.isoformat(), canonical=f"{site.url}/tin/{n}.html"))
    return [site.page("/rss", rss(site.url, [(f"/tin/{n}.html", f"Tin {n}", now) for n in range(pages)]),
                      content_type="application/rss+xml", etag='"v1"')]


def one_round(feeds: list[str], pages: int, rate: float) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp, ArticleStore(Path(tmp) / "a.sqlite") as store, \
            FetchState(Path(tmp) / "f.sqlite") as state:
        config = ClientConfig(user_agent="bantin/bench", per_host_rate=rate, allow_private=True)  # 127.0.0.1
        with PoliteClient(config) as client:
            started = time.perf_counter()
            first = poll(store, state, client, feeds, max_pages=pages)
            first_s = time.perf_counter() - started
            started = time.perf_counter()
            second = poll(store, state, client, feeds, max_pages=pages)
            second_s = time.perf_counter() - started
        assert first.added == pages and not first.failed, first.to_json()
        assert second.not_modified == 1 and second.pages == 0
        return first_s, second_s, first.requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with Website() as site:
        feeds = build_site(site, args.pages)
        rounds = [one_round(feeds, args.pages, 0.0) for _ in range(args.repeat)]
        first = statistics.median(r[0] for r in rounds)
        second = statistics.median(r[1] for r in rounds)
        print(f"first poll, limit off: {args.pages} pages in {first:.2f} s = {args.pages / first:.1f} pages/s "
              f"({rounds[0][2]} requests incl. robots.txt and the feed)")
        print(f"second poll (feed 304): {second * 1000:.1f} ms")
        bodies = [site.routes[f"/tin/{n}.html"].body for n in range(args.pages)]
        started = time.perf_counter()
        for body in bodies:
            parse_webpage(body, url="http://127.0.0.1/x")
        extract = time.perf_counter() - started
        print(f"extraction alone: {args.pages / extract:.1f} pages/s ({1000 * extract / args.pages:.1f} ms/page, "
              f"{statistics.mean(len(b) for b in bodies) / 1024:.1f} kB/page)")
        few = 5
        paced, _, _ = one_round(build_site(site, few), few, 1.0)
        print(f"default pacing (1 request/s per host): {few} pages in {paced:.1f} s")


if __name__ == "__main__":
    main()
