"""Pruning (issue 12, item 1): JSON Lines articles live as long as their export and their line.

Pruning used to compare `<path>#<id>` sources with file paths, so every JSON Lines article in a
scanned folder was deleted on every `--prune`, `/reindex`, `bantin start` and scheduled scan; and
with a relative path the articles of a deleted export were never pruned.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bantin.articles.ingest import ingest
from bantin.articles.store import ArticleStore
from bantin.bot.cli import main
from bantin.bot.newsroom import audit as au
from bantin.bot.newsroom.reindex import SCAN, SCHEDULED, Progress, ReindexRunner, Silent, reindex_now
from bantin.bot.settings import Settings
from tests.conftest import ROOT
from tests.test_ingest import write_pages


def write_export(path: Path, ids: list[int], *, extra: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": f"j{n}", "title": f"Bài xuất {n}", "sapo": f"Sapo {n}.", "body": f"Thân {n}."},
                        ensure_ascii=False) for n in ids]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def ids(store: ArticleStore) -> set[str]:
    return {a.id for a in store.iter_articles()}


def test_an_export_in_a_scanned_folder_survives_pruning(store: ArticleStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_pages(src, 2)
    write_export(src / "export.jsonl", list(range(50)))
    first = ingest(store, [src], prune=True)
    assert (first.added, first.removed) == (52, 0)
    again = ingest(store, [src], prune=True)
    assert (again.unchanged, again.removed) == (52, 0) and store.count() == 52


def test_a_deleted_export_prunes_its_articles_and_a_deleted_page_its_own(store: ArticleStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    pages = write_pages(src, 2)
    export = write_export(src / "sub" / "export.jsonl", [1, 2, 3])
    write_export(src / "other.jsonl", [7])
    ingest(store, [src], prune=True)
    export.unlink()
    pages[0].unlink()
    report = ingest(store, [src], prune=True)
    assert report.removed == 4
    assert ids(store) == {"j7", store_id_of(store, pages[1])}


def store_id_of(store: ArticleStore, page: Path) -> str:
    return next(a.id for a in store.iter_articles() if a.source == str(page.resolve()))


def test_relative_paths_store_absolute_sources_and_prune(store: ArticleStore, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    export = write_export(Path("src") / "export.jsonl", [1, 2])
    write_pages(Path("src"), 1)
    assert ingest(store, [Path("src")], prune=True).added == 3
    assert all(Path(a.source.split("#")[0]).is_absolute() for a in store.iter_articles())
    assert ingest(store, [Path("src")], prune=True).removed == 0
    export.unlink()
    assert ingest(store, [Path("src")], prune=True).removed == 2 and store.count() == 1


def test_an_id_dropped_from_an_export_is_pruned_unless_the_export_has_a_broken_line(
    store: ArticleStore, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    write_export(src / "export.jsonl", [1, 2, 3])
    ingest(store, [src], prune=True)
    write_export(src / "export.jsonl", [1, 3], extra="{broken\n")  # mid-edit: keep what it had
    report = ingest(store, [src], prune=True)
    assert report.removed == 0 and len(report.failed) == 1 and store.count() == 3
    write_export(src / "export.jsonl", [1, 3])
    assert ingest(store, [src], prune=True).removed == 1 and ids(store) == {"j1", "j3"}


def test_articles_moved_to_a_new_export_survive_the_old_one_going(store: ArticleStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    old = write_export(src / "2023.jsonl", [1, 2])
    ingest(store, [src], prune=True)
    write_export(src / "2024.jsonl", [1, 2, 3])
    old.unlink()
    report = ingest(store, [src], prune=True)
    assert (report.removed, report.added, report.unchanged) == (0, 1, 2)
    assert all(a.source.startswith(str((src / "2024.jsonl").resolve()) + "#") for a in store.iter_articles())


def test_an_export_named_directly_prunes_the_ids_it_dropped(store: ArticleStore, tmp_path: Path) -> None:
    export = write_export(tmp_path / "export.jsonl", [1, 2])
    ingest(store, [export], prune=True)
    write_export(export, [2])
    assert ingest(store, [export], prune=True).removed == 1 and ids(store) == {"j2"}


def test_cli_ingest_prune_keeps_an_export(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    write_export(tmp_path / "src" / "export.jsonl", list(range(50)))
    assert main(["ingest", "--prune", "src"]) == 0
    capsys.readouterr()  # the first summary (now two lines: the index is built too)
    assert main(["ingest", "--prune", "--json", "src"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["unchanged"], out["removed"]) == (50, 0)
    (tmp_path / "src" / "export.jsonl").unlink()
    assert main(["ingest", "--prune", "src"]) == 0
    assert "đã xoá: 50" in capsys.readouterr().out


def test_cli_ingest_prune_forgets_the_failures_of_deleted_pages_like_the_editor_reindex(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One ingest step for `bantin ingest`/`start` and the editors' /reindex: a page deleted since
    it failed leaves /failed either way (before, only /reindex forgot it)."""
    monkeypatch.setenv("BANTIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    export = write_export(tmp_path / "src" / "export.jsonl", list(range(3)), extra="{broken\n")
    assert main(["ingest", "--prune", "src"]) == 1  # the broken line failed
    with ArticleStore(tmp_path / "data" / "articles.sqlite") as store:
        assert store.failure_count() == 1
    export.unlink()
    assert main(["ingest", "--prune", "src"]) == 0
    with ArticleStore(tmp_path / "data" / "articles.sqlite") as store:
        assert store.count() == 0 and store.failure_count() == 0


def test_the_editor_reindex_keeps_an_export_and_prunes_it_once_deleted(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_pages(src, 2)
    export = write_export(src / "export.jsonl", list(range(10)), extra="{broken\n")
    settings = Settings(data_dir=tmp_path / "data", sources=(src,))
    first = reindex_now(settings, SCAN, Progress())
    assert first.report is not None and (first.report.added, first.report.removed) == (12, 0)
    again = reindex_now(settings, SCAN, Progress())
    assert again.report is not None and (again.report.unchanged, again.report.removed) == (12, 0)
    with ArticleStore(settings.store_path) as store:
        assert store.count() == 12 and store.failure_count() == 1  # the broken line stays in /failed
    export.unlink()
    gone = reindex_now(settings, SCAN, Progress())
    assert gone.report is not None and gone.report.removed == 10
    with ArticleStore(settings.store_path) as store:
        assert store.count() == 2 and store.failure_count() == 0


def test_a_folder_that_cannot_be_walked_keeps_its_articles(store: ArticleStore, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    write_pages(src / "share", 2)
    write_export(src / "share" / "export.jsonl", [1])
    write_pages(src, 1)
    ingest(store, [src], prune=True)
    real = os.scandir

    def flaky(path: str | os.PathLike[str] = ".") -> object:  # a network share that hiccups
        if Path(path).name == "share":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", flaky)
    report = ingest(store, [src], prune=True)
    assert report.removed == 0 and store.count() == 4 and len(report.failed) == 1


async def test_the_scheduled_scan_through_the_runner_keeps_an_export(tmp_path: Path) -> None:
    """BANTIN_SCAN_MINUTES and /reindex go through ReindexRunner: twice over a folder with an export."""
    src = tmp_path / "src"
    write_export(src / "export.jsonl", list(range(20)))
    settings = Settings(data_dir=tmp_path / "data", sources=(src,))
    audit = au.AuditLog(settings.state_path)
    runner = ReindexRunner(settings, audit, interval=0.01)
    for _ in range(2):
        run, started = runner.start(SCHEDULED, Silent())
        assert started and run.task is not None
        await run.task
        assert run.outcome is not None and run.outcome.result == au.OK
        assert run.outcome.to_json()["removed"] == 0
    audit.close()
    with ArticleStore(settings.store_path) as store:
        assert store.count() == 20


def test_bantin_start_twice_keeps_an_export(tmp_path: Path) -> None:
    """`make run` / `bantin start` ingests BANTIN_SOURCES with pruning on every start."""
    write_export(tmp_path / "src" / "export.jsonl", list(range(30)))
    env = {**os.environ, "BANTIN_DATA_DIR": str(tmp_path / "data"), "BANTIN_SOURCES": str(tmp_path / "src")}
    env.pop("BANTIN_TOKEN", None)
    for summary in ("thêm mới: 30", "không đổi: 30"):
        result = subprocess.run([sys.executable, "-m", "bantin.bot.cli", "start"], cwd=ROOT, env=env, input="",
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert summary in result.stderr and "đã xoá" not in result.stderr
    with ArticleStore(tmp_path / "data" / "articles.sqlite") as store:
        assert store.count() == 30
