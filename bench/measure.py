"""Run one approach on one file in a child process and measure it from the outside.

Wall time covers the whole process (interpreter start, imports, load, close), as a user running
the tool would see it. Peak RSS comes from wait4() on that very child, so it is per process and
includes everything the child allocated (DuckDB's buffers and Arrow's too).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench.dataset import BENCH_DIR, REPO_ROOT, Format

DLT_PYTHON = BENCH_DIR / ".venv-dlt" / "bin" / "python"


@dataclass(frozen=True)
class Approach:
    name: str
    venv: Literal["main", "dlt"]
    sliced: bool
    """Too slow for the whole file: runs once, on a slice, and its time is extrapolated."""
    summary: str


APPROACHES: dict[str, Approach] = {
    a.name: a
    for a in (
        Approach("ingestd", "main", False, "ingestd DataPlane.load: map, validate, dedupe, count"),
        Approach(
            "duckdb", "main", False, "DuckDB INSERT ... SELECT DISTINCT <mapping> FROM read_*"
        ),
        Approach("dlt-arrow", "dlt", False, "dlt resource yielding pyarrow tables"),
        Approach("dlt-dicts", "dlt", True, "dlt resource yielding dicts (default insert_values)"),
        Approach("dlt-dicts-parquet", "dlt", True, "dlt resource yielding dicts, parquet files"),
    )
}


@dataclass(frozen=True)
class Settings:
    work: Path
    """Scratch root: each run gets a fresh folder and database file, removed afterwards."""
    logs: Path
    memory_limit: str
    slice_factor: int


@dataclass
class RunResult:
    approach: str
    fmt: Format
    rows: int
    """Rows in the source file."""
    rep: int
    ok: bool
    process_seconds: float
    cpu_process_seconds: float
    """User + system CPU of the child: less sensitive than wall time to other load."""
    peak_rss_kib: int
    log: str
    load_seconds: float = 0.0
    vm_hwm_kib: int = 0
    rows_read: int = 0
    """Rows the child consumed: ``rows``, or the slice of a sliced approach."""
    inserted: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    db_bytes: int = 0

    @property
    def extrapolated(self) -> bool:
        return self.rows_read < self.rows

    @property
    def seconds(self) -> float:
        """Whole-process seconds for the full file; a slice's load time is scaled up, its fixed
        start-up cost is not."""
        if not self.extrapolated or self.rows_read == 0:
            return self.process_seconds
        overhead = self.process_seconds - self.load_seconds
        return overhead + self.load_seconds * self.rows / self.rows_read

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds for the full file (a slice's scaled like its wall time)."""
        if self.process_seconds <= 0:
            return self.cpu_process_seconds
        return self.cpu_process_seconds * self.seconds / self.process_seconds

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data.update(
            extrapolated=self.extrapolated,
            seconds=self.seconds,
            cpu_seconds=self.cpu_seconds,
            rows_per_second=self.rows_per_second,
        )
        return data


def _python(approach: Approach) -> Path:
    return Path(sys.executable) if approach.venv == "main" else DLT_PYTHON


def dlt_available() -> bool:
    return DLT_PYTHON.exists()


def run(
    approach: Approach, fmt: Format, source: Path, rows: int, rep: int, settings: Settings
) -> RunResult:
    """Load ``source`` into a fresh database with ``approach`` in its own process."""
    label = f"{fmt}-{approach.name}-{rows}-{rep}"
    work = settings.work / label
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db, result_file = work / "bench.duckdb", work / "result.json"
    log = settings.logs / f"{label}.log"
    command = [
        str(_python(approach)),
        "-m",
        "bench.child",
        approach.name,
        f"--format={fmt}",
        f"--source={source}",
        f"--db={db}",
        f"--work={work}",
        f"--result={result_file}",
        f"--memory-limit={settings.memory_limit}",
    ]
    if approach.sliced:
        command.append(f"--limit-rows={rows // settings.slice_factor}")
    # dlt phones home by default; this machine has no network, so that would only add waits.
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    started = time.perf_counter()
    with log.open("wb") as out:
        child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=out)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait
    cpu = usage.ru_utime + usage.ru_stime
    ok = child.returncode == 0
    result = RunResult(approach.name, fmt, rows, rep, ok, seconds, cpu, usage.ru_maxrss, str(log))
    if result.ok and result_file.exists():
        report = json.loads(result_file.read_text())
        result.load_seconds = report["load_seconds"]
        result.vm_hwm_kib = report["vm_hwm_kib"]
        result.rows_read = report["rows_read"] if report["rows_read"] is not None else rows
        result.inserted = report["inserted"]
        result.counts = report["counts"]
        result.db_bytes = db.stat().st_size if db.exists() else 0
    else:
        result.ok = False
    shutil.rmtree(work, ignore_errors=True)
    return result
