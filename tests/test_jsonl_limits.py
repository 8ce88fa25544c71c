"""Hostile JSON Lines exports: one bad line is that line's failure, never the whole ingest's,
and no line or gzip bomb can make the reader hold more than a bounded amount of memory."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bantin.articles import jsonl
from bantin.articles.ingest import ingest
from bantin.articles.jsonl import RecordError, read_jsonl, record_to_article
from bantin.articles.model import Article
from bantin.articles.store import ArticleStore


def record(n: int, body: str = "Thân bài.") -> str:
    return json.dumps({"id": f"r{n}", "title": f"Bài {n}", "sapo": "Sapo.", "body": body}, ensure_ascii=False)


def test_deeply_nested_line_fails_alone(store: ArticleStore, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.jsonl").write_text("\n".join([record(1), "[" * 200_000, record(2)]) + "\n", encoding="utf-8")
    report = ingest(store, [folder])
    assert report.added == 2 and store.get("r1") is not None and store.get("r2") is not None
    assert len(report.failed) == 1
    where, reason = report.failed[0]
    assert where.endswith("a.jsonl:2") and "JSON" in reason and len(reason) < 100


def test_a_line_over_the_limit_is_skipped_to_the_next_one(store: ArticleStore, tmp_path: Path) -> None:
    huge = record(2, body="x" * (jsonl.MAX_LINE_BYTES + 10))
    export = tmp_path / "a.jsonl"
    export.write_text("\n".join([record(1), huge, record(3)]) + "\n", encoding="utf-8")
    report = ingest(store, [export])
    assert report.added == 2 and store.get("r2") is None and store.get("r3") is not None
    assert len(report.failed) == 1
    where, reason = report.failed[0]
    assert where.endswith("a.jsonl:2") and "quá dài" in reason and "4 MB" in reason


def test_an_over_long_last_line_without_newline_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 1000)
    export = tmp_path / "a.jsonl"
    export.write_text(record(1) + "\n" + "y" * 5000, encoding="utf-8")
    items = list(read_jsonl(export))
    assert isinstance(items[0], Article)
    assert [type(i) for i in items[1:]] == [RecordError] and "quá dài" in items[1].reason  # type: ignore[union-attr]


def test_gzip_bomb_stops_that_file_and_keeps_what_was_read(
    store: ArticleStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonl, "MAX_EXPORT_BYTES", 2 * 2**20)
    bomb = tmp_path / "bomb.jsonl.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as fh:
        fh.write((record(1) + "\n").encode())
        zeros = b"0" * 2**20
        for _ in range(50):  # 50 MB of one line
            fh.write(zeros)
        fh.write(("\n" + record(2) + "\n").encode())
    assert bomb.stat().st_size < 2**20
    other = tmp_path / "other.jsonl"
    other.write_text(record(3) + "\n", encoding="utf-8")
    report = ingest(store, [bomb, other])
    assert store.get("r1") is not None and store.get("r3") is not None and store.get("r2") is None
    assert report.added == 2 and len(report.failed) == 1
    where, reason = report.failed[0]
    assert "bomb.jsonl.gz" in where and "giải nén" in reason and "2 MB" in reason


def test_bad_utf8_fails_only_its_line(store: ArticleStore, tmp_path: Path) -> None:
    export = tmp_path / "a.jsonl"
    export.write_bytes(record(1).encode() + b"\n" + b'{"id": "\xff"}\n' + record(2).encode() + b"\n")
    report = ingest(store, [export])
    assert report.added == 2 and len(report.failed) == 1 and report.failed[0][0].endswith(":2")


def test_utf8_bom_and_crlf_are_read(tmp_path: Path) -> None:
    export = tmp_path / "a.jsonl"
    export.write_bytes(b"\xef\xbb\xbf" + record(1).encode() + b"\r\n" + record(2).encode() + b"\r\n")
    assert [i.id for i in read_jsonl(export) if isinstance(i, Article)] == ["r1", "r2"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(st.text(max_size=300) | _json.map(json.dumps) | st.integers(1, 300_000).map(lambda n: "[" * n)
       | st.integers(1, 300_000).map(lambda n: '{"a":' * n) | st.integers(4301, 6000).map(lambda n: "1" * n))
def test_record_to_article_never_raises(line: str) -> None:
    got = record_to_article(line, where="x:1", source="x")
    assert isinstance(got, Article | RecordError)
