"""The data plane's memory budget, split between DuckDB and the rest of the process.

``INGESTD_MEMORY_LIMIT`` bounds the whole process, as a user reads it in ``top``. DuckDB's own
``memory_limit`` covers only its buffer manager: the interpreter, the imported libraries, the
Arrow batches that readers hand over and DuckDB's own allocations outside its buffers come on
top (150-270 MiB, measured with the benchmark at 5M and 20M rows). So DuckDB gets the budget
less a fixed reserve, or half of a small budget.
"""

from __future__ import annotations

import re

import pyarrow as pa

RESERVE_BYTES = 256 * 1024 * 1024
"""What the process holds besides DuckDB's buffers: Python and its modules, Arrow batches."""

BATCH_POOL = pa.system_memory_pool()
"""Where a load's short-lived Arrow batches (``rows_ahead``, the row stream) are allocated:
malloc, which gives a batch's megabytes back to the system once it is freed. Arrow's default
pool (mimalloc) keeps them: 20M Events rows into PostgreSQL peaked at 980 MiB with it, over the
1GB budget, against 930 MiB with this pool (docs/performance.md)."""

_UNITS = {
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
}
_BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]I?B)\s*$", re.IGNORECASE)


def budget_bytes(budget: str) -> int:
    """``"1GB"`` -> 1_000_000_000 (units as DuckDB reads them: GB is 1000^3, GiB 1024^3)."""
    match = _BUDGET.match(budget)
    if match is None:
        raise ValueError(f"memory budget {budget!r} is not a size such as 1GB or 512MiB")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


STREAM_RESERVE_BYTES = 96 * 1024 * 1024
"""What a destination that writes while it stages (``rows_ahead``) holds on top: the staged
batches in flight (read, sent, queued, encoded), the seen-hash bitmap (16 MiB) and the threads'
allocator arenas (+94 MiB peak RSS at 5M Events rows into PostgreSQL without it)."""


def duckdb_memory_limit(budget: str, *, streams: bool = False) -> str:
    """DuckDB's ``memory_limit`` for a process budget, as a ``SET memory_limit`` value; less
    ``STREAM_RESERVE_BYTES`` where loads write while they stage."""
    total = budget_bytes(budget)
    reserve = RESERVE_BYTES + (STREAM_RESERVE_BYTES if streams else 0)
    share = total - reserve if total >= 2 * reserve else total // 2
    return f"{share // 1024}KiB"
