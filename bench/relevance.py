"""Relevance benchmark: MRR@10 of our search on the judged queries of bench/relevance_set.json.

    .venv/bin/python bench/relevance.py [--verbose]

Every query is run in four variants — as written (accented), without diacritics (đ→d too), in
upper case, and with the other tone placement ("hòa"↔"hoà", "thủy"↔"thuỷ"; unchanged when the
query has no such syllable) — against our index and two baselines over the same corpus:

- naive: Whoosh's StandardAnalyzer on title + body, MultifieldParser, default AND;
- folded: the same with diacritics folded away (what "just strip the accents" gives).

All three indexes cover the full shared corpus and are cached under bench/.cache (git-ignored):
the first run builds them (a few minutes), later runs only search. Target (issue 3): ours
≥ 0.97 in every variant, unaccented equal to accented.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search import CACHE, CORPUS, STORE, ensure_store  # noqa: E402
from index.analysis import FoldFilter, fold, place_tone  # noqa: E402

RELEVANCE_SET = ROOT / "bench" / "relevance_set.json"
OURS = CACHE / "relevance-index"
BASELINES = {"naive": CACHE / "naive-index", "folded": CACHE / "folded-index"}
DEPTH = 10

_SYLLABLE = re.compile(r"[^\W\d_]+")


def swap_tone_placement(query: str) -> str:
    """Old ↔ new tone placement for each syllable that has both ("hòa" ↔ "hoà")."""

    def swap(match: re.Match[str]) -> str:
        word = match.group()
        lower = word.lower()
        old, new = place_tone(lower), place_tone(lower, modern=True)
        if old == new or lower not in (old, new):
            return word
        other = new if lower == old else old
        return other.upper() if word.isupper() else other

    return _SYLLABLE.sub(swap, query)


VARIANTS: dict[str, Callable[[str], str]] = {
    "accented": lambda q: q,
    "unaccented": fold,
    "upper": str.upper,
    "tone-swapped": swap_tone_placement,
}


def reciprocal_rank(found: list[str], relevant: set[str]) -> float:
    return next((1.0 / rank for rank, doc in enumerate(found[:DEPTH], 1) if doc in relevant), 0.0)


# -- systems -----------------------------------------------------------------------------------


def ours() -> Callable[[str], list[str]]:
    from index.maintenance import update_index
    from index.searcher import SearchIndex

    with ensure_store() as store:
        update = update_index(store, OURS)  # builds once, then a no-op
    if update.full:
        print(f"  built our index in {update.seconds:.0f} s", flush=True)
    index = SearchIndex.open(OURS)
    return lambda q: [hit.id for hit in index.search(q, per_page=DEPTH).results]


def baseline(name: str) -> Callable[[str], list[str]]:
    from whoosh import fields, index
    from whoosh.analysis import StandardAnalyzer
    from whoosh.qparser import MultifieldParser

    folder = BASELINES[name]
    analyzer = StandardAnalyzer() if name == "naive" else StandardAnalyzer() | FoldFilter(keep_exact=False)
    schema = fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=fields.TEXT(analyzer=analyzer),
        body=fields.TEXT(analyzer=analyzer),
    )
    if not (folder / "complete").exists():
        started = time.perf_counter()
        folder.mkdir(parents=True, exist_ok=True)
        ix = index.create_in(str(folder), schema)
        writer = ix.writer(procs=2, multisegment=True, limitmb=512)
        with ensure_store() as store:
            for article in store.iter_articles():
                writer.add_document(id=article.id, title=article.title, body=article.text)
        writer.commit()
        (folder / "complete").write_text("ok\n")
        print(f"  built the {name} baseline in {time.perf_counter() - started:.0f} s", flush=True)
    ix = index.open_dir(str(folder))
    parser = MultifieldParser(["title", "body"], ix.schema)
    searcher = ix.searcher()

    def search(query: str) -> list[str]:
        try:
            parsed = parser.parse(query)
        except Exception:  # a baseline may choke on some text; that counts as a miss
            return []
        return [hit["id"] for hit in searcher.search(parsed, limit=DEPTH)]

    return search


def evaluate(search: Callable[[str], list[str]], judged: list[dict[str, Any]]) -> dict[str, list[float]]:
    return {
        variant: [reciprocal_rank(search(transform(item["query"])), set(item["relevant"])) for item in judged]
        for variant, transform in VARIANTS.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="list the queries ours ranks below first")
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"shared corpus not found at {CORPUS}; nothing to measure", file=sys.stderr)
        return 2
    judged = json.loads(RELEVANCE_SET.read_text(encoding="utf-8"))
    started = time.perf_counter()
    print(f"{len(judged)} judged queries × {len(VARIANTS)} variants; corpus cached in {STORE.parent}", flush=True)
    results = {"ours": evaluate(ours(), judged)}
    for name in BASELINES:
        results[name] = evaluate(baseline(name), judged)

    print()
    print(f"MRR@{DEPTH:<6}" + "".join(f"{v:>14}" for v in VARIANTS))
    for system, by_variant in results.items():
        print(f"{system:10}" + "".join(f"{sum(rr) / len(rr):>14.4f}" for rr in by_variant.values()))
    mine = {v: sum(rr) / len(rr) for v, rr in results["ours"].items()}
    print()
    print(f"  {'ok  ' if min(mine.values()) >= 0.97 else 'MISS'} ours ≥ 0.97 in every variant")
    gap = mine["accented"] - mine["unaccented"]
    print(f"  {'ok  ' if abs(gap) < 1e-9 else 'MISS'} unaccented equal to accented (gap {gap:+.4f})")
    if args.verbose:
        print("\nqueries ours does not rank first (reciprocal rank per variant):")
        for i, item in enumerate(judged):
            ranks = [results["ours"][v][i] for v in VARIANTS]
            if min(ranks) < 1:
                print(f"  {' '.join(f'{r:.2f}' for r in ranks)}  {item['query']}  ({item.get('note', '')})")
    print(f"\n({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
