"""Where ingestd's load time and memory go, statement by statement (a diagnostic, run by hand).

    python -m bench.profile_ingestd bench/out/events-5000000.csv [--memory-limit 1GB]

Wraps the data plane's private ``_Load._sql`` (the one door its staging SQL goes through) and
the DuckDB destination's ``_DuckDBLoad._sql`` (its commit) to time each statement; ingestd
itself is not changed. Private API: if the wrappers stop matching, fix them here, never in
ingestd.

While a statement runs, a thread samples the process's resident set (VmRSS) and, through a
cursor of its own, what DuckDB's buffer manager accounts for (``duckdb_memory()``, by tag), every
``--sample`` seconds. Per statement it prints the highest of each: RSS well above DuckDB's
accounted memory is memory outside its buffer manager (the interpreter, Arrow, allocator
caches, operator state DuckDB does not count), which its ``memory_limit`` does not bound.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from bench.approaches import ingestd_load
from bench.child import vm_hwm_kib
from bench.dataset import FORMATS, Format
from bench.job import Job
from ingestd.dataplane import pipeline
from ingestd.dataplane.destinations.duckdb import destination

MiB = 1 << 20


@dataclass
class _Statement:
    sql: str
    seconds: float = 0.0
    rss_peak: int = 0
    """Highest VmRSS sampled while it ran (bytes)."""
    duckdb_peak: int = 0
    """Highest total of duckdb_memory() sampled while it ran (bytes)."""
    tags: dict[str, int] = field(default_factory=dict)
    """That sample's tags over 1 MiB."""


_statements: list[_Statement] = []
_running: list[_Statement] = []


def _vm_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _timed_sql(original: Any) -> Any:
    def wrapper(self: Any, sql: str, params: list[Any] | None = None) -> Any:
        statement = _Statement(sql)
        _running.append(statement)
        started = time.perf_counter()
        try:
            return original(self, sql, params)
        finally:
            statement.seconds = time.perf_counter() - started
            _running.remove(statement)
            _statements.append(statement)

    return wrapper


def _sample(con: duckdb.DuckDBPyConnection, every: float, stop: threading.Event) -> None:
    cur = con.cursor()
    try:
        while not stop.wait(every):
            if not _running:
                continue
            tags = {
                str(tag): int(used)
                for tag, used, _ in cur.execute("SELECT * FROM duckdb_memory()").fetchall()
            }
            rss = _vm_rss()
            for statement in list(_running):
                statement.rss_peak = max(statement.rss_peak, rss)
                total = sum(tags.values())
                if total > statement.duckdb_peak:
                    statement.duckdb_peak = total
                    statement.tags = {t: n for t, n in tags.items() if n > MiB}
    finally:
        cur.close()


def _shorten(sql: str, width: int = 80) -> str:
    text = re.sub(r"\s+", " ", sql).strip()
    return text if len(text) <= width else text[: width - 3] + "..."


def _format_of(path: Path) -> Format:
    for fmt in sorted(FORMATS, key=len, reverse=True):
        if path.name.endswith("." + fmt):
            return fmt
    raise SystemExit(f"{path.name}: not one of {', '.join(FORMATS)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument("--sample", type=float, default=0.1, help="seconds between samples")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a DuckDB setting applied after the destination's own (to try one out)",
    )
    parser.add_argument(
        "--hash-slice-rows", type=int, help="pipeline.HASH_SLICE_ROWS for this run (to try)"
    )
    args = parser.parse_args()
    if args.hash_slice_rows:
        pipeline.HASH_SLICE_ROWS = args.hash_slice_rows
    pipeline._Load._sql = _timed_sql(pipeline._Load._sql)  # type: ignore[method-assign]
    destination._DuckDBLoad._sql = _timed_sql(destination._DuckDBLoad._sql)  # type: ignore[method-assign]
    stop = threading.Event()
    opened = destination.DuckDBDestination.__init__

    def start_sampler(self: Any, *a: Any, **k: Any) -> None:
        opened(self, *a, **k)
        for setting in args.set:
            name, value = setting.split("=", 1)
            self._con.execute(f"SET {name} = '{value}'")
        threading.Thread(target=_sample, args=(self._con, args.sample, stop), daemon=True).start()

    destination.DuckDBDestination.__init__ = start_sampler  # type: ignore[method-assign]
    work = Path(tempfile.mkdtemp(prefix="ingestd-profile-", dir=args.source.parent))
    try:
        job = Job(_format_of(args.source), args.source, work / "p.duckdb", work, args.memory_limit)
        started = time.perf_counter()
        outcome = ingestd_load.load(job)
        total = time.perf_counter() - started
    finally:
        stop.set()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.source.name}: {total:.1f} s, peak RSS {vm_hwm_kib() / 1024:,.0f} MiB, {outcome}")
    print(f"{'seconds':>8} {'share':>6} {'RSS MiB':>8} {'duckdb':>7}  statement [duckdb tags, MiB]")
    for s in _statements:
        if s.seconds >= 0.05:
            tags = ", ".join(f"{t} {n / MiB:,.0f}" for t, n in sorted(s.tags.items()))
            print(
                f"{s.seconds:8.2f} {s.seconds / total:6.1%} {s.rss_peak / MiB:8,.0f} "
                f"{s.duckdb_peak / MiB:7,.0f}  {_shorten(s.sql)} [{tags}]"
            )
    rest = total - sum(s.seconds for s in _statements)
    print(f"{rest:8.2f} {rest / total:6.1%} {'':8} {'':7}  (outside SQL: setup, Python, close)")


if __name__ == "__main__":
    main()
