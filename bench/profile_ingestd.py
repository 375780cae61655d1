"""Where ingestd's load time and memory go, statement by statement (a diagnostic, run by hand).

    python -m bench.profile_ingestd bench/out/events-5000000.csv [--memory-limit 1GB]

Wraps the data plane's private ``_Load._sql`` (the one door its SQL goes through) to time each
statement and read the process's peak RSS after it; ingestd itself is not changed. Private API:
if the wrapper stops matching, fix it here, never in ingestd.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.approaches import ingestd_load
from bench.child import vm_hwm_kib
from bench.dataset import FORMATS, Format
from bench.job import Job
from ingestd.dataplane import pipeline

_timings: list[tuple[float, int, str]] = []


def _timed_sql(original: Any) -> Any:
    def wrapper(self: Any, sql: str, params: list[Any] | None = None) -> Any:
        started = time.perf_counter()
        result = original(self, sql, params)
        _timings.append((time.perf_counter() - started, vm_hwm_kib(), sql))
        return result

    return wrapper


def _shorten(sql: str, width: int = 110) -> str:
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
    args = parser.parse_args()
    pipeline._Load._sql = _timed_sql(pipeline._Load._sql)  # type: ignore[method-assign]
    work = Path(tempfile.mkdtemp(prefix="ingestd-profile-", dir=args.source.parent))
    try:
        job = Job(_format_of(args.source), args.source, work / "p.duckdb", work, args.memory_limit)
        started = time.perf_counter()
        outcome = ingestd_load.load(job)
        total = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.source.name}: {total:.1f} s, peak RSS {vm_hwm_kib() / 1024:,.0f} MiB, {outcome}")
    print(f"{'seconds':>8} {'share':>6} {'peak MiB':>9}  statement")
    for seconds, hwm, sql in _timings:
        if seconds >= 0.05:
            share = seconds / total
            print(f"{seconds:8.2f} {share:6.1%} {hwm / 1024:9,.0f}  {_shorten(sql)}")
    rest = total - sum(s for s, _, _ in _timings)
    print(f"{rest:8.2f} {rest / total:6.1%} {'':9}  (outside SQL: setup, Python, close)")


if __name__ == "__main__":
    main()
