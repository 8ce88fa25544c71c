"""The systemd units in deploy/: valid for systemd (where `systemd-analyze` exists) and sandboxed."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
UNITS = ["bantin.service", "bantin-backup.service", "bantin-backup.timer"]


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8"))
    return parser


def test_the_service_runs_as_its_own_sandboxed_user() -> None:
    service = unit("bantin.service")["Service"]
    assert service["User"] == "bantin" and service["StateDirectory"] == "bantin"
    assert "\nEnvironment=BANTIN_DATA_DIR=/var/lib/bantin\n" in (DEPLOY / "bantin.service").read_text(encoding="utf-8")
    assert service["EnvironmentFile"] == "/etc/bantin/env" and service["Restart"] == "on-failure"
    for option in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert service[option] == "yes", option
    assert service["ProtectSystem"] == "strict" and "/var/lib/bantin" in service["ReadWritePaths"]
    assert service["ExecStart"].endswith("bantin run")


def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed here (apt-get install systemd)")
    # The units name the production install's bantin; verify checks that ExecStart exists.
    bantin = Path(sys.executable).parent / "bantin"
    for name in UNITS:
        text = (DEPLOY / name).read_text(encoding="utf-8").replace("/opt/bantin/venv/bin/bantin", str(bantin))
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = subprocess.run([tool, "verify", *UNITS], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    # verify only warns (exit 0) about unknown keys or bad values: any output is a finding.
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), result.stderr
