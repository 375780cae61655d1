"""`ingestd connections|tables|sources`: manage what a project reads and where it goes."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from ingestd.cli import json_output
from ingestd.cli.context import ProjectOption, console, state, wants_json
from ingestd.control.catalog import split_table_name
from ingestd.domain.connections import BODIES, connection_body
from ingestd.domain.datasets import mapping_from_column_mapping
from ingestd.domain.mapping import Mapping, mapping_from_kusto
from ingestd.domain.names import quote
from ingestd.domain.physical_names import physical_schema
from ingestd.domain.previews import DEFAULT_PREVIEW_ROWS, MAX_PREVIEW_ROWS, SourcePreview
from ingestd.domain.sources import DataFormat, ErrorPolicy, LoadMode, OnError, ReadOptions
from ingestd.domain.tables import Column, TableSpec
from ingestd.errors import InvalidInput

connections = typer.Typer(help="Connections (typed; secrets never shown).", no_args_is_help=True)
tables = typer.Typer(help="Destination tables.", no_args_is_help=True)
sources = typer.Typer(help="Sources: what to load for each day, and where.", no_args_is_help=True)


def parse_json(text: str | None, what: str) -> Any:
    """JSON given inline or as @path."""
    if text is None:
        return None
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text()
        except OSError as exc:
            raise InvalidInput(f"{what}: cannot read {path}: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc


@connections.command("create")
def create_connection(
    ctx: typer.Context,
    name: str,
    kind: str = typer.Option(
        ..., "--kind", help=f"One of {', '.join(sorted(BODIES))} (docs/sql-sources.md)."
    ),
    config: str = typer.Option("{}", "--config", help="Settings as JSON (or @file)."),
    secret: list[str] = typer.Option(
        [], "--secret", help="KEY=VALUE, repeatable; stored encrypted, never shown."
    ),
    project: str = ProjectOption,
) -> None:
    """Create a connection: its body is checked against the kind's typed body (unknown or
    missing fields are refused by name); which fields are secret is the kind's to say."""
    secrets = {}
    for number, item in enumerate(secret, 1):
        key, sep, value = item.partition("=")
        if not sep or not key:
            # Not repeated: without '=' the whole item may be the secret itself.
            raise InvalidInput(
                f"--secret number {number} is not KEY=VALUE",
                hint="write --secret password=... (the value is stored encrypted)",
            )
        secrets[key] = value
    settings = parse_json(config, "--config")
    if not isinstance(settings, dict):
        raise InvalidInput("--config must be a JSON object of the connection's settings")
    body = connection_body(kind, settings, secrets)
    services = state(ctx).services()
    view = services.catalog.create_connection(services.access.ensure_project(project), name, body)
    console.print(f"Created {view.kind} connection {view.name}.")


@connections.command("list")
def list_connections(ctx: typer.Context, project: str = ProjectOption) -> None:
    """Connections with their settings; secrets only as "set"."""
    services = state(ctx).services()
    views = services.catalog.list_connections(services.access.project_id(project))
    if wants_json(ctx):
        json_output.emit([json_output.connection(v) for v in views])
        return
    table = Table(title=f"Connections of {project}")
    for column in ("name", "kind", "config", "secrets"):
        table.add_column(column)
    for view in views:
        table.add_row(
            view.name, view.kind, json.dumps(view.config), "set" if view.has_secrets else ""
        )
    console.print(table)


@connections.command("delete")
def delete_connection(ctx: typer.Context, name: str, project: str = ProjectOption) -> None:
    services = state(ctx).services()
    services.catalog.delete_connection(services.access.project_id(project), name)
    console.print(f"Deleted connection {name}.")


@tables.command("create")
def create_table(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="namespace.name"),
    column: list[str] = typer.Option(
        [],
        "--column",
        "-c",
        help="name:type[:required], repeatable (types: string, int64, "
        "float64, bool, date, timestamp, json, epoch_seconds).",
    ),
    primary_key: str | None = typer.Option(None, "--primary-key", help="Comma-separated columns."),
    merge: bool = typer.Option(False, "--merge", help="Add missing columns to an existing table."),
    project: str = ProjectOption,
) -> None:
    """Create a table (or, with --merge, add columns to one)."""
    namespace, table_name = split_table_name(name)
    columns = []
    for item in column:
        parts = item.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "required"):
            raise InvalidInput(f"--column {item!r} must be name:type or name:type:required")
        columns.append(
            Column.from_dict({"name": parts[0], "type": parts[1], "nullable": len(parts) == 2})
        )
    keys = tuple(k.strip() for k in primary_key.split(",")) if primary_key else ()
    spec = TableSpec(namespace, table_name, tuple(columns), keys)
    services = state(ctx).services()
    services.catalog.create_table(services.access.ensure_project(project), spec, merge=merge)
    console.print(f"Table {spec.qualified_name} is ready.")


@tables.command("list")
def list_tables(ctx: typer.Context, project: str = ProjectOption) -> None:
    """Tables with their columns and primary key."""
    services = state(ctx).services()
    specs = services.catalog.list_tables(services.access.project_id(project))
    if wants_json(ctx):
        json_output.emit([json_output.table(t) for t in specs])
        return
    table = Table(title=f"Tables of {project}")
    for column in ("table", "in the destination", "columns", "primary key"):
        table.add_column(column)
    for spec in specs:
        cols = ", ".join(
            f"{c.name} {c.type.value}{'' if c.nullable else ' required'}" for c in spec.columns
        )
        # The name to query it by: each project's tables live in its own schema.
        physical = f"{quote(physical_schema(project, spec.namespace))}.{quote(spec.name)}"
        table.add_row(spec.qualified_name, physical, cols, ", ".join(spec.primary_key))
    console.print(table)


@sources.command("create")
def create_source(
    ctx: typer.Context,
    name: str,
    table: str = typer.Option(..., "--table", help="namespace.name of the target table."),
    path: str = typer.Option(
        ...,
        "--path",
        help="Path or glob; {ds} is the day (YYYY-MM-DD). Relative to the "
        "connection's root when --connection is given.",
    ),
    connection: str | None = typer.Option(None, "--connection", help="A file connection."),
    data_format: DataFormat | None = typer.Option(None, "--format", help="Default: from the name."),
    no_header: bool = typer.Option(False, "--no-header", help="Delimited files have no header."),
    delimiter: str | None = typer.Option(None, "--delimiter"),
    mapping: str | None = typer.Option(
        None,
        "--mapping",
        help="Kusto-style mapping JSON list (or @file): "
        '[{"Column": "a", "Properties": {"Ordinal": 0}}] or {"Path": "$.a"}.',
    ),
    column_mapping: str | None = typer.Option(
        None, "--column-mapping", help="Statsig column_mapping JSON for a statsig.* dataset table."
    ),
    mode: LoadMode = typer.Option(LoadMode.APPEND, "--mode"),
    on_error: OnError = typer.Option(OnError.CONTINUE, "--on-error"),
    max_errors: int | None = typer.Option(None, "--max-errors"),
    max_error_percent: float | None = typer.Option(None, "--max-error-percent"),
    schedule_hour: int | None = typer.Option(
        None, "--schedule-hour-pst", help="Daily at 0-23 PST."
    ),
    project: str = ProjectOption,
) -> None:
    """Create a file source."""
    services = state(ctx).services()
    project_id = services.access.ensure_project(project)
    options = ReadOptions(format=data_format, header=not no_header, delimiter=delimiter)
    parsed_mapping: Mapping | None = None
    raw_column_mapping = parse_json(column_mapping, "--column-mapping")
    dataset = None
    if raw_column_mapping is not None:
        dataset = split_table_name(table)[1]
        parsed_mapping = mapping_from_column_mapping(dataset, raw_column_mapping)
    elif mapping is not None:
        kind = "json" if data_format in (DataFormat.JSON, DataFormat.MULTIJSON) else "csv"
        parsed_mapping = mapping_from_kusto(kind, parse_json(mapping, "--mapping"))
    view = services.catalog.create_source(
        project_id,
        name=name,
        table=table,
        connection=connection,
        dataset=dataset,
        path_template=path,
        read_options=options,
        mapping=parsed_mapping,
        column_mapping=raw_column_mapping,
        load_mode=mode,
        error_policy=ErrorPolicy(on_error, max_errors, max_error_percent),
        schedule_hour_pst=schedule_hour,
    )
    console.print(f"Created source {view.name} -> {view.table}.")


@sources.command("list")
def list_sources(ctx: typer.Context, project: str = ProjectOption) -> None:
    """Sources: what each loads, from where, into which table, how and when."""
    services = state(ctx).services()
    views = services.catalog.list_sources(services.access.project_id(project))
    if wants_json(ctx):
        json_output.emit([json_output.source(v) for v in views])
        return
    table = Table(title=f"Sources of {project}")
    for column in ("name", "table", "path", "format", "mode", "on error", "schedule", "enabled"):
        table.add_column(column)
    for view in views:
        fmt = view.read_options.format.value if view.read_options.format else "auto"
        schedule = (
            f"{view.schedule_hour_pst:02d}:00 PST" if view.schedule_hour_pst is not None else ""
        )
        table.add_row(
            view.name,
            view.table,
            view.path_template or view.query or "",
            fmt,
            view.load_mode.value,
            view.error_policy.on_error.value,
            schedule,
            "yes" if view.enabled else "no",
        )
    console.print(table)


@sources.command("preview")
def preview_source(
    ctx: typer.Context,
    name: str,
    day: datetime = typer.Option(..., "--day", formats=["%Y-%m-%d"], help="Day to read."),
    limit: int = typer.Option(
        DEFAULT_PREVIEW_ROWS, "--limit", help=f"Input records to read (1-{MAX_PREVIEW_ROWS})."
    ),
    project: str = ProjectOption,
) -> None:
    """Read the first records of a source's day, mapped, typed and validated as a load would,
    and show the typed rows, then the rows that would be quarantined. Commits nothing (no rows,
    ledger, quarantine, run or unit), and never opens the destination.

    Exit status: 0 when every record read is good, 1 when any row was bad, 2 for bad input
    (an unknown source, a limit out of range, a day that cannot be read)."""
    services = state(ctx).services()
    result = services.previews.preview(
        services.access.project_id(project), name, day.date(), limit=limit
    )
    if wants_json(ctx):
        json_output.emit(json_output.preview(result))
    else:
        _print_preview(result)
    if result.errors:
        raise typer.Exit(1)


def _print_preview(result: SourcePreview) -> None:
    rows = Table(title=f"{result.source} on {result.day.isoformat()} -> {result.table}")
    for column in result.columns:
        rows.add_column(f"{column.name}\n{column.type}", overflow="fold")
    for row in result.rows:
        rows.add_row(*(escape("" if v is None else str(v)) for v in row))
    console.print(rows)
    more = " (the source has more)" if result.truncated else ""
    console.print(
        f"Read {result.rows_read} records from {', '.join(result.files) or 'no file'}{more}: "
        f"{len(result.rows)} good, {len(result.errors)} bad. Nothing was committed."
    )
    for error in result.errors:
        field = f" {error.field}" if error.field else ""
        console.print(
            f"{escape(error.location)}{escape(field)} {error.code} {escape(error.message)}",
            soft_wrap=True,
        )
        if error.raw is not None:
            console.print(f"  raw: {escape(error.raw)}", soft_wrap=True, highlight=False)


@sources.command("delete")
def delete_source(ctx: typer.Context, name: str, project: str = ProjectOption) -> None:
    services = state(ctx).services()
    services.catalog.delete_source(services.access.project_id(project), name)
    console.print(f"Deleted source {name}.")
