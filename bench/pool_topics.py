"""Pooling and judging for the topical set (bench/topical_set.json), so the pool is reproducible.

    .venv/bin/python bench/pool_topics.py [--only ours] [--sheet PATH]   # pool, write a judging sheet
    .venv/bin/python bench/pool_topics.py --apply PATH                   # merge graded sheet rows

For every topic, the top 10 of each ranking (ours, naive, folded, bigram — see bench/relevance.py
and bench/bigram.py) is taken for the query as written and without diacritics (đ→d), over the
full shared corpus; a topic with fewer than 5 relevant judged documents also gets a manual
"phrase" run (up to 10 documents containing the exact query, see `phrase_run`). Documents
already judged keep their grade; the others are written to a tab-separated judging sheet
(default bench/.cache/judge-sheet.tsv: topic, doc id, an empty grade column, the query, the
topic's rule, title, lead, start of body). Fill the grade column (2, 1 or 0, by reading title
and lead against the topic's rule) and `--apply` the sheet: rows with a grade are added to the
topic's qrels. After a ranking change, `--only ours` pools just the new top 10s (record the new
run under "pool" in the set); `bench/relevance.py` also counts the unjudged documents in every
run's top 10, so a ranking that surfaces new documents is visible.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search import CACHE, CORPUS, ensure_store  # noqa: E402
from index.analysis import fold  # noqa: E402

TOPICAL_SET = ROOT / "bench" / "topical_set.json"
SHEET = CACHE / "judge-sheet.tsv"
DEPTH = 10
TOPICAL_VARIANTS: dict[str, Callable[[str], str]] = {"accented": lambda q: q, "unaccented": fold}
RANKINGS = ("ours", "naive", "folded", "bigram")
#: A topic with fewer relevant judged documents than this is "thin": the phrase run supplements it.
THIN = 5


def load_set(path: Path = TOPICAL_SET) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def save_set(data: dict[str, Any], path: Path = TOPICAL_SET) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def ranking(name: str) -> Callable[[str], list[str]]:
    """A query → top-10 ids function for one of RANKINGS (indexes built once, cached)."""
    from bench import relevance
    from bench.bigram import bigram_baseline

    if name == "ours":
        return relevance.ours()
    if name == "bigram":
        return bigram_baseline()
    return relevance.baseline(name)


def phrase_run(topics: list[dict[str, Any]]) -> dict[str, list[str]]:
    """A manual run for thin topics: up to 10 documents (id order) with the exact query phrase.

    Shallow pools can miss most relevant documents of a topic none of the rankings handles well
    (issue 14's own examples). Title or lead is tried first, then anywhere in the text.
    """
    thin = {t["id"]: t["query"].lower() for t in topics if sum(g > 0 for g in t.get("qrels", {}).values()) < THIN}
    in_lead: dict[str, list[str]] = {tid: [] for tid in thin}
    anywhere: dict[str, list[str]] = {tid: [] for tid in thin}
    with ensure_store() as store:
        for article in store.iter_articles():
            head, body = f"{article.title} {article.lead}".lower(), article.body.lower()
            for tid, phrase in thin.items():
                if phrase in head:
                    in_lead[tid].append(article.id)
                elif phrase in body:
                    anywhere[tid].append(article.id)
    return {tid: sorted(in_lead[tid] or anywhere[tid])[:DEPTH] for tid in thin}


def pool(topics: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, dict[str, set[str]]]:
    """topic id → doc id → the runs ("ours/accented", …) that put it in their top 10."""
    pooled: dict[str, dict[str, set[str]]] = {t["id"]: {} for t in topics}
    for name in names:
        if name == "phrase":
            for tid, docs in phrase_run(topics).items():
                for doc in docs:
                    pooled[tid].setdefault(doc, set()).add("phrase")
            continue
        search = ranking(name)
        for topic in topics:
            for variant, transform in TOPICAL_VARIANTS.items():
                for doc in search(transform(topic["query"]))[:DEPTH]:
                    pooled[topic["id"]].setdefault(doc, set()).add(f"{name}/{variant}")
    return pooled


def write_sheet(data: dict[str, Any], pooled: dict[str, dict[str, set[str]]], sheet: Path) -> int:
    """Writes the unjudged pooled documents to a judging sheet; returns how many."""
    by_id = {t["id"]: t for t in data["topics"]}
    rows = [
        (topic_id, doc)
        for topic_id, docs in pooled.items()
        for doc in sorted(docs)  # id order: the judge never sees which ranking found it
        if doc not in by_id[topic_id].get("qrels", {})
    ]
    with ensure_store() as store:
        articles = {a.id: a for a in store.get_many([doc for _, doc in rows])} if rows else {}
    sheet.parent.mkdir(parents=True, exist_ok=True)
    with sheet.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(["topic", "doc", "grade", "query", "rule", "title", "lead", "body"])
        for topic_id, doc in rows:
            article = articles.get(doc)
            title, lead, body = (article.title, article.lead, article.body[:300]) if article else ("?", "", "")
            topic = by_id[topic_id]
            writer.writerow([topic_id, doc, "", topic["query"], topic["rule"], title, lead, body])
    return len(rows)


def apply_sheet(data: dict[str, Any], sheet: Path) -> int:
    """Adds the graded rows of a sheet to the qrels; returns how many grades were added."""
    by_id = {t["id"]: t for t in data["topics"]}
    added = 0
    with sheet.open(encoding="utf-8", newline="") as source:
        for row in csv.DictReader(source, delimiter="\t"):
            grade = (row.get("grade") or "").strip()
            if not grade:
                continue
            if grade not in ("0", "1", "2") or row["topic"] not in by_id:
                raise SystemExit(f"bad sheet row: {row['topic']} {row['doc']} grade {grade!r}")
            by_id[row["topic"]].setdefault("qrels", {})[row["doc"]] = int(grade)
            added += 1
    return added


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", choices=(*RANKINGS, "phrase"), action="append", help="pool only these rankings (or the phrase run)"
    )
    parser.add_argument("--sheet", type=Path, default=SHEET, help=f"judging sheet (default {SHEET})")
    parser.add_argument("--apply", type=Path, metavar="SHEET", help="merge a graded sheet into the set")
    args = parser.parse_args()
    data = load_set()
    if args.apply:
        if not args.apply.is_file():
            print(f"no judging sheet at {args.apply}", file=sys.stderr)
            return 2
        added = apply_sheet(data, args.apply)
        save_set(data)
        judged = sum(len(t.get("qrels", {})) for t in data["topics"])
        print(f"{added} grades added; {judged} judgments in {TOPICAL_SET.name}")
        return 0
    if not CORPUS.exists():
        print(f"shared corpus not found at {CORPUS}; nothing to pool", file=sys.stderr)
        return 2
    names = tuple(args.only or (*RANKINGS, "phrase"))
    pooled = pool(data["topics"], names)
    sizes = [len(docs) for docs in pooled.values()]
    unjudged = write_sheet(data, pooled, args.sheet)
    print(f"{len(sizes)} topics, pool of {sum(sizes)} documents ({min(sizes)}–{max(sizes)} per topic) from {names}")
    print(f"{unjudged} unjudged, written to {args.sheet}" + (": grade them, then --apply" if unjudged else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
