"""The operator's side: progress output, one language per command, `doctor`, `backup`, `--version`."""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from bantin.articles.ingest import ingest
from bantin.articles.model import Article
from bantin.articles.store import ArticleStore
from bantin.bot.cli import main
from bantin.bot.ops.backup import SameAsSource, backup, backup_store
from bantin.bot.ops.doctor import check_templates, diagnose
from bantin.bot.ops.messages import Messages
from bantin.bot.ops.progress import Reporter
from bantin.bot.render import TEMPLATES
from bantin.bot.settings import Settings, load_settings
from tests.conftest import SAMPLES
from tests.fake_botapi import FakeBotAPI

VI, EN = Messages("vi"), Messages("en")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- progress ----------------------------------------------------------------------------------


def test_plain_progress_prints_a_line_per_tenth_with_rate_and_eta() -> None:
    out, clock = io.StringIO(), Clock()
    with Reporter("chỉ mục", VI, unit="bài", out=out, tty=False, clock=clock) as bar:
        for done in range(0, 1001, 10):
            clock.now = done / 100  # 100 articles a second
            bar(done, 1000)
    lines = out.getvalue().splitlines()
    assert len(lines) == 9, lines  # 20 % … 100 % (the first 2 s are quiet), never one per call
    assert lines[0].startswith("chỉ mục: 200/1.000 bài (20%), 100 bài/s, còn khoảng 8 s")
    assert lines[-1].startswith("chỉ mục: 1.000/1.000 bài (100%)")


def test_plain_progress_also_prints_every_30_seconds_when_slow() -> None:
    out, clock = io.StringIO(), Clock()
    bar = Reporter("index", EN, unit="articles", out=out, tty=False, clock=clock)
    for done in range(0, 50):
        clock.now = done * 10.0  # 0.1 % every 10 s: no 10 % step for a long time
        bar(done, 100_000)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) >= 10 and all("articles" in line and "left" in line for line in lines[:-1]), lines
    assert lines[-1].startswith("index: done")


def test_quick_work_and_quiet_print_nothing() -> None:
    out, clock = io.StringIO(), Clock()
    with Reporter("x", VI, unit="bài", out=out, tty=False, clock=clock) as bar:
        bar(24, 24)  # over in no time: the summary says it all
    with Reporter("x", VI, unit="bài", out=out, tty=True, quiet=True, clock=clock) as bar:
        clock.now = 100
        bar(5, 10)
    assert out.getvalue() == ""


def test_terminal_progress_is_a_bar_with_counts_and_rate() -> None:
    out = io.StringIO()
    with Reporter("chỉ mục", VI, unit="bài", out=out, tty=True) as bar:
        for done in range(0, 101, 20):
            bar(done, 100)
    text = out.getvalue()
    assert "chỉ mục" in text and "100/100" in text and "bài/s" in text and "\r" in text


def test_ingest_reports_bytes_read_inside_one_big_export(tmp_path: Path) -> None:
    export = tmp_path / "big.jsonl"
    export.write_text("".join(json.dumps({"id": f"a{n}", "title": f"Tin số {n}", "body": "Nội dung. " * 20},
                                         ensure_ascii=False) + "\n" for n in range(2000)), encoding="utf-8")
    calls: list[tuple[int, int]] = []
    with ArticleStore(tmp_path / "articles.sqlite") as store:
        report = ingest(store, [export], read_progress=lambda done, total: calls.append((done, total)))
    assert report.added == 2000
    size = export.stat().st_size
    assert calls[-1] == (size, size)
    assert len({done for done, _ in calls}) > 3, "one file, yet the count moved while reading it"
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(calls))


# -- one language per command ------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "fresh"  # not `data`: that fixture's copy of the samples' store
    monkeypatch.setenv("BANTIN_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)
    for var in ("BANTIN_TOKEN", "BANTIN_LANG", "BANTIN_API_URL"):
        monkeypatch.delenv(var, raising=False)
    return data


def test_reindex_summary_is_a_sentence_in_the_chosen_language(env: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["ingest", "-q", str(SAMPLES)]) == 0
    assert "thêm mới: 24" in capsys.readouterr().out
    assert main(["reindex", "--full"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("đã dựng lại toàn bộ chỉ mục") and "24 bài" in out
    assert "True" not in out and "full:" not in out and "docs:" not in out  # no Python reprs
    assert main(["reindex", "--lang", "en"]) == 0
    assert capsys.readouterr().out.startswith("the index is current, nothing to update")
    monkeypatch.setenv("BANTIN_LANG", "en")
    assert main(["ingest", str(SAMPLES)]) == 0
    out = capsys.readouterr().out
    assert "unchanged: 24" in out and "index:" in out and "không" not in out
    assert main(["--lang", "vi", "reindex"]) == 0
    assert capsys.readouterr().out.startswith("chỉ mục đã mới")


def test_bad_bantin_lang_is_a_settings_error(env: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BANTIN_LANG", "fr")
    assert main(["reindex"]) == 2
    assert "BANTIN_LANG" in capsys.readouterr().err


def test_every_cli_message_exists_in_both_languages() -> None:
    vi = {n for n in dir(VI._module) if not n.startswith("_")}
    en = {n for n in dir(EN._module) if not n.startswith("_")}
    assert vi == en


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip().startswith("bantin 0.")


# -- doctor ------------------------------------------------------------------------------------


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["doctor", *args])
    return code, capsys.readouterr().out.splitlines()


def test_doctor_is_clean_on_a_good_data_dir(env: Path, data: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_DATA_DIR", str(data))
    code, lines = doctor(capsys)
    assert code == 0, lines
    assert all(line.startswith("✓") for line in lines[:-1]) and lines[-1] == "Mọi thứ ổn."
    assert any("24 bài" in line for line in lines)
    code, lines = doctor(capsys, "--lang", "en")
    assert code == 0 and lines[-1] == "All good."


def test_doctor_reports_each_broken_thing_with_its_fix(env: Path, data: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_DIGEST_SIZE", "99")
    code, lines = doctor(capsys)
    assert code == 1 and "BANTIN_DIGEST_SIZE" in lines[0] and "cách sửa:" in lines[0]
    monkeypatch.delenv("BANTIN_DIGEST_SIZE")

    code, lines = doctor(capsys)  # BANTIN_DATA_DIR points at a folder not made yet
    assert code == 1
    assert [line for line in lines if line.startswith("✗")] == [
        f"✗ thư mục dữ liệu {env} chưa có — cách sửa: chạy `bantin ingest` (nó tạo thư mục), "
        "hoặc đặt BANTIN_DATA_DIR đúng chỗ",
        "✗ chưa có kho bài viết — cách sửa: chạy `bantin ingest`",
    ]

    monkeypatch.setenv("BANTIN_DATA_DIR", str(data))
    shutil.rmtree(data / "index")
    code, lines = doctor(capsys, "--lang", "en")
    assert code == 1 and "✗ no search index yet — fix: run `bantin reindex`" in lines

    assert main(["reindex", "-q"]) == 0
    with ArticleStore(data / "articles.sqlite") as store:
        store.upsert_many([Article(id="new-1", title="Tin mới", paragraphs=("Một đoạn.",))])
    code, lines = doctor(capsys, "--lang", "en")
    assert code == 1
    assert "✗ the index holds 24 articles but the store has 25 — fix: run `bantin reindex`" in lines

    (data / "articles.sqlite").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    for extra in ("-wal", "-shm"):
        (data / f"articles.sqlite{extra}").unlink(missing_ok=True)
    code, lines = doctor(capsys)
    assert code == 1
    assert any(line.startswith("✗ articles.sqlite hỏng") and "khôi phục articles.sqlite từ bản sao lưu" in line
               for line in lines), lines
    capsys.readouterr()


def test_doctor_finds_a_broken_or_missing_template(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    shutil.copytree(TEMPLATES, root)
    assert check_templates(root, EN).ok
    (root / "en" / "help.html").write_text("{% if %}", encoding="utf-8")
    finding = check_templates(root, EN)
    assert not finding.ok and "en/help.html" in finding.text and finding.fix
    shutil.copytree(TEMPLATES, root, dirs_exist_ok=True)
    (root / "vi" / "help.html").unlink()
    finding = check_templates(root, EN)
    assert not finding.ok and "vi/help.html" in finding.text


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: no read-only folder to test with")
def test_doctor_reports_a_read_only_data_dir(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data.chmod(0o555)
    try:
        findings = diagnose(lambda: load_settings({"BANTIN_DATA_DIR": str(data)}), EN)
    finally:
        data.chmod(0o755)
    assert any("not writable" in f.text and "chown" in (f.fix or "") for f in findings)


def test_doctor_calls_getme_with_the_token(env: Path, data: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_DATA_DIR", str(data))
    with FakeBotAPI() as fake:
        monkeypatch.setenv("BANTIN_API_URL", fake.url)
        monkeypatch.setenv("BANTIN_TOKEN", fake.token)
        code, lines = doctor(capsys, "--lang", "en")
        assert code == 0, lines
        assert f"✓ the token works: bot @bantin_test_bot via {fake.url}" in lines
        assert fake.calls("getMe")

        monkeypatch.setenv("BANTIN_TOKEN", "999:WRONG")
        code, lines = doctor(capsys, "--lang", "en")
        assert code == 1
        bad = [line for line in lines if line.startswith("✗")]
        assert len(bad) == 1 and "refused the token" in bad[0] and "@BotFather" in bad[0]
        url = fake.url
    code, lines = doctor(capsys)  # the server is gone
    assert code == 1
    bad = [line for line in lines if line.startswith("✗")]
    assert len(bad) == 1 and f"không kết nối được Bot API ở {url}" in bad[0] and "999:WRONG" not in bad[0]


# -- backup ------------------------------------------------------------------------------------


def test_backup_while_a_writer_is_busy_is_consistent(tmp_path: Path) -> None:
    source = tmp_path / "data" / "articles.sqlite"
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        with ArticleStore(source) as store:
            n = 0
            while not stop.is_set():
                batch = [Article(id=f"w{n + i}", title=f"Tin {n + i}", paragraphs=("Đoạn. " * 50,))
                         for i in range(50)]
                store.upsert_many(batch)
                n += 50
                written[0] = n

    with ArticleStore(source) as store:
        store.upsert_many([Article(id=f"s{i}", title=f"Sẵn {i}", paragraphs=("Có sẵn.",)) for i in range(500)])
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 500:  # the writer is well under way
            pass
        before = written[0]
        copied = backup_store(source, tmp_path / "backup.sqlite")
    finally:
        stop.set()
        thread.join()
    db = sqlite3.connect(tmp_path / "backup.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    count = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert 500 + before <= count <= 500 + written[0]
    assert count % 50 == 0  # whole transactions only, never half a batch
    assert not (tmp_path / "backup.sqlite-wal").exists() and copied.rows >= count
    with ArticleStore(tmp_path / "backup.sqlite", readonly=True) as restored:
        assert restored.get("s0") is not None


def test_backup_command(env: Path, data: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_DATA_DIR", str(data))
    assert main(["backup", str(tmp_path / "bk"), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "copied articles.sqlite" in out and "no bot.sqlite yet" in out and "bantin reindex" in out
    with ArticleStore(tmp_path / "bk" / "articles.sqlite", readonly=True) as copy:
        assert copy.count() == 24
    monkeypatch.setenv("BANTIN_DATA_DIR", str(tmp_path / "nowhere"))
    assert main(["backup", str(tmp_path / "bk2")]) == 2
    assert "không có kho nào để sao lưu" in capsys.readouterr().err



def _fingerprint(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file of the data dir: inode, size and content (a replaced database has a new inode)."""
    return {p.name: (p.stat().st_ino, p.stat().st_size, p.read_bytes()) for p in folder.iterdir() if p.is_file()}


def test_backup_into_the_data_dir_is_refused(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """`bantin backup .` run from the data dir would rename the copies over the live databases
    (their -wal files belong to the old ones): the bot's later writes would be lost at restart."""
    with ArticleStore(data / "articles.sqlite") as store:  # open, as the running bot holds it
        before = _fingerprint(data)
        for folder in (data, data / "." / "", data / ".." / data.name):
            with pytest.raises(SameAsSource):
                backup(Settings(data_dir=data), folder)
        other = tmp_path / "elsewhere"
        other.mkdir()
        (other / "articles.sqlite").symlink_to(data / "articles.sqlite")  # the same file by another name
        with pytest.raises(SameAsSource):
            backup(Settings(data_dir=data), other)
        assert _fingerprint(data) == before and store.count() == 24
    before = _fingerprint(data)  # closed: its WAL checkpointed
    monkeypatch.setenv("BANTIN_DATA_DIR", str(data))
    monkeypatch.chdir(data)
    for lang, words in (("vi", "thư mục dữ liệu"), ("en", "the data folder")):
        assert main(["backup", ".", "--lang", lang]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, err
    assert _fingerprint(data) == before


# -- the command line's smaller faults ---------------------------------------------------------


def test_related_to_an_unknown_id_is_an_error(env: Path, data: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_DATA_DIR", str(data))
    assert main(["related", "nope"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "không có bài nào mang id nope" in captured.err
    assert main(["related", "nope", "--lang", "en", "--json"]) == 1
    assert "no article with id nope" in capsys.readouterr().err
    assert main(["search", "đảng", "--json"]) == 0
    known = json.loads(capsys.readouterr().out)["results"][0]["id"]
    assert main(["related", known]) == 0


def test_parse_a_missing_file_says_why_in_the_cli_language(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.txt"
    assert main(["parse", str(missing)]) == 1
    err = capsys.readouterr().err
    assert f"không đọc được {missing}: không có tệp này" in err and "No such file" not in err
    assert main(["parse", str(missing), "--lang", "en"]) == 1
    assert f"cannot read {missing}: no such file" in capsys.readouterr().err
    assert main(["parse", str(tmp_path), "--json"]) == 1
    assert "thư mục" in json.loads(capsys.readouterr().out)["error"]


def test_parse_rejects_a_readme_but_not_real_pages(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import REAL_SAMPLE, ROOT

    assert main(["parse", str(ROOT / "README.md")]) == 1
    assert "không phải trang bài viết" in capsys.readouterr().err
    assert main(["parse", str(ROOT / "README.md"), "--lang", "en"]) == 1
    assert "not an article page (looks like a Markdown document" in capsys.readouterr().err
    pages = sorted(SAMPLES.glob("*.txt")) + ([REAL_SAMPLE] if REAL_SAMPLE.exists() else [])
    for page in pages:
        assert main(["parse", str(page)]) == 0, page
    assert "Title:" in (main(["parse", str(pages[0]), "--lang", "en"]) or capsys.readouterr().out)


def test_every_bantin_variable_the_code_reads_is_documented() -> None:
    """Beyond settings.ENV (tests/test_cli.py): any BANTIN_* name the code mentions."""
    import re

    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = {name for folder in ("articles", "index", "bot") for path in (ROOT / folder).glob("*.py")
             for name in re.findall(r"\bBANTIN_[A-Z_]+\b", path.read_text(encoding="utf-8"))}
    assert "BANTIN_LANG" in names
    assert sorted(n for n in names if f"`{n}`" not in readme) == []
    for name in ("bantin.service", "bantin-backup.timer", "nginx-bantin.conf", "bantin.cron"):
        assert (ROOT / "deploy" / name).exists() and f"`{name}`" in readme, name
