"""The command line: contracts, error messages, and documentation of every command and setting."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bantin.bot.cli import build_parser, main
from bantin.bot.settings import ENV, Settings, SettingsError, load_settings
from tests.conftest import REAL_SAMPLE, ROOT, SAMPLES, need_shared

README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return list(sub.choices)  # type: ignore[union-attr]


def test_every_command_is_in_help_and_readme(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    for name in commands():
        assert name in help_text
        assert f"`bantin {name}" in README, f"bantin {name} is not documented in README"


def test_every_setting_is_in_readme() -> None:
    for var in [*ENV.values(), "BANTIN_CONFIG"]:
        assert f"`{var}`" in README, var


def test_readme_starts_with_the_two_setup_commands() -> None:
    block = re.search(r"```sh\n(.*?)```", README, re.DOTALL)
    assert block is not None
    lines = [line.split("#")[0].strip() for line in block.group(1).strip().splitlines()]
    assert lines == ["make run", "make test"]


def test_parse_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    need_shared(REAL_SAMPLE)
    assert main(["parse", str(REAL_SAMPLE), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["title"].startswith("An Khê: Quan tâm xây dựng")
    assert data["published"] == "2019-09-08" and data["views"] == 1870 and data["author"] == "Trường Xuân"
    assert isinstance(data["paragraphs"], list) and data["lead"] == data["paragraphs"][0]


def test_parse_human_and_failure(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["parse", str(SAMPLES / "06_mua-vang.txt")]) == 0
    assert "Tiêu đề:" in capsys.readouterr().out
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert main(["parse", str(empty), "--json"]) == 1
    assert "rỗng" in json.loads(capsys.readouterr().out)["error"]
    assert main(["parse", str(tmp_path / "missing.txt")]) == 1  # issue 13: exit 1, like any page that fails
    assert "không đọc được" in capsys.readouterr().err


def test_ingest_search_related_reindex(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert main(["search", "đảng"]) == 2
    assert "chưa có chỉ mục" in capsys.readouterr().err
    assert main(["ingest", "--json"]) == 0  # default sources: the bundled samples
    assert json.loads(capsys.readouterr().out)["added"] == 24
    assert main(["reindex", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
    assert main(["search", "hoa giai", "--json", "--limit", "3"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"query", "total", "page", "results", "suggestion"}
    assert result["total"] >= 1 and len(result["results"]) <= 3
    hit = result["results"][0]
    assert set(hit) >= {"id", "title", "published", "url", "snippet", "score"}
    assert main(["related", hit["id"], "--json"]) == 0
    related = json.loads(capsys.readouterr().out)
    assert hit["id"] not in [r["id"] for r in related["results"]]
    assert main(["reindex", "--full"]) == 0
    capsys.readouterr()
    assert main(["search", "hoà giải", "--page", "1"]) == 0
    assert "kết quả" in capsys.readouterr().out


def test_ingest_exit_code_1_on_failures(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "bad.txt").write_bytes(b"\x00\x01")
    assert main(["ingest", str(tmp_path / "bad.txt"), str(SAMPLES / "06_mua-vang.txt")]) == 1
    out = capsys.readouterr().out
    assert "thêm mới: 1" in out and "bad.txt" in out and "nhị phân" in out


def test_settings_precedence_and_errors(tmp_path: Path) -> None:
    config = tmp_path / "bantin.toml"
    config.write_text('data_dir = "/srv/bantin"\nper_page = 7\nsources = ["/a", "/b"]\n', encoding="utf-8")
    settings = load_settings({"BANTIN_PER_PAGE": "3"}, config=config)
    assert settings.data_dir == Path("/srv/bantin") and settings.per_page == 3
    assert settings.sources == (Path("/a"), Path("/b"))
    assert load_settings({"BANTIN_SOURCES": "/x:/y"}).sources == (Path("/x"), Path("/y"))
    assert load_settings({}).store_path == Settings().data_dir / "articles.sqlite"
    with pytest.raises(SettingsError, match="BANTIN_PER_PAGE"):
        load_settings({"BANTIN_PER_PAGE": "many"})
    with pytest.raises(SettingsError, match="BANTIN_API_URL"):
        load_settings({"BANTIN_API_URL": "ftp://x"})
    config.write_text("colour = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="colour"):
        load_settings({}, config=config)


def test_search_workers_setting(tmp_path: Path) -> None:
    from bantin.index.pool import default_workers

    assert load_settings({}).search_processes == default_workers() >= 1
    assert load_settings({"BANTIN_SEARCH_WORKERS": "auto"}).search_workers is None
    assert load_settings({"BANTIN_SEARCH_WORKERS": "0"}).search_processes == 0
    config = tmp_path / "bantin.toml"
    config.write_text("search_workers = 3\n", encoding="utf-8")
    assert load_settings({}, config=config).search_processes == 3
    for bad in ("17", "-1", "many"):
        with pytest.raises(SettingsError, match="BANTIN_SEARCH_WORKERS"):
            load_settings({"BANTIN_SEARCH_WORKERS": bad})


def test_button_rate_setting() -> None:
    assert load_settings({}).button_rate == 30
    assert load_settings({"BANTIN_BUTTON_RATE": "60"}).button_rate == 60
    for bad in ("0", "601", "nhanh"):
        with pytest.raises(SettingsError, match="BANTIN_BUTTON_RATE"):
            load_settings({"BANTIN_BUTTON_RATE": bad})


def test_bad_setting_is_a_message_not_a_traceback(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_SEARCH_TIMEOUT", "-1")
    assert main(["search", "x"]) == 2
    err = capsys.readouterr().err
    assert "BANTIN_SEARCH_TIMEOUT" in err and "Traceback" not in err


def test_run_without_token(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BANTIN_TOKEN", raising=False)
    assert main(["run"]) == 2
    assert "BANTIN_TOKEN" in capsys.readouterr().err
