"""Graded metrics of the topical set (bench/topical_set.json), used by bench/relevance.py.

- nDCG@10: gains are the grades (2, 1, 0) with the standard 1/log2(rank + 1) discount; the ideal
  ranking is every judged document of the topic sorted by grade, cut at 10.
- P@5: share of the top 5 graded ≥ 1 (about the topic or partly); P@5² counts grade 2 only.
- A document in a run's top 10 that was never judged counts as 0, and is counted: a ranking that
  surfaces unjudged documents is under-rated until they are judged (bench/pool_topics.py).
- A topic whose pool holds no document graded ≥ 1 has no ideal ranking: it is left out of the
  means (as trec_eval does) and reported by `answerable`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEPTH = 10
SPLITS = ("tuning", "heldout")


def dcg(gains: list[int]) -> float:
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains[:DEPTH], 1))


def ndcg(found: list[str], qrels: dict[str, int]) -> float:
    ideal = dcg(sorted(qrels.values(), reverse=True))
    return dcg([qrels.get(doc, 0) for doc in found[:DEPTH]]) / ideal if ideal else 0.0


def precision_at_5(found: list[str], qrels: dict[str, int], *, minimum: int = 1) -> float:
    return sum(1 for doc in found[:5] if qrels.get(doc, 0) >= minimum) / 5


@dataclass
class TopicScore:
    """One ranking's figures on one topic in one variant."""

    ndcg: float
    p5: float
    p5_strict: float
    unjudged: int
    found: list[str]


def score_topics(
    search: Callable[[str], list[str]], topics: list[dict[str, Any]], variants: dict[str, Callable[[str], str]]
) -> dict[str, dict[str, TopicScore]]:
    """variant → topic id → score."""
    scores: dict[str, dict[str, TopicScore]] = {}
    for variant, transform in variants.items():
        scores[variant] = {}
        for topic in topics:
            qrels = topic.get("qrels", {})
            found = search(transform(topic["query"]))[:DEPTH]
            scores[variant][topic["id"]] = TopicScore(
                ndcg=ndcg(found, qrels),
                p5=precision_at_5(found, qrels),
                p5_strict=precision_at_5(found, qrels, minimum=2),
                unjudged=sum(1 for doc in found if doc not in qrels),
                found=found,
            )
    return scores


def answerable(topic: dict[str, Any]) -> bool:
    """Whether some judged document is at least partly about the topic."""
    return any(grade > 0 for grade in topic.get("qrels", {}).values())


def summarise(
    scores: dict[str, dict[str, TopicScore]], topics: list[dict[str, Any]], split: str
) -> dict[str, dict[str, float]]:
    """variant → {ndcg, p5, p5_strict (means), unjudged (sum)} over the topics of one split."""
    ids = [t["id"] for t in topics if t["split"] == split and answerable(t)]
    summary: dict[str, dict[str, float]] = {}
    for variant, by_topic in scores.items():
        chosen = [by_topic[i] for i in ids]
        summary[variant] = {
            "ndcg": sum(s.ndcg for s in chosen) / len(chosen),
            "p5": sum(s.p5 for s in chosen) / len(chosen),
            "p5_strict": sum(s.p5_strict for s in chosen) / len(chosen),
            "unjudged": sum(s.unjudged for s in chosen),
        }
    return summary


def print_table(summaries: dict[str, dict[str, dict[str, dict[str, float]]]], variants: list[str]) -> None:
    """summaries: split → system → variant → figures."""
    header = "".join(f"{f'{m} {v[:3]}':>13}" for m in ("nDCG@10", "P@5", "P@5²") for v in variants)
    for split, by_system in summaries.items():
        print(f"\n{split:<10}{header}{'unjudged@10':>13}")
        for system, by_variant in by_system.items():
            cells = "".join(f"{by_variant[v][m]:>13.4f}" for m in ("ndcg", "p5", "p5_strict") for v in variants)
            unjudged = "/".join(str(int(by_variant[v]["unjudged"])) for v in variants)
            print(f"{system:<10}{cells}{unjudged:>13}")


def check_targets(summaries: dict[str, dict[str, dict[str, dict[str, float]]]], variants: list[str]) -> list[str]:
    """The issue-14 targets on the held-out topics, as printable lines."""
    held = summaries["heldout"]
    mine = held["ours"]
    lines = []
    for variant in variants:
        best_name, best = max(
            ((name, figures[variant]["ndcg"]) for name, figures in held.items() if name != "ours"),
            key=lambda item: item[1],
        )
        ours_ndcg, ours_p5 = mine[variant]["ndcg"], mine[variant]["p5"]
        ok = "ok  " if ours_ndcg >= 0.90 else "MISS"
        lines.append(f"  {ok} held-out nDCG@10 ≥ 0.90 ({variant}: {ours_ndcg:.4f})")
        lines.append(
            f"  {'ok  ' if ours_ndcg > best else 'MISS'} above the best baseline ({variant}: {best_name} {best:.4f})"
        )
        lines.append(f"  {'ok  ' if ours_p5 >= 0.90 else 'MISS'} held-out P@5 ≥ 0.90 ({variant}: {ours_p5:.4f})")
    return lines
