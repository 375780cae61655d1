"""One measured load in its own process, so its peak memory is its own.

    python -m bench.child APPROACH --format F --source FILE --db DB --work DIR --result JSON

The parent times the whole process and reads its peak RSS from wait4(); the child adds the time
of the load call alone and its own VmHWM, and what it loaded. Stdlib only at import time: the dlt
children run in bench/.venv-dlt, which has no ingestd.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from bench.dataset import FORMATS
from bench.job import Job, Outcome

LOADERS: dict[str, tuple[str, str]] = {
    "ingestd": ("bench.approaches.ingestd_load", "load"),
    "duckdb": ("bench.approaches.duckdb_native", "load"),
    "dlt-arrow": ("bench.approaches.dlt_load", "load_arrow"),
    "dlt-dicts": ("bench.approaches.dlt_load", "load_dicts"),
    "dlt-dicts-parquet": ("bench.approaches.dlt_load", "load_dicts_parquet"),
}


def _loader(approach: str) -> Callable[[Job], Outcome]:
    module, name = LOADERS[approach]
    loader: Callable[[Job], Outcome] = getattr(importlib.import_module(module), name)
    return loader


def vm_hwm_kib() -> int:
    """Peak resident set of this process so far (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("approach", choices=sorted(LOADERS))
    parser.add_argument("--format", choices=FORMATS, required=True)
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument("--limit-rows", type=int)
    args = parser.parse_args()
    job = Job(args.format, args.source, args.db, args.work, args.memory_limit, args.limit_rows)
    loader = _loader(args.approach)  # imports outside the timed call, inside the process time
    started = time.perf_counter()
    outcome = loader(job)
    seconds = time.perf_counter() - started
    report = {"load_seconds": seconds, "vm_hwm_kib": vm_hwm_kib(), **asdict(outcome)}
    args.result.write_text(json.dumps(report))


if __name__ == "__main__":
    main()
