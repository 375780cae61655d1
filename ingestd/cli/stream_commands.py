"""`ingestd streams`: streams that receive records over POST /stream/v0/data/{stream-id}."""

from __future__ import annotations

import typer
from rich.table import Table

from ingestd.cli import json_output
from ingestd.cli.catalog_commands import parse_json
from ingestd.cli.context import ProjectOption, console, state, wants_json
from ingestd.domain.mapping import mapping_from_kusto
from ingestd.domain.sources import ErrorPolicy, LoadMode, OnError

app = typer.Typer(help="Streams of JSON records, loaded in batches.", no_args_is_help=True)


@app.command("create")
def create_stream(
    ctx: typer.Context,
    stream: str = typer.Argument(..., help="Stream id (the {stream-id} of the URL)."),
    table: str = typer.Option(..., "--table", help="namespace.name of the target table."),
    mapping: str | None = typer.Option(
        None,
        "--mapping",
        help='JSON mapping list (or @file): [{"Column": "a", "Properties": {"Path": "$.a"}}]. '
        "Default: each column from the record's field of the same name.",
    ),
    mode: LoadMode = typer.Option(
        LoadMode.APPEND, "--mode", help="append, or upsert on the table's primary key."
    ),
    on_error: OnError = typer.Option(OnError.CONTINUE, "--on-error"),
    project: str = ProjectOption,
) -> None:
    """Create a stream: records posted to it load into the table."""
    services = state(ctx).services()
    project_id = services.access.ensure_project(project)
    parsed = parse_json(mapping, "--mapping")
    source = services.streams.create_stream(
        project_id,
        stream,
        table,
        mapping=mapping_from_kusto("json", parsed) if parsed is not None else None,
        load_mode=mode,
        error_policy=ErrorPolicy(on_error),
    )
    console.print(f"Created stream {source.name} -> {source.table} (feed df-{source.id}).")


@app.command("list")
def list_streams(ctx: typer.Context, project: str = ProjectOption) -> None:
    """Streams of a project: the table each loads, how, and its records not yet loaded."""
    services = state(ctx).services()
    project_id = services.access.project_id(project)
    streams = services.streams.list_streams(project_id)
    if wants_json(ctx):
        json_output.emit(
            [
                {
                    "stream": s.source.name,
                    "feed_id": f"df-{s.source.id}",
                    "table": s.source.table,
                    "mode": s.source.load_mode.value,
                    "on_error": s.source.error_policy.on_error.value,
                    "pending": s.pending,
                }
                for s in streams
            ]
        )
        return
    table = Table(title=f"Streams of {project}")
    for column in ("stream", "feed", "table", "mode", "pending records"):
        table.add_column(column, overflow="fold")
    for s in streams:
        table.add_row(
            s.source.name,
            f"df-{s.source.id}",
            s.source.table,
            s.source.load_mode.value,
            str(s.pending),
        )
    console.print(table)


@app.command("flush")
def flush(
    ctx: typer.Context,
    stream: str | None = typer.Argument(
        None, help="One stream of --project (default: every stream of every project)."
    ),
    project: str = ProjectOption,
) -> None:
    """Write pending records to batch files and enqueue their loads now, whatever the flush
    policy; a running `ingestd serve` loads them."""
    services = state(ctx).services()
    if stream is None:
        run_ids = services.streams.flush_due(everything=True)
    else:
        project_id = services.access.project_id(project)
        run_ids = [run.id for run in services.streams.flush(project_id, stream)]
    for run_id in run_ids:
        console.print(f"Run {run_id} enqueued.")
    console.print(f"{len(run_ids)} batch(es) enqueued.")
