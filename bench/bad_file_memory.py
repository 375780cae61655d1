"""Peak memory of the bad-file corpus at a memory budget (a measurement, run by hand).

    python -m bench.bad_file_memory [--memory-limit 1GiB]

Loads each hostile input of tests/integration/test_bad_file_memory.py (the decompression bombs
and the others: nested zip, 10,000 columns, a 1 GB line, deep JSON) with the real data plane in
a child process, exactly as that test does, and prints its outcome and peak RSS (VmHWM) against
the budget. The test checks 512 MiB within the budget plus ``memory.RESERVE_BYTES``; this reports
the figures, by default at INGESTD_MEMORY_LIMIT's default.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench.dataset import DEFAULT_OUT
from ingestd.dataplane.memory import budget_bytes
from ingestd.settings import Settings
from tests.integration.test_bad_file_memory import BOMBS, OTHERS, load_in_child

MiB = 1 << 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-limit", default=Settings.model_fields["memory_limit"].default)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    limit = budget_bytes(args.memory_limit)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"memory limit {args.memory_limit} ({limit / MiB:,.0f} MiB)")
    print(f"{'input':20} {'outcome':22} {'peak MiB':>8} {'of limit':>8}")
    for case, (name, make) in {**BOMBS, **OTHERS}.items():
        work = Path(tempfile.mkdtemp(prefix="ingestd-bad-file-", dir=args.out))
        try:
            make(work / name)
            outcome, peak = load_in_child(work / name, work / "plane", args.memory_limit)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"{case:20} {outcome:22} {peak / MiB:8,.0f} {peak / limit:8.0%}", flush=True)


if __name__ == "__main__":
    main()
