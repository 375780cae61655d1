"""bench.scaling, tiny: every configuration loads exactly what the files hold, less quarantine.

Timing decides nothing here (CONVENTIONS.md): the figures only have to be there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.conftest import POSTGRES_ADMIN_URL, require_service

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
ROWS, FILES = 2_000, 2
CONFIG_FIELDS = {
    "runs",
    "wall_seconds",
    "rows_per_second",
    "x_one_worker",
    "ingestd_cpu_seconds",
    "destination_cpu_seconds",
    "metadata_cpu_seconds",
    "total_cpu_seconds",
    "cpu_us_per_row",
    "peak_rss_mib_per_worker",
    "claim_wait_seconds",
    "download_seconds_median",
    "load_seconds_median",
    "busy",
    "lock_wait_seconds",
    "loaded_ok",
}


def test_every_configuration_loads_the_files_less_quarantine(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        require_service("Redis", "redis-server is not installed")
    admin = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        require_service("PostgreSQL", str(exc).splitlines()[0])

    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench.scaling", f"--rows={ROWS}", f"--files={FILES}"),
            *("--workers=1,2", "--repeat=1", f"--out={tmp_path}", f"--admin-url={admin}"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    (results,) = tmp_path.glob("scaling-*.json")
    report = json.loads(results.read_text())

    assert report["configs"] == ["workers-1", "workers-2", "local"]
    quarantined = report["summary"]["expected_quarantined"]
    assert quarantined == 4  # ids 999, 1999, 2999 and 3999 of 0..3999: amount "n/a"
    runs = {run["config"]: run for run in report["runs"]}
    assert set(runs) == {"workers-1", "workers-2", "local"}
    for config, run in runs.items():
        assert run["ok"], (config, run["error"])
        assert run["read"] == ROWS * FILES, config
        assert run["quarantined"] == quarantined, config
        assert run["rows_loaded"] == ROWS * FILES - quarantined, config
        assert len(run["units"]) == FILES, config
        assert run["wall_seconds"] > 0, config
        summary = report["summary"][config]
        assert set(summary) >= CONFIG_FIELDS, config
        assert summary["loaded_ok"], config
        assert summary["peak_rss_mib_per_worker"] > 0, config
        assert summary["ingestd_cpu_seconds"] > 0, config
    assert set(runs["workers-2"]["peak_rss_kib"]) == {"serve", "worker-1", "worker-2"}
    assert set(runs["local"]["peak_rss_kib"]) == {"serve"}
    assert report["summary"]["workers-1"]["x_one_worker"]["per_rep"] == [1.0]
