"""Ingest: files, folders and JSON Lines into the store; bad input reported, never fatal."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bantin.articles.ingest import ingest
from bantin.articles.store import ArticleStore
from tests.conftest import SAMPLES

GOOD = "Tiêu đề bài {n}\n08/09/2019 - Lượt xem: {n}\nĐoạn sapo số {n}.\n\nĐoạn thân bài {n}.\n\nĐ.T\n"


def write_pages(folder: Path, count: int, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(start, start + count):
        path = folder / f"{n:06d}.txt"
        path.write_text(GOOD.format(n=n), encoding="utf-8")
        paths.append(path)
    return paths


def test_folder_then_rerun_is_unchanged_then_edit_updates(store: ArticleStore, tmp_path: Path) -> None:
    pages = write_pages(tmp_path / "src" / "sub", 5)
    first = ingest(store, [tmp_path / "src"])
    assert (first.added, first.updated, first.unchanged, first.failed) == (5, 0, 0, [])
    again = ingest(store, [tmp_path / "src"])
    assert (again.added, again.unchanged) == (0, 5)
    pages[0].write_text(GOOD.format(n=0).replace("sapo", "mở đầu"), encoding="utf-8")
    edited = ingest(store, [tmp_path / "src"])
    assert (edited.updated, edited.unchanged) == (1, 4)


def test_bad_files_are_named_with_reasons_and_good_ones_stored(store: ArticleStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_pages(src, 3)
    (src / "empty.txt").write_bytes(b"")
    (src / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (src / "latin1.txt").write_bytes("Tiêu đề\n\nNội dung".encode("cp1258", "replace") + b"\xff\xfe\xfa")
    (src / "only-error.txt").write_text("The operation has timed out\n", encoding="utf-8")
    (src / "only-chrome.txt").write_text("Tin liên quan\n\nLÊN ĐẦU TRANG\n", encoding="utf-8")
    (src / "no-title.txt").write_text("08/09/2019 - Lượt xem: 1\n\nĐoạn.\n", encoding="utf-8")
    (src / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    with open(src / "huge.txt", "wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    report = ingest(store, [src, tmp_path / "missing"])
    reasons = {Path(where).name: reason for where, reason in report.failed}
    assert report.added == 3 and store.count() == 3
    assert set(reasons) == {"empty.txt", "binary.txt", "latin1.txt", "only-error.txt", "only-chrome.txt",
                            "no-title.txt", "huge.txt", "missing"}
    assert "quá lớn" in reasons["huge.txt"] and "rỗng" in reasons["empty.txt"]
    assert report.skipped == 1 and not report.ok
    assert {Path(s).name for s, _, _ in store.failures()} >= {"empty.txt", "huge.txt"}


def test_jsonl_and_gzip_exports(store: ArticleStore, tmp_path: Path) -> None:
    records = [
        {"id": "1", "title": "Hội nghị  Tỉnh ủy", "sapo": "Sapo một.", "body": "Thân bài.",
         "url": "https://baosonnguyen.vn/1", "published": "2023-05-04", "author": "Minh Châu"},
        {"id": 2, "title": "Bài hai", "summary": "Tóm tắt.", "body": ""},
        {"id": "3", "title": "", "body": "không có tiêu đề"},
        "not an object",
    ]
    lines = [json.dumps(r, ensure_ascii=False) for r in records] + ["{broken json", ""]
    (tmp_path / "a.jsonl").write_text("\n".join(lines), encoding="utf-8")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "g1", "title": "Nén", "sapo": "S", "body": "B"}, ensure_ascii=False))
    report = ingest(store, [tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"])
    assert report.added == 3 and len(report.failed) == 3
    one = store.get("1")
    assert one is not None and one.title == "Hội nghị Tỉnh ủy" and one.paragraphs == ("Sapo một.", "Thân bài.")
    assert one.url == "https://baosonnguyen.vn/1" and one.author == "Minh Châu" and one.published is not None
    assert store.get("2") is not None and store.get("g1") is not None
    assert any(":5" in where and "JSON" in reason for where, reason in report.failed)


def test_prune_removes_pages_deleted_from_a_folder_but_keeps_failed_ones(
    store: ArticleStore, tmp_path: Path
) -> None:
    pages = write_pages(tmp_path / "src", 4)
    ingest(store, [tmp_path / "src"], prune=True)
    pages[0].unlink()
    pages[1].write_bytes(b"")  # now broken: its last good version must survive
    report = ingest(store, [tmp_path / "src"], prune=True)
    assert report.removed == 1 and store.count() == 3 and len(report.failed) == 1


def test_duplicate_ids_in_one_batch_do_not_crash(store: ArticleStore, tmp_path: Path) -> None:
    line = json.dumps({"id": "x", "title": "T", "sapo": "S", "body": "B"})
    (tmp_path / "d.jsonl").write_text(line + "\n" + line + "\n", encoding="utf-8")
    report = ingest(store, [tmp_path / "d.jsonl"])
    assert report.added == 1 and report.unchanged == 1


def test_progress_is_reported(store: ArticleStore, tmp_path: Path) -> None:
    write_pages(tmp_path / "src", 7)
    seen: list[tuple[int, int]] = []
    ingest(store, [tmp_path / "src"], progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (7, 7) and all(total == 7 for _, total in seen)


def test_many_files_in_one_folder(store: ArticleStore, tmp_path: Path) -> None:
    write_pages(tmp_path / "many", 3000)
    report = ingest(store, [tmp_path / "many"])
    assert report.added == 3000 and store.count() == 3000


def test_bundled_samples_all_ingest(store: ArticleStore) -> None:
    report = ingest(store, [SAMPLES])
    assert report.failed == [] and report.added >= 20


def test_killed_ingest_leaves_a_consistent_store(tmp_path: Path) -> None:
    write_pages(tmp_path / "src", 20000)
    data = tmp_path / "data"
    env = {**os.environ, "BANTIN_DATA_DIR": str(data)}
    proc = subprocess.Popen([sys.executable, "-m", "bantin.bot.cli", "ingest", str(tmp_path / "src")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = data / "articles.sqlite"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(db) as con:
                    if con.execute("SELECT count(*) FROM articles").fetchone()[0] > 0:
                        break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        assert 0 < stored <= 20000
        assert stored % 500 == 0 or stored == 20000  # whole batches only
    with ArticleStore(db) as store:
        report = ingest(store, [tmp_path / "src"])
        assert report.added == 20000 - stored and report.unchanged == stored and store.count() == 20000


@pytest.mark.corpus
def test_shared_corpus_ingests_with_a_summary(tmp_path: Path, corpus_path: Path) -> None:
    env = {**os.environ, "BANTIN_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run([sys.executable, "-m", "bantin.bot.cli", "ingest", str(corpus_path), "--json", "--no-index"],
                         env=env,
                         capture_output=True, text=True, timeout=300)
    summary = json.loads(out.stdout)
    assert summary["added"] + len(summary["failed"]) == 35440
    assert len(summary["failed"]) <= 5 and out.returncode == (1 if summary["failed"] else 0)


def test_saved_web_pages_in_a_source_folder(store: ArticleStore, tmp_path: Path) -> None:
    """`.html`/`.htm` files are read as web pages (trafilatura), beside the raw text pages; a
    broken one is a failure with its reason, and a deleted one is pruned like any page."""
    import shutil

    from tests.conftest import FIXTURES

    src = tmp_path / "src"
    write_pages(src, 2)
    web = src / "web"
    web.mkdir()
    shutil.copy(FIXTURES / "web" / "03_ubnd_huyen_og.html", web / "krong-sa.html")
    shutil.copy(FIXTURES / "web" / "06_kon_brai_undeclared_cp1258.html", web / "kon-brai.HTM")
    (web / "menu.html").write_text("<html><body><nav>Trang chủ</nav></body></html>", encoding="utf-8")
    report = ingest(store, [src])
    assert (report.added, report.skipped) == (4, 0)
    assert [Path(where).name for where, _ in report.failed] == ["menu.html"]
    titles = {a.title: a for a in store.iter_articles()}
    krong_sa = titles["Krông Sa: Đưa nước sạch về các buôn đồng bào"]
    assert krong_sa.url == "https://krongsa.sonnguyen.gov.vn/tin-tuc/krong-sa-dua-nuoc-sach-ve-cac-buon-dong-bao-15873"
    assert krong_sa.author == "Thanh Hương" and krong_sa.source == str((web / "krong-sa.html").resolve())
    assert "Kon Brai giảm nghèo bền vững nhờ cây cà phê xen canh" in titles
    (web / "kon-brai.HTM").unlink()
    assert ingest(store, [src], prune=True).removed == 1
