"""`ingestd quarantine`: inspect rows that were not loaded, and replay them after a fix."""

from __future__ import annotations

from collections.abc import Sequence

import typer
from rich.table import Table

from ingestd.cli import json_output
from ingestd.cli.context import ProjectOption, console, state, wants_json
from ingestd.cli.views import QuarantineShown

app = typer.Typer(help="Quarantined rows.", no_args_is_help=True)


@app.command("list")
def list_rows(
    ctx: typer.Context,
    table: str | None = typer.Option(None, "--table", help="namespace.name (default: all)."),
    code: str | None = typer.Option(None, "--code", help="Only rows with this error code."),
    limit: int = typer.Option(50, "--limit", min=1, max=10000),
    project: str = ProjectOption,
) -> None:
    """Rows that were not loaded: where they were, which column, why, and the raw record."""
    remote = state(ctx).remote(project)
    rows: Sequence[QuarantineShown]
    if remote is not None:
        rows, total = remote.quarantine(table, code, limit)
    else:
        services = state(ctx).services()
        project_id = services.access.project_id(project)
        names = (
            [table]
            if table
            else [t.qualified_name for t in services.catalog.list_tables(project_id)]
        )
        rows, total = services.quarantine.list(project_id, names, code=code, limit=limit)
    if wants_json(ctx):
        json_output.emit({"rows": [json_output.quarantined(r) for r in rows], "total": total})
        return
    view = Table(title=f"Quarantine of {project}: {total} row(s)")
    for column in ("id", "table", "file", "line/record", "column", "code", "message", "raw"):
        view.add_column(column, overflow="fold")
    for row in rows:
        where = f"line {row.line}" if row.line is not None else f"record {row.record}"
        raw = (row.raw or "")[:120]
        view.add_row(
            str(row.id),
            row.table,
            row.file or "",
            where,
            row.column or "",
            row.code,
            row.message or "",
            raw,
        )
    console.print(view)


@app.command("replay")
def replay(
    ctx: typer.Context,
    table: str = typer.Option(..., "--table", help="namespace.name whose rows to replay."),
    unit: str | None = typer.Option(None, "--unit", help="Only the rows of this unit."),
    project: str = ProjectOption,
) -> None:
    """Load quarantined rows again after fixing the mapping or the table."""
    remote = state(ctx).remote(project)
    if remote is not None:
        result = remote.replay(table, unit)
    else:
        services = state(ctx).services()
        result = services.replay.replay(services.access.project_id(project), table, unit_id=unit)
    console.print(
        f"Replayed {result.replayed} row(s): {result.loaded} loaded, "
        f"{result.still_failing} still failing (kept in quarantine)."
    )
    if result.not_replayable:
        console.print(
            f"{result.not_replayable} row(s) could not be parsed at all: "
            "they need a corrected file."
        )
    if result.still_failing or result.not_replayable:
        raise typer.Exit(1)  # not everything asked for was loaded
