"""The `ingestd` command: typer app, global options and the one top-level error handler."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

import typer
from pydantic import ValidationError

from ingestd.cli import (
    catalog_commands,
    demo_command,
    keys_commands,
    oauth_commands,
    projects_commands,
    quarantine_commands,
    run_commands,
    secrets_commands,
    status_command,
    stream_commands,
)
from ingestd.cli.context import CliState, console, err_console, state
from ingestd.errors import IngestdError
from ingestd.observability import logging as observability_logging
from ingestd.settings import Settings

app = typer.Typer(
    name="ingestd",
    help="Self-hosted data ingestion with exact row accounting.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(keys_commands.app, name="keys")
app.add_typer(oauth_commands.app, name="oauth")
app.add_typer(stream_commands.app, name="streams")
app.add_typer(catalog_commands.connections, name="connections")
app.add_typer(catalog_commands.tables, name="tables")
app.add_typer(catalog_commands.sources, name="sources")
app.add_typer(run_commands.runs, name="runs")
app.add_typer(quarantine_commands.app, name="quarantine")
app.add_typer(projects_commands.app, name="projects")
app.add_typer(secrets_commands.app, name="secrets")
app.command("run")(run_commands.run_source)
app.command("demo")(demo_command.demo)
app.command("status")(status_command.status)


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data directory (default: $INGESTD_DATA_DIR or ./.ingestd)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors."),
) -> None:
    ctx.obj = CliState(data_dir=data_dir, debug=debug)
    ctx.call_on_close(ctx.obj.close)
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Bind address (default: $INGESTD_HOST)."),
    port: int | None = typer.Option(None, help="Port (default: $INGESTD_PORT)."),
) -> None:
    """Serve the API, the worker pool and the scheduler in one process."""
    import uvicorn

    from ingestd.api.app import create_app

    services = state(ctx).services()
    settings = services.settings
    bind_host, bind_port = host or settings.host, port or settings.port
    # One line per request and per unit (ingestd.access, ingestd.executor), in
    # INGESTD_LOG_FORMAT; uvicorn's own loggers go through the same handler (log_config=None)
    # and its access log is off: the app writes a richer one (docs/operations.md).
    observability_logging.configure(settings.log_format, debug=state(ctx).debug, access_log=True)
    console.print(f"ingestd serving on http://{bind_host}:{bind_port} (data: {settings.data_dir})")
    uvicorn.run(
        create_app(services),
        host=bind_host,
        port=bind_port,
        log_level="warning",
        log_config=None,
        access_log=False,
    )


@app.command("settings")
def show_settings() -> None:
    """List every setting with its environment variable and default."""
    from rich.table import Table

    table = Table(title="Settings (environment variables)")
    for column in ("variable", "default", "meaning"):
        table.add_column(column)
    for row in Settings.describe():
        table.add_row(*row)
    console.print(table)


def run() -> None:
    """Console-script entry point: run the app, turn errors into a message and an exit code."""
    debug = "--debug" in sys.argv
    try:
        app(standalone_mode=False)
    except IngestdError as exc:
        err_console.print(f"[bold red]error[/]: {exc.message} [dim]({exc.code})[/]")
        if exc.hint:
            err_console.print(f"[yellow]hint[/]: {exc.hint}")
        if debug:
            err_console.print(traceback.format_exc())
        sys.exit(2)
    except ValidationError as exc:
        err_console.print("[bold red]error[/]: invalid settings")
        for item in exc.errors():
            where = ".".join(str(p) for p in item["loc"])
            err_console.print(f"  INGESTD_{where.upper()}: {item['msg']}")
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the CLI's one top-level handler
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        err_console.print(f"[bold red]internal error[/]: {type(exc).__name__}: {exc}")
        if debug:
            err_console.print(traceback.format_exc())
        else:
            err_console.print("[yellow]hint[/]: rerun with --debug for the traceback")
        sys.exit(1)
