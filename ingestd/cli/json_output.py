"""``--json``: the machine-readable form of every list and show command.

Field names are stable (snake_case, documented in the README's "Command line"); times are
ISO 8601 in UTC; counts are integers. Built from the same control views the tables show, and
like them never holding a secret: connection secrets appear only as ``has_secrets``, keys
only by prefix.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import date, datetime

from ingestd.cli.views import QuarantineShown, RunRow, RunShown, UnitShown
from ingestd.control.access import KeyInfo
from ingestd.control.catalog import ConnectionView, SourceView
from ingestd.control.file_access import ProjectRoots
from ingestd.control.run_views import HistoryEntry
from ingestd.dataplane.contract import Counts
from ingestd.domain.previews import SourcePreview, json_value
from ingestd.domain.tables import TableSpec

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


def emit(document: JsonValue) -> None:
    """Print one JSON document on stdout (plain print: rich would wrap and colour it)."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def when(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def counts(c: Counts) -> dict[str, JsonValue]:
    return {
        "read": c.read,
        "inserted": c.inserted,
        "updated": c.updated,
        "rejected": c.rejected,
        "errors": c.errors,
    }


def _history(entries: Sequence[HistoryEntry]) -> list[JsonValue]:
    return [
        {"at": when(e.at), "state": e.state, "unit_id": e.unit_id, "message": e.message}
        for e in entries
    ]


def unit(u: UnitShown, *, detail: bool) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {
        "id": u.id,
        "source": u.source_name,
        "blob_url": u.blob_url,  # stored with its SAS or signature redacted
        "day": when(u.day),
        "table": u.table,
        "state": u.state.value,
        "attempt": u.attempt,
        "max_attempts": u.max_attempts,
        "error": None
        if u.error_code is None
        else {
            "code": u.error_code,
            "class": None if u.failure_status is None else u.failure_status.value,
            "message": u.error_message,
        },
        "counts": counts(u.counts),
        "created_at": when(u.created_at),
        "started_at": when(u.started_at),
        "ended_at": when(u.ended_at),
    }
    if detail:
        out["files"] = [
            {"name": f.name, "counts": counts(f.counts), "skipped": f.skipped} for f in u.files
        ]
        out["history"] = _history(u.history)
    return out


def _run_fields(r: RunShown | RunRow) -> dict[str, JsonValue]:
    return {
        "id": r.id,
        "trigger": r.trigger,
        "kind": r.kind,
        "state": r.state.value,
        "days": list[JsonValue](r.days),
        "sources": list[JsonValue](r.sources),
        "cancel_requested": r.cancel_requested,
        "counts": counts(r.counts),
        "created_at": when(r.created_at),
        "updated_at": when(r.updated_at),
        "ended_at": when(r.ended_at),
    }


def run(r: RunShown) -> dict[str, JsonValue]:
    """A run as ``runs show`` prints it: with its units, their files and the history."""
    out = _run_fields(r)
    out["units"] = [unit(u, detail=True) for u in r.units]
    out["history"] = _history(r.history)
    return out


def run_row(r: RunRow) -> dict[str, JsonValue]:
    """A run as ``runs list`` prints it: ``units`` is how many it has."""
    out = _run_fields(r)
    out["units"] = r.unit_count
    return out


def runs_page(items: Sequence[RunRow], total: int) -> dict[str, JsonValue]:
    return {"runs": [run_row(r) for r in items], "total": total}


def key(k: KeyInfo) -> dict[str, JsonValue]:
    return {
        "prefix": k.prefix,
        "project": k.project,
        "kind": k.kind.value,
        "created_at": when(k.created_at),
        "last_used_at": when(k.last_used_at),
        "revoked_at": when(k.revoked_at),
    }


def connection(c: ConnectionView) -> dict[str, JsonValue]:
    config: JsonValue = json.loads(json.dumps(c.config))
    return {"name": c.name, "kind": c.kind, "config": config, "has_secrets": c.has_secrets}


def table(t: TableSpec) -> dict[str, JsonValue]:
    return {
        "name": t.qualified_name,
        "columns": [
            {"name": c.name, "type": c.type.value, "required": not c.nullable} for c in t.columns
        ],
        "primary_key": list[JsonValue](t.primary_key),
    }


def source(s: SourceView) -> dict[str, JsonValue]:
    return {
        "name": s.name,
        "table": s.table,
        "connection": s.connection,
        "dataset": s.dataset,
        "path": s.path_template,
        "query": s.query,
        "format": s.read_options.format.value if s.read_options.format else None,
        "mode": s.load_mode.value,
        "on_error": s.error_policy.on_error.value,
        "schedule_hour_pst": s.schedule_hour_pst,
        "api_triggered": s.api_triggered,
        "enabled": s.enabled,
    }


def quarantined(row: QuarantineShown) -> dict[str, JsonValue]:
    return {
        "id": row.id,
        "table": row.table,
        "run_id": row.run_id,
        "unit_id": row.unit_id,
        "file": row.file,
        "line": row.line,
        "record": row.record,
        "column": row.column,
        "code": row.code,
        "message": row.message,
        "raw": row.raw,
        "quarantined_at": when(row.quarantined_at),
    }


def project_roots(r: ProjectRoots) -> dict[str, JsonValue]:
    return {
        "project": r.project,
        "files": str(r.own),
        "granted": [str(p) for p in r.granted],
        "all_projects": [str(p) for p in r.everyone],
    }


def preview(p: SourcePreview) -> dict[str, JsonValue]:
    return {
        "source": p.source,
        "day": p.day.isoformat(),
        "table": p.table,
        "columns": [{"name": c.name, "type": c.type} for c in p.columns],
        "rows": [[json_value(v) for v in row] for row in p.rows],
        "errors": [
            {
                "file": e.file,
                "line": e.line,
                "record": e.record,
                "column": e.column,
                "field": e.field,
                "code": e.code,
                "message": e.message,
                "raw": e.raw,
            }
            for e in p.errors
        ],
        "files": list(p.files),
        "rows_read": p.rows_read,
        "truncated": p.truncated,
    }
