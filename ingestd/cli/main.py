"""The `ingestd` command: typer app, global options and the one top-level error handler.

Exit codes (DESIGN.md "Interfaces"): 0 when everything asked succeeded, 1 when something ran
and failed (a unit, a replayed row, an operational error such as a busy destination), 2 for
usage and input errors (the parser's own message, or an ``InvalidInput``-like error with a hint).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.markup import escape

# typer vendors click (typer._click) and raises that copy's exceptions, not the `click`
# package's: this is the class its parser errors really have.
from typer._click import ClickException

from ingestd.cli import (
    catalog_commands,
    demo_command,
    keys_commands,
    oauth_commands,
    projects_commands,
    quarantine_commands,
    run_commands,
    secrets_commands,
    serve_command,
    status_command,
    stream_commands,
    worker_command,
    workers_command,
)
from ingestd.cli.context import CliState, console, err_console
from ingestd.cli.global_options import (
    DATA_DIR,
    DEBUG,
    JSON,
    SERVER,
    build_command,
    configure_logging,
)
from ingestd.errors import IngestdError, RequestError
from ingestd.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

app = typer.Typer(
    name="ingestd",
    help="Self-hosted data ingestion with exact row accounting.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
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
app.command("serve")(serve_command.serve)
app.command("worker")(worker_command.worker)
app.command("workers")(workers_command.workers)


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Path | None = DATA_DIR,
    debug: bool = DEBUG,
    as_json: bool = JSON,
    server: str | None = SERVER,
) -> None:
    ctx.obj = CliState(data_dir=data_dir, debug=debug, as_json=as_json, server=server)
    ctx.call_on_close(ctx.obj.close)
    configure_logging(debug)


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


def _error(message: str, hint: str | None = None) -> None:
    # soft_wrap: one logical line stays one line, whatever the terminal's width; escape: a
    # message may hold brackets ("[Errno 98]") that rich would otherwise take for markup.
    err_console.print(f"[bold red]error[/]: {escape(message)}", soft_wrap=True)
    if hint:
        err_console.print(f"[yellow]hint[/]: {escape(hint)}", soft_wrap=True)


def execute(args: Sequence[str] | None = None) -> int:
    """Run the command line ``args`` (default: ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if args is None else args)
    debug = "--debug" in argv[: argv.index("--")] if "--" in argv else "--debug" in argv
    command = build_command(app)
    try:
        result = command.main(args=argv, prog_name="ingestd", standalone_mode=False)
    except ClickException as exc:
        # The parser's own errors (and a command's typer.BadParameter). Shown as click shows
        # them: the usage line, "Try 'ingestd ... --help'" and the message.
        exc.show()
        return EXIT_USAGE
    except IngestdError as exc:
        _error(f"{exc.message} ({exc.code})", exc.hint)
        if debug:
            err_console.print(traceback.format_exc())
        return EXIT_USAGE if isinstance(exc, RequestError) else EXIT_FAILED
    except ValidationError as exc:
        _error("invalid settings")
        for item in exc.errors():
            where = ".".join(str(p) for p in item["loc"])
            err_console.print(f"  INGESTD_{where.upper()}: {escape(item['msg'])}", soft_wrap=True)
        return EXIT_USAGE
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's one top-level handler
        _error(
            f"internal error: {type(exc).__name__}: {exc}", "rerun with --debug for the traceback"
        )
        if debug:
            err_console.print(traceback.format_exc())
        return EXIT_FAILED
    # Without standalone mode the parser returns the code of a `typer.Exit` (or of --help:
    # 0) instead of exiting; a command that returns normally returns None.
    return result if isinstance(result, int) else EXIT_OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(execute())
