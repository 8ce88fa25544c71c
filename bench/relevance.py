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

Then the topical set (bench/topical_set.json, issue 14): topics a citizen types, graded 2/1/0
over a pool of several rankings. nDCG@10 and P@5 (grade ≥ 1; P@5² grade 2 only) per variant
(accented, unaccented) for ours and three baselines — naive, folded and bigram (folded syllable
bigrams, bench/bigram.py) — on the tuning and the held-out topics separately (see
bench/topical.py). Unjudged documents in a top 10 count as 0 and are reported; `--pool-new`
writes those of ours to a judging sheet (bench/pool_topics.py explains grading and --apply).
Figures also go to bench/.cache/relevance-last.json.
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

from articles.model import Article  # noqa: E402
from bench import topical  # noqa: E402
from bench.search import CACHE, CORPUS, STORE, ensure_store  # noqa: E402
from index.analysis import FoldFilter, fold, place_tone  # noqa: E402

RELEVANCE_SET = ROOT / "bench" / "relevance_set.json"
LAST = CACHE / "relevance-last.json"
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


def build_once(folder: Path, schema: Any, name: str, document: Callable[[Article], dict[str, str]]) -> None:
    """Indexes the whole corpus into `folder` unless a previous run finished it (marked `complete`)."""
    from whoosh import index

    if (folder / "complete").exists():
        return
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    writer = index.create_in(str(folder), schema).writer(procs=2, multisegment=True, limitmb=512)
    with ensure_store() as store:
        for article in store.iter_articles():
            writer.add_document(**document(article))
    writer.commit()
    (folder / "complete").write_text("ok\n")
    print(f"  built the {name} baseline in {time.perf_counter() - started:.0f} s", flush=True)


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
    build_once(folder, schema, name, lambda a: {"id": a.id, "title": a.title, "body": a.text})
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


def known_item(systems: dict[str, Callable[[str], list[str]]], verbose: bool) -> dict[str, dict[str, float]]:
    """The known-item table (MRR@10 of bench/relevance_set.json); returns system → variant → MRR."""
    judged = json.loads(RELEVANCE_SET.read_text(encoding="utf-8"))
    print(f"{len(judged)} judged queries × {len(VARIANTS)} variants; corpus cached in {STORE.parent}", flush=True)
    results = {name: evaluate(search, judged) for name, search in systems.items()}
    print()
    print(f"MRR@{DEPTH:<6}" + "".join(f"{v:>14}" for v in VARIANTS))
    for system, by_variant in results.items():
        print(f"{system:10}" + "".join(f"{sum(rr) / len(rr):>14.4f}" for rr in by_variant.values()))
    mine = {v: sum(rr) / len(rr) for v, rr in results["ours"].items()}
    print()
    print(f"  {'ok  ' if min(mine.values()) >= 0.97 else 'MISS'} ours ≥ 0.97 in every variant")
    gap = mine["accented"] - mine["unaccented"]
    print(f"  {'ok  ' if abs(gap) < 1e-9 else 'MISS'} unaccented equal to accented (gap {gap:+.4f})")
    if verbose:
        print("\nqueries ours does not rank first (reciprocal rank per variant):")
        for i, item in enumerate(judged):
            ranks = [results["ours"][v][i] for v in VARIANTS]
            if min(ranks) < 1:
                print(f"  {' '.join(f'{r:.2f}' for r in ranks)}  {item['query']}  ({item.get('note', '')})")
    return {name: {v: sum(rr) / len(rr) for v, rr in by_variant.items()} for name, by_variant in results.items()}


def topical_set(systems: dict[str, Callable[[str], list[str]]], verbose: bool, pool_new: bool) -> dict[str, Any]:
    """The topical table (nDCG@10, P@5 per split, system and variant); returns it as plain data."""
    from bench.pool_topics import SHEET, TOPICAL_SET, TOPICAL_VARIANTS, load_set, write_sheet

    data = load_set()
    topics = data["topics"]
    variants = list(TOPICAL_VARIANTS)
    judgments = sum(len(t.get("qrels", {})) for t in topics)
    held = sum(1 for t in topics if t["split"] == "heldout")
    print(f"\ntopical set ({TOPICAL_SET.name}): {len(topics)} topics ({len(topics) - held} tuning, {held} held-out),")
    print(f"{judgments} judgments; nDCG@10 (gains 2/1/0), P@5 = share of top 5 graded ≥ 1, P@5² = graded 2")
    empty = [t["id"] for t in topics if not topical.answerable(t)]
    if empty:
        print(f"left out, no judged document about them: {', '.join(empty)}")
    scores = {name: topical.score_topics(search, topics, TOPICAL_VARIANTS) for name, search in systems.items()}
    summaries = {
        split: {name: topical.summarise(by_variant, topics, split) for name, by_variant in scores.items()}
        for split in topical.SPLITS
    }
    topical.print_table(summaries, variants)
    print()
    print("\n".join(topical.check_targets(summaries, variants)))
    unjudged = {t["id"]: {doc: {"ours/" + v} for v in variants for doc in scores["ours"][v][t["id"]].found
                          if doc not in t.get("qrels", {})} for t in topics}
    if any(unjudged.values()):
        print(f"  note: ours has {sum(map(len, unjudged.values()))} unjudged documents in its top 10s (counted as 0)")
    if pool_new:
        count = write_sheet(data, unjudged, SHEET)
        print(f"  {count} unjudged documents of ours written to {SHEET}: grade them, then pool_topics.py --apply")
    if verbose:
        print("\ntopics where ours is below the best baseline (nDCG@10 ours / best, per variant):")
        for topic in topics:
            for v in variants:
                mine = scores["ours"][v][topic["id"]].ndcg
                best = max(by_variant[v][topic["id"]].ndcg for n, by_variant in scores.items() if n != "ours")
                if mine < best:
                    print(f"  {topic['id']} {topic['split']:<8} {v:<10} {mine:.2f} / {best:.2f}  {topic['query']}")
    per_topic = {
        name: {v: {tid: vars(s) for tid, s in by_topic.items()} for v, by_topic in by_variant.items()}
        for name, by_variant in scores.items()
    }
    return {"summary": summaries, "per_topic": per_topic, "judgments": judgments}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="list the queries and topics where ours falls short")
    parser.add_argument("--pool-new", action="store_true", help="write ours' unjudged topical top 10s to a sheet")
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"shared corpus not found at {CORPUS}; nothing to measure", file=sys.stderr)
        return 2
    from bench.bigram import bigram_baseline

    started = time.perf_counter()
    systems = {"ours": ours(), **{name: baseline(name) for name in BASELINES}, "bigram": bigram_baseline()}
    report = {"mrr": known_item(systems, args.verbose), "topical": topical_set(systems, args.verbose, args.pool_new)}
    LAST.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"\n({time.perf_counter() - started:.0f} s in all; figures in {LAST})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
