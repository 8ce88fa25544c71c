"""The topical relevance benchmark: its metrics, the folded-bigram baseline's analysis, and the set file."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from bench.bigram import bigrams, fold_text, unigrams
from bench.topical import answerable, ndcg, precision_at_5

TOPICAL_SET = Path(__file__).resolve().parent.parent / "bench" / "topical_set.json"


def test_ndcg_is_one_for_the_ideal_order_and_uses_graded_gains() -> None:
    qrels = {"a": 2, "b": 1, "c": 0}
    assert ndcg(["a", "b", "c"], qrels) == pytest.approx(1.0)
    # b (1) first, a (2) second: (1 + 2/log2 3) / (2 + 1/log2 3)
    expected = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert ndcg(["b", "a"], qrels) == pytest.approx(expected)


def test_ndcg_ideal_comes_from_every_judged_document_not_the_run() -> None:
    qrels = {"a": 2, "b": 2, "x": 0}
    # only one of the two relevant documents found, at rank 1
    assert ndcg(["a", "unjudged"], qrels) == pytest.approx(2 / (2 + 2 / math.log2(3)))


def test_unjudged_documents_count_as_zero_and_depth_is_ten() -> None:
    qrels = {"a": 2}
    assert ndcg(["n1", "a"], qrels) == pytest.approx(1 / math.log2(3))
    assert ndcg([f"n{i}" for i in range(10)] + ["a"], qrels) == 0.0


def test_precision_at_5_counts_partly_relevant_unless_strict() -> None:
    qrels = {"a": 2, "b": 1, "c": 0}
    found = ["a", "b", "c", "d", "e", "a2"]
    assert precision_at_5(found, qrels) == pytest.approx(2 / 5)
    assert precision_at_5(found, qrels, minimum=2) == pytest.approx(1 / 5)


def test_a_topic_without_relevant_documents_is_not_answerable() -> None:
    assert not answerable({"qrels": {"a": 0}})
    assert answerable({"qrels": {"a": 0, "b": 1}})


def test_bigrams_are_folded_and_never_cross_punctuation() -> None:
    assert bigrams("Hội đồng nhân dân, TP.HCM: kết nạp Đảng viên") == [
        "hoi_dong",
        "dong_nhan",
        "nhan_dan",
        "ket_nap",
        "nap_dang",
        "dang_vien",
    ]
    assert unigrams("Đà Nẵng") == ["da", "nang"]
    assert fold_text("Hồ tiêu ĐẮK LẮK") == "ho tieu dak lak"


def test_the_topical_set_is_well_formed_and_its_split_reproducible() -> None:
    data = json.loads(TOPICAL_SET.read_text(encoding="utf-8"))
    topics = data["topics"]
    ids = [t["id"] for t in topics]
    assert len(topics) >= 60 and len(set(ids)) == len(ids)
    held = {t["id"] for t in topics if t["split"] == "heldout"}
    assert len(held) == len(topics) // 3
    assert held == set(random.Random(data["split"]["seed"]).sample(ids, len(ids) // 3))
    for topic in topics:
        assert 2 <= len(topic["query"].split()) <= 5, topic["query"]
        assert topic["rule"] and topic["split"] in ("tuning", "heldout")
        assert all(grade in (0, 1, 2) for grade in topic["qrels"].values())
    assert data["judge"] and data["grades"] and data["pool"]["depth"] == 10
