"""The command line and the index: `ingest` builds it, a damaged one is an error with the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bantin.bot.cli import main
from tests.conftest import SAMPLES
from tests.damage import KINDS, damage


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BANTIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def test_ingest_into_a_fresh_data_dir_builds_the_index(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    assert main(["ingest", str(SAMPLES), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == 24 and report["index"]["full"] and report["index"]["docs"] == 24
    assert main(["search", "hoa giai", "--json"]) == 0  # no `bantin reindex` needed
    assert json.loads(capsys.readouterr().out)["total"] >= 1
    # ... and keeps it current after
    page = data.parent / "new.txt"
    page.write_text("Khánh thành cầu Zerovan\n20/11/2026 08:00\n\nCầu Zerovan nối hai bờ sông.\n", encoding="utf-8")
    assert main(["ingest", str(page)]) == 0
    assert "chỉ mục: 1 bài ghi" in capsys.readouterr().out
    assert main(["search", "zerovan", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 1


@pytest.mark.parametrize("kind", KINDS)
def test_search_on_a_damaged_index_is_an_error_with_the_fix(capsys: pytest.CaptureFixture[str], data: Path,
                                                             kind: str) -> None:
    assert main(["ingest", str(SAMPLES)]) == 0
    damage(data / "index", kind)
    capsys.readouterr()
    for command in (["search", "hoa giai"], ["related", "x"]):
        assert main(command) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith("lỗi: chỉ mục tìm kiếm bị hỏng")
        assert "gợi ý: chạy bantin reindex --full" in captured.err and "Traceback" not in captured.err
    # the fix works, and so does a plain update (the store is the source of truth)
    assert main(["reindex", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["repaired"] is True
    assert main(["search", "hoa giai", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] >= 1


def test_ingest_no_index_only_stores(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    assert main(["ingest", str(SAMPLES), "--no-index", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["index"] is None
    assert not (data / "index").exists()
    assert main(["ingest", str(SAMPLES), "--json"]) == 0  # nothing new to store: the index is built
    assert json.loads(capsys.readouterr().out)["index"]["docs"] == 24


def test_an_index_of_an_older_format_says_so_and_what_to_run(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    """An index written before the code moved under `bantin.` (format 1) names classes that no
    longer exist: it must read as 'made by an older version' with the command, not as a traceback."""
    from bantin.index import layout

    assert main(["ingest", str(SAMPLES)]) == 0
    generation = layout.current_generation(data / "index")
    assert generation is not None
    meta = layout.read_meta(generation)
    assert meta is not None
    layout.write_meta(generation, layout.IndexMeta(rev=meta.rev, schema_version=1))
    capsys.readouterr()
    assert main(["search", "hoa giai"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lỗi: chỉ mục tìm kiếm do phiên bản cũ của bantin tạo (định dạng 1")
    assert "gợi ý: chạy bantin reindex --full" in err
    assert main(["reindex", "--json"]) == 0  # a plain update rebuilds it too
    assert json.loads(capsys.readouterr().out)["full"] is True
    assert main(["search", "hoa giai", "--json"]) == 0
