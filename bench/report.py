"""Summarise the runs: per format and approach, the paired ratios, the checks and the targets.

Ratios are throughput ratios, ``their_seconds / ingestd_seconds`` (above 1: ingestd is faster),
taken per repetition (A B A B pairs) and then the median, because seconds drift on a shared
machine while the ratio of neighbouring runs holds better.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.dataset import Format, Manifest
from bench.measure import RunResult

GIB_KIB = 1 << 20
NATIVE_TARGET = 0.7
RSS_GROWTH_TOLERANCE = 1.10
"""At 4x the input, ingestd's peak RSS may be at most this much higher (noise, not growth)."""


@dataclass(frozen=True)
class Line:
    fmt: Format
    approach: str
    runs: int
    seconds: float
    cpu_seconds: float
    rows_per_second: float
    peak_rss_kib: int
    extrapolated: bool
    ratio: float | None
    """ingestd's throughput relative to this approach (None for ingestd itself)."""
    cpu_ratio: float | None
    """The same on CPU seconds: a cross-check when other processes share the machine."""


def _median_ratio(
    ingestd: list[RunResult], other: list[RunResult], *, cpu: bool = False
) -> float | None:
    by_rep = {r.rep: r for r in ingestd}

    def cost(r: RunResult) -> float:
        return r.cpu_seconds if cpu else r.seconds

    pairs = [cost(o) / cost(by_rep[o.rep]) for o in other if o.rep in by_rep]
    return statistics.median(pairs) if pairs else None


def summarise(
    runs: list[RunResult], formats: tuple[Format, ...], approaches: list[str]
) -> list[Line]:
    lines = []
    for fmt in formats:
        ingestd = [r for r in runs if r.fmt == fmt and r.approach == "ingestd" and r.ok]
        for name in approaches:
            mine = [r for r in runs if r.fmt == fmt and r.approach == name and r.ok]
            if not mine:
                continue
            seconds = statistics.median(r.seconds for r in mine)
            lines.append(
                Line(
                    fmt,
                    name,
                    len(mine),
                    seconds,
                    statistics.median(r.cpu_seconds for r in mine),
                    mine[0].rows / seconds,
                    max(r.peak_rss_kib for r in mine),
                    any(r.extrapolated for r in mine),
                    None if name == "ingestd" else _median_ratio(ingestd, mine),
                    None if name == "ingestd" else _median_ratio(ingestd, mine, cpu=True),
                )
            )
    return lines


def check_counts(runs: list[RunResult], manifest: Manifest) -> list[dict[str, Any]]:
    """ingestd's accounting against what the generator wrote, and DuckDB's row count against
    ingestd's: the two must load the same table."""
    checks = []
    for run in runs:
        if not run.ok or run.approach != "ingestd" or run.rows != manifest.rows:
            continue
        native = [
            r.inserted
            for r in runs
            if r.ok and r.approach == "duckdb" and r.fmt == run.fmt and r.rows == run.rows
        ]
        c = run.counts
        expected = {
            "read": manifest.rows,
            "inserted": manifest.expected_inserted,
            "rejected": manifest.duplicates,
            "errors": manifest.bad_ts,
        }
        accounting_ok = all(c.get(k) == v for k, v in expected.items())
        checks.append(
            {
                "format": run.fmt,
                "rep": run.rep,
                "counts": c,
                "expected": expected,
                "accounting_ok": accounting_ok,
                "duckdb_inserted": native,
                "agrees_with_duckdb": bool(native) and all(n == run.inserted for n in native),
            }
        )
    return checks


def targets(lines: list[Line], scale: dict[str, Any] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in lines:
        if line.approach == "ingestd":
            out.append(
                {
                    "target": f"{line.fmt}: ingestd peak RSS <= 1 GiB",
                    "value": f"{line.peak_rss_kib / 1024:,.0f} MiB",
                    "met": line.peak_rss_kib <= GIB_KIB,
                }
            )
        elif line.ratio is not None:
            need = NATIVE_TARGET if line.approach == "duckdb" else 1.0
            relation = ">=" if line.approach == "duckdb" else ">"
            met = line.ratio >= need if line.approach == "duckdb" else line.ratio > need
            out.append(
                {
                    "target": f"{line.fmt}: ingestd vs {line.approach} {relation} {need:g}x",
                    "value": f"{line.ratio:.2f}x",
                    "met": met,
                }
            )
    if scale is not None:
        small, large = scale["small_peak_rss_kib"], scale["large_peak_rss_kib"]
        out.append(
            {
                "target": "csv: ingestd peak RSS at 4x input <= 1 GiB and within "
                f"{RSS_GROWTH_TOLERANCE:.2f}x of 1x",
                "value": f"{small / 1024:,.0f} -> {large / 1024:,.0f} MiB ({large / small:.2f}x)",
                "met": large <= GIB_KIB and large <= small * RSS_GROWTH_TOLERANCE,
            }
        )
    return out


def print_report(
    console: Console,
    lines: list[Line],
    checks: list[dict[str, Any]],
    scale: dict[str, Any] | None,
    goals: list[dict[str, Any]],
) -> None:
    table = Table(title="Loading the events file (seconds: whole process, median of runs)")
    columns = ("format", "approach", "runs", "seconds", "CPU s", "rows/s", "peak RSS MiB")
    for name in (*columns, "ingestd x", "ingestd x CPU"):
        table.add_column(name, justify="left" if name in ("format", "approach") else "right")
    for line in lines:
        mark = " (est.)" if line.extrapolated else ""
        table.add_row(
            line.fmt,
            line.approach + mark,
            str(line.runs),
            f"{line.seconds:,.1f}",
            f"{line.cpu_seconds:,.1f}",
            f"{line.rows_per_second:,.0f}",
            f"{line.peak_rss_kib / 1024:,.0f}" + ("*" if line.extrapolated else ""),
            "" if line.ratio is None else f"{line.ratio:.2f}",
            "" if line.cpu_ratio is None else f"{line.cpu_ratio:.2f}",
        )
    console.print(table)
    if any(line.extrapolated for line in lines):
        console.print(
            "(est.) ran on a slice of the file; seconds and rows/s are extrapolated to the whole "
            "file, * peak RSS is the slice's."
        )
    console.print(
        "ingestd x = their seconds / ingestd's seconds, paired per repetition (above 1: ingestd "
        "is faster); ingestd x CPU = the same on user + system CPU seconds."
    )

    counts = Table(title="ingestd's accounting, and agreement with DuckDB native")
    for name in (
        "format",
        "rep",
        "read",
        "inserted",
        "rejected",
        "errors",
        "as generated",
        "duckdb rows",
        "same rows",
    ):
        counts.add_column(name, justify="left" if name == "format" else "right")
    for check in checks:
        c = check["counts"]
        counts.add_row(
            check["format"],
            str(check["rep"]),
            *(f"{c.get(k, 0):,}" for k in ("read", "inserted", "rejected", "errors")),
            "yes" if check["accounting_ok"] else "NO",
            ", ".join(f"{n:,}" for n in check["duckdb_inserted"]) or "-",
            "yes" if check["agrees_with_duckdb"] else "NO",
        )
    console.print(counts)

    if scale is not None:
        console.print(
            f"Scale check (ingestd, csv): {scale['small_rows']:,} rows -> "
            f"{scale['small_peak_rss_kib'] / 1024:,.0f} MiB peak RSS, "
            f"{scale['large_rows']:,} rows -> {scale['large_peak_rss_kib'] / 1024:,.0f} MiB peak "
            f"RSS in {scale['large_seconds']:,.1f} s ({scale['large_rows_per_second']:,.0f} rows/s)"
        )

    goal_table = Table(title="Targets")
    for name in ("target", "value", "met"):
        goal_table.add_column(name)
    for goal in goals:
        goal_table.add_row(goal["target"], goal["value"], "yes" if goal["met"] else "NO")
    console.print(goal_table)
