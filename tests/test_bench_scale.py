"""The scale benchmark's pure helpers (bench/scale.py); the benchmark itself is never run here."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bantin.articles.model import Article
from bantin.index.analysis import fold
from bench.procmem import breakdown, descendants, parse_pss_kb, parse_rollup_kb
from bench.scale import (
    NOTICES,
    citizen_queries,
    copy_article,
    copy_id,
    format_table,
    save,
    split_evenly,
    table_from,
)

TITLES = [
    "Kinh tế thế giới sẽ khó phục hồi trong năm tới",
    "Kết quả xổ số điện toán Vietlott ngày 6/2/2017",
    "Hà Nội: xây dựng nông thôn mới ở huyện Ba Vì",
    "Giá vàng hôm nay tăng mạnh, người dân đổ xô đi mua",
    "Đà Nẵng đón 2 triệu lượt khách du lịch",
    "Chuyển đổi số trong cải cách hành chính cấp xã",
]

SMAPS_ROLLUP = """\
55d0c0a2e000-7ffd3c5f5000 ---p 00000000 00:00 0                          [rollup]
Rss:              812344 kB
Pss:              401234 kB
Pss_Anon:         390000 kB
Pss_File:          11234 kB
Pss_Shmem:             0 kB
Shared_Clean:      20000 kB
"""


def test_copy_one_keeps_the_id_and_later_copies_are_distinct_documents() -> None:
    article = Article(id="2541492", title="Tin", paragraphs=("a", "b"), url="https://bao.vn/a.html")
    assert copy_article(article, 1) is article
    ids = {copy_article(article, k).id for k in range(1, 5)}
    assert ids == {"2541492", "2541492~2", "2541492~3", "2541492~4"}
    second = copy_article(article, 2)
    assert second.title == article.title and second.paragraphs == article.paragraphs
    assert second.url != article.url
    assert copy_id("x", 3) == "x~3"


def test_queries_are_distinct_even_folded_reproducible_and_half_unaccented() -> None:
    queries = citizen_queries(TITLES, 40, seed=1)
    assert len(queries) == 40
    assert len({fold(q) for q in queries}) == 40
    assert queries == citizen_queries(TITLES, 40, seed=1)
    assert queries != citizen_queries(TITLES, 40, seed=2)
    assert all(2 <= len(q.split()) <= 5 for q in queries)
    assert all(not any(ch.isdigit() for ch in q) for q in queries)
    assert all(q == fold(q) for q in queries[1::2])
    assert any(q != fold(q) for q in queries[0::2])


def test_queries_refuse_more_than_the_titles_hold() -> None:
    try:
        citizen_queries(["một hai"], 2)
    except ValueError as exc:
        assert "distinct" in str(exc)
    else:
        raise AssertionError("expected a ValueError")


def test_pss_is_read_from_smaps_rollup() -> None:
    assert parse_pss_kb(SMAPS_ROLLUP) == 401234
    assert parse_pss_kb("Rss: 10 kB\n") == 0
    figures = parse_rollup_kb(SMAPS_ROLLUP)
    assert (figures["Rss"], figures["Pss_Anon"], figures["Pss_File"]) == (812344, 390000, 11234)


def test_descendants_walk_the_whole_tree_but_not_strangers() -> None:
    parents = {1: 0, 10: 1, 11: 10, 12: 10, 13: 12, 20: 1, 21: 20}
    assert descendants(10, parents) == [11, 12, 13]
    assert descendants(13, parents) == []


@given(st.lists(st.text(max_size=3), max_size=30), st.integers(min_value=1, max_value=5))
def test_split_evenly_keeps_every_item_in_order(items: list[str], parts: int) -> None:
    runs = split_evenly(items, parts)
    assert len(runs) == parts
    assert [x for run in runs for x in run] == items
    assert max(map(len, runs)) - min(map(len, runs)) <= 1


def test_table_shows_each_scale_targets_and_verdicts() -> None:
    def result(articles: int, p95: float, pss: float, reply95: float) -> dict[str, object]:
        return {"articles": articles, "build_s": 100.0, "build_rate": articles / 100, "search": {"p50_ms": 5.0,
                "p95_ms": p95}, "bot": {"pss_after_mb": pss, "replies": {"1": {"p50_ms": 30.0, "p95_ms": 60.0},
                                                                      "20": {"p50_ms": 90.0, "p95_ms": reply95}}}}

    table = format_table({1: result(35_440, 20.0, 400.0, 150.0), 4: result(141_756, 70.0, 1500.0, 250.0)}, [1, 20])
    lines = table.splitlines()
    assert lines[0].startswith("|  | ×1 (35k) | ×4 (142k) | target | pass/miss |")
    by_label = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    assert "| 20.0 | 70.0 | 141k ≤ 60 | **miss** |" in by_label["search p95 (ms)"]
    assert "| 150 | 250 | 141k ≤ 300 | pass |" in by_label["reply p95, 20 users (ms)"]
    assert "| 354 | 1,418 | 141k ≥ 600 | pass |" in by_label["build rate (articles/s)"]
    pss_rows = [line for line in lines if line.startswith("| `bantin run` PSS after")]
    assert [row.rsplit(" | ", 2)[1:] for row in pss_rows] == [["35k ≤ 450", "pass |"], ["141k ≤ 1,229", "**miss** |"]]
    assert "| 3.50× | ≤ 2.5× | **miss** |" in by_label["search p95 ×4/×1"]
    assert "| 3.75× | ≤ 3× | **miss** |" in by_label["PSS after the queries ×4/×1"]
    # rows nobody measured (no incremental update here) are left out, not shown empty
    assert not any("incremental" in line for line in lines)


def test_table_without_both_ends_has_no_growth_and_no_verdict_for_the_missing_scale() -> None:
    table = format_table({1: {"articles": 35_440, "search": {"p50_ms": 5.0, "p95_ms": 20.0}}}, [1])
    assert "×4/×1" not in table
    assert "| search p95 (ms) | 20.0 | 141k ≤ 60 | - |" in table


def test_notices_are_told_from_results_as_the_bot_renders_them() -> None:
    from bantin.bot.render import Renderer

    renderer = Renderer()
    assert renderer.render("vi", "timeout").startswith(NOTICES["timeouts"])
    assert renderer.render("vi", "error").startswith(NOTICES["errors"])
    assert len(set(NOTICES.values())) == 2 and all(len(start) >= 20 for start in NOTICES.values())


def test_table_counts_took_too_long_replies() -> None:
    result = {"articles": 35_440, "bot": {"replies": {"20": {"p50_ms": 90.0, "p95_ms": 400.0, "timeouts": 3}}}}
    assert "| 'took too long' replies, 20 users | 3 |  | - |" in format_table({1: result}, [20])


def test_table_from_saved_runs_merges_their_scales(tmp_path: Path) -> None:
    def saved(name: str, scale: int, p95: float) -> Path:
        path = tmp_path / name
        save(path, {scale: {"articles": 35_440 * scale, "search": {"p50_ms": 5.0, "p95_ms": p95}}}, [1, 20], 1000)
        return path

    table = table_from([saved("a.json", 1, 20.0), saved("b.json", 4, 40.0)])
    assert "| search p95 (ms) | 20.0 | 40.0 | 141k ≤ 60 | pass |" in table
    assert "| search p95 ×4/×1 |  | 2.00× | ≤ 2.5× | pass |" in table


def test_breakdown_reads_this_process() -> None:
    (row,) = breakdown([os.getpid()])
    assert row["pid"] == os.getpid() and "python" in str(row["command"])
    assert 0 < row["anon_mb"] <= row["pss_mb"]
