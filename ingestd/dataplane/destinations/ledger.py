"""The ledger entry of a load, built the same way for every destination.

One row per project and load key in ``_ingestd.ledger``: what was loaded (table, unit, run,
mode, day), a content fingerprint, the per-file counts as JSON, the totals and the tags. A
quarantine replay adds to the entry of the load it repairs instead of replacing it.
"""

from __future__ import annotations

import json
from typing import Any

from ingestd.dataplane.contract import Counts, FileResult
from ingestd.dataplane.destinations.interface import StagedLoad, table_project

LEDGER_COLUMNS = (
    "project",
    "load_key",
    "table_name",
    "unit_id",
    "run_id",
    "mode",
    "day",
    "fingerprint",
    "files",
    "read",
    "inserted",
    "updated",
    "rejected",
    "errors",
    "tags",
)
"""Columns a load writes, in order; the destination adds ``loaded_at``."""


def fingerprint_sql(columns: list[str]) -> str:
    """DuckDB: the two aggregates ``fingerprint`` reads (row count, sum of row hashes)."""
    return f"count(*), CAST(coalesce(sum(hash({', '.join(columns)})), 0) AS VARCHAR)"


def fingerprint(row: tuple[Any, ...] | None) -> str:
    """Format the result of ``fingerprint_sql``: the same rows in any order give the same text."""
    rows, total = row if row is not None else (0, 0)
    return f"rows={rows};sum64={int(total) % (1 << 64):016x}"


def file_json(result: FileResult) -> dict[str, Any]:
    c = result.counts
    return {
        "name": result.name,
        "read": c.read,
        "inserted": c.inserted,
        "updated": c.updated,
        "rejected": c.rejected,
        "errors": c.errors,
        "skipped": result.skipped,
    }


def entry_values(load: StagedLoad, files: list[FileResult], total: Counts) -> list[Any]:
    """The ledger row of a (non-replay) load, in ``LEDGER_COLUMNS`` order."""
    request = load.request
    return [
        table_project(request.table),
        request.load_key,
        request.table.qualified_name,
        request.unit_id,
        request.run_id,
        request.mode.value,
        request.day,
        load.fingerprint,
        json.dumps([file_json(f) for f in files]),
        total.read,
        total.inserted,
        total.updated,
        total.rejected,
        total.errors,
        json.dumps(list(request.tags)),
    ]


def replayed_files(files_json: str | None, files: list[FileResult]) -> str:
    """The entry's per-file counts after a replay: a replay's rows were read (and counted as
    errors) by the original load, so they move from errors to what they became."""
    by_name = {f.name: f.counts for f in files}
    entries = json.loads(files_json) if files_json else []
    for entry in entries:
        counts = by_name.get(entry["name"])
        if counts is not None:
            entry["inserted"] += counts.inserted
            entry["updated"] += counts.updated
            entry["rejected"] += counts.rejected
            entry["errors"] += counts.errors - counts.read
    return json.dumps(entries)


def replay_deltas(total: Counts) -> list[int]:
    """Amounts to add to the entry's inserted, updated, rejected and errors after a replay."""
    return [total.inserted, total.updated, total.rejected, total.errors - total.read]
