"""Rich rendering of runs, units and counts (the only place that formats for the terminal)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.table import Table

from ingestd.cli.views import RunRow, RunShown


def when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def add_id_column(table: Table, name: str) -> None:
    """Ids are what a user copies into the next command: never cut or wrapped, whatever the
    terminal's width (rich shrinks the other columns, folding their text, to make room)."""
    table.add_column(name, no_wrap=True, min_width=36)


def runs_table(runs: Sequence[RunRow]) -> Table:
    table = Table(title="Runs (newest first)")
    add_id_column(table, "run")
    for column in (
        "trigger",
        "state",
        "days",
        "sources",
        "units",
        "read",
        "inserted",
        "updated",
        "rejected",
        "errors",
        "created",
    ):
        table.add_column(
            column,
            justify="right"
            if column in {"units", "read", "inserted", "updated", "rejected", "errors"}
            else "left",
            overflow="fold",
        )
    for run in runs:
        c = run.counts
        days = (
            run.days[0]
            if len(run.days) == 1
            else f"{run.days[0]}..{run.days[-1]}"
            if run.days
            else ""
        )
        table.add_row(
            run.id,
            run.trigger,
            run.state.value,
            days,
            ", ".join(run.sources),
            str(run.unit_count),
            str(c.read),
            str(c.inserted),
            str(c.updated),
            str(c.rejected),
            str(c.errors),
            when(run.created_at),
        )
    return table


def units_table(run: RunShown) -> Table:
    table = Table(title=f"Run {run.id}: {run.state.value} ({run.trigger})")
    for column in (
        "source/blob",
        "day",
        "state",
        "attempt",
        "read",
        "inserted",
        "updated",
        "rejected",
        "errors",
        "error",
    ):
        table.add_column(column, overflow="fold")
    for unit in run.units:
        c = unit.counts
        error = (
            f"{unit.error_code} ({unit.failure_status}): {unit.error_message}"
            if unit.error_code
            else ""
        )
        table.add_row(
            unit.source_name or unit.blob_url or "",
            str(unit.day or ""),
            unit.state.value,
            f"{unit.attempt}/{unit.max_attempts}",
            str(c.read),
            str(c.inserted),
            str(c.updated),
            str(c.rejected),
            str(c.errors),
            error,
        )
    return table


def history_table(run: RunShown) -> Table:
    names = {u.id: f"{u.source_name or u.blob_url} {u.day or ''}".strip() for u in run.units}
    events = [(e.at, "run", e.state, e.message or "") for e in run.history]
    for unit in run.units:
        events += [(e.at, names[unit.id], e.state, e.message or "") for e in unit.history]
    table = Table(title="History")
    for column in ("at", "what", "state", "message"):
        table.add_column(column)
    for at, what, state, message in sorted(events, key=lambda e: e[0]):
        table.add_row(when(at), what, state, message)
    return table


def files_lines(run: RunShown) -> list[str]:
    """One line per file of each unit, with its counts."""
    lines = []
    for unit in run.units:
        for f in unit.files:
            c = f.counts
            lines.append(
                f"  {unit.source_name or unit.blob_url} {unit.day or ''} {f.name}: read {c.read}, "
                f"inserted {c.inserted}, updated {c.updated}, rejected {c.rejected}, "
                f"errors {c.errors}{' (skipped)' if f.skipped else ''}"
            )
    return lines
