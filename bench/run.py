"""Benchmark ingestd against DuckDB-native SQL and dlt on the generated events file.

    python -m bench.run --rows 5000000 --formats csv,csv.gz,ndjson,parquet --repeat 2 --scale-check

Each (format, approach, repetition) is one child process on a fresh database file; repetitions
interleave the approaches (A B A B) so drift hits both sides of a ratio. Missing input files
are generated first. Results go to the console and to bench/out/results-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console

from bench.dataset import (
    DEFAULT_OUT,
    FORMATS,
    REPO_ROOT,
    Format,
    Manifest,
    data_file,
    manifest_file,
)
from bench.generate import generate, parse_formats
from bench.measure import APPROACHES, DLT_PYTHON, RunResult, Settings, dlt_available, run
from bench.report import check_counts, print_report, summarise, targets

SCALE_FACTOR = 4


def _approaches(text: str) -> list[str]:
    chosen = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in chosen if a not in APPROACHES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown approach(es) {unknown}; use {', '.join(APPROACHES)}"
        )
    return chosen


def _source(out: Path, rows: int, fmt: Format) -> Path:
    path = data_file(out, rows, fmt)
    if not path.exists() or not manifest_file(out, rows).exists():
        generate(rows, (fmt,), out)
    return path


def _run_logged(console: Console, *args: Any) -> RunResult:
    result = run(*args)
    status = "ok" if result.ok else f"FAILED, see {result.log}"
    est = f" (slice of {result.rows_read:,} rows)" if result.extrapolated else ""
    console.print(
        f"  {result.fmt:8} {result.approach:18} rep {result.rep}: {result.process_seconds:7.1f} s"
        f" ({result.cpu_process_seconds:.1f} s CPU){est}, "
        f"peak RSS {result.peak_rss_kib / 1024:,.0f} MiB, {status}"
    )
    return result


def _scale_check(
    console: Console, runs: list[RunResult], rows: int, out: Path, settings: Settings
) -> tuple[dict[str, Any], list[RunResult]]:
    ingestd = APPROACHES["ingestd"]
    small = [r for r in runs if r.ok and r.approach == "ingestd" and r.fmt == "csv"]
    extra = []
    if not small:
        extra.append(
            _run_logged(console, ingestd, "csv", _source(out, rows, "csv"), rows, 0, settings)
        )
        small = extra
    large_rows = rows * SCALE_FACTOR
    large = _run_logged(
        console, ingestd, "csv", _source(out, large_rows, "csv"), large_rows, 0, settings
    )
    extra.append(large)
    scale = {
        "small_rows": rows,
        "small_peak_rss_kib": max(r.peak_rss_kib for r in small),
        "large_rows": large_rows,
        "large_peak_rss_kib": large.peak_rss_kib,
        "large_seconds": large.seconds,
        "large_rows_per_second": large.rows_per_second,
        "large_ok": large.ok,
        "large_counts": large.counts,
    }
    return scale, extra


def _environment() -> dict[str, Any]:
    def output(*command: str) -> str:
        try:
            return subprocess.run(
                command, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "dlt": output(str(DLT_PYTHON), "-c", "import dlt; print(dlt.__version__)")
        if dlt_available()
        else None,
        "commit": output("git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"),
        "dirty": bool(output("git", "-C", str(REPO_ROOT), "status", "--porcelain", "ingestd")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--formats", type=parse_formats, default=FORMATS)
    parser.add_argument("--approaches", type=_approaches, default=list(APPROACHES))
    parser.add_argument("--repeat", type=int, default=1, help="A B A B repetitions")
    parser.add_argument("--scale-check", action="store_true", help="also ingestd on 4x the CSV")
    parser.add_argument(
        "--memory-limit", default="1GB", help="DuckDB memory_limit (ingestd, native)"
    )
    parser.add_argument("--slice-factor", type=int, default=10, help="dict runs read rows/this")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    # Piped to a file, rich would wrap the tables at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=140)
    approaches = [APPROACHES[a] for a in args.approaches]
    if not dlt_available() and any(a.venv == "dlt" for a in approaches):
        console.print(f"[yellow]{DLT_PYTHON} is missing: skipping dlt (see bench/README.md)")
        approaches = [a for a in approaches if a.venv != "dlt"]
    started = datetime.datetime.now(datetime.UTC)
    environment = _environment()  # before the runs: the commit measured, not a later one
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    settings = Settings(
        args.out / "work", args.out / "logs" / stamp, args.memory_limit, args.slice_factor
    )
    settings.logs.mkdir(parents=True, exist_ok=True)

    runs: list[RunResult] = []
    for fmt in args.formats:
        source = _source(args.out, args.rows, fmt)
        for rep in range(args.repeat):
            for approach in approaches:
                if approach.sliced and rep > 0:
                    continue  # an estimate anyway; one slice run is enough
                runs.append(_run_logged(console, approach, fmt, source, args.rows, rep, settings))

    scale = None
    if args.scale_check:
        scale, extra = _scale_check(console, runs, args.rows, args.out, settings)
        runs.extend(extra)

    main_runs = [r for r in runs if r.rows == args.rows]
    lines = summarise(main_runs, args.formats, [a.name for a in approaches])
    checks = check_counts(main_runs, Manifest.read(manifest_file(args.out, args.rows)))
    goals = targets(lines, scale)
    print_report(console, lines, checks, scale, goals)

    results = args.out / f"results-{stamp}.json"
    results.write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "argv": sys.argv,
                "environment": environment,
                "settings": {k: str(v) for k, v in vars(args).items()},
                "summary": [line.__dict__ for line in lines],
                "checks": checks,
                "scale": scale,
                "targets": goals,
                "runs": [r.as_json() for r in runs],
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    console.print(f"results: {results}")


if __name__ == "__main__":
    main()
