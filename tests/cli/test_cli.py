"""The `ingestd` command as a user runs it: a real process, real files, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DAY = "2024-03-01"


def ingestd(
    data_dir: Path, *args: str, ok: bool = True, log_format: str = "text"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "COLUMNS": "200",
        "INGESTD_DATA_DIR": str(data_dir),
        "INGESTD_LOG_FORMAT": log_format,
    }
    result = subprocess.run(
        [sys.executable, "-c", "from ingestd.cli.main import run; run()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_keys_create_prints_the_key_alone_on_the_last_line(tmp_path: Path) -> None:
    out = ingestd(tmp_path, "keys", "create", "--project", "acme", "--kind", "ingest").stdout
    last = out.rstrip("\n").splitlines()[-1]
    assert last.startswith("ingest-") and " " not in last and len(last) > 30


def test_a_source_runs_for_a_day_with_counts_and_quarantine(tmp_path: Path) -> None:
    files = tmp_path / "files" / "default" / "in"  # the default project's own files
    files.mkdir(parents=True)
    (files / f"orders_{DAY}.csv").write_text("id,amount\n1,10.5\n2,x\n3,7\n")
    ingestd(
        tmp_path,
        "tables",
        "create",
        "shop.orders",
        "-c",
        "id:int64:required",
        "-c",
        "amount:float64",
        "--primary-key",
        "id",
    )
    ingestd(
        tmp_path,
        "connections",
        "create",
        "in",
        "--kind",
        "file",
        "--config",
        f'{{"root": "{files}"}}',
    )
    ingestd(
        tmp_path,
        "sources",
        "create",
        "orders",
        "--table",
        "shop.orders",
        "--connection",
        "in",
        "--path",
        "orders_{ds}.csv",
        "--mode",
        "upsert",
    )
    out = ingestd(tmp_path, "run", "orders", "--day", DAY).stdout
    assert "succeeded" in out and "3/1" not in out
    assert "│ 3    │ 2        │ 0       │ 0        │ 1" in out or " 3 " in out
    runs = ingestd(tmp_path, "runs", "list").stdout
    assert "manual" in runs and "succeeded" in runs
    quarantine = ingestd(tmp_path, "quarantine", "list").stdout
    assert "TYPE_MISMATCH" in quarantine and "amount" in quarantine


def test_errors_name_the_cause_and_a_hint_and_exit_non_zero(tmp_path: Path) -> None:
    result = ingestd(tmp_path, "run", "nope", "--day", "2024-13-01", ok=False)
    assert result.returncode == 2
    assert "not a date" in result.stderr and "YYYY-MM-DD" in result.stderr
    assert "Traceback" not in result.stderr
    result = ingestd(tmp_path, "tables", "create", "bad name", "-c", "a:int64", ok=False)
    assert result.returncode == 2 and "namespace" in result.stderr


def test_bad_settings_are_refused_with_the_variable_named(tmp_path: Path) -> None:
    env = {**os.environ, "INGESTD_DATA_DIR": str(tmp_path), "INGESTD_WORKERS": "0"}
    result = subprocess.run(
        [sys.executable, "-c", "from ingestd.cli.main import run; run()", "runs", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2 and "INGESTD_WORKERS" in result.stderr


@pytest.mark.slow
def test_demo_loads_three_days(tmp_path: Path) -> None:
    out = ingestd(tmp_path, "demo").stdout
    assert "succeeded" in out
    runs = ingestd(tmp_path, "runs", "list", "--project", "demo").stdout
    assert "backfill" in runs
