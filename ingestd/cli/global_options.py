"""Global options (``--data-dir``, ``--debug``, ``--json``, ``--server``) that work before or
after the subcommand: ``ingestd --data-dir D runs list`` and ``ingestd runs list --data-dir D``.

The root command declares them for the first form. For the second, every subcommand gets the
same options appended to its own, parsed by the parser like any other option (so
``--data-dir=D``, help and usage errors behave as usual); their values go to the one
``CliState`` of the invocation instead of to the command function. A value given after the
subcommand wins over one given before it.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import typer
import typer.core
import typer.main

from ingestd.cli.context import CliState

DATA_DIR = typer.Option(
    None,
    "--data-dir",
    help="Data directory (default: $INGESTD_DATA_DIR or ./.ingestd).",
    rich_help_panel="Global options",
)
DEBUG = typer.Option(
    False, "--debug", help="Show tracebacks of errors.", rich_help_panel="Global options"
)
SERVER = typer.Option(
    None,
    "--server",
    help="URL of a running ingestd server to send the commands to (default: "
    "$INGESTD_SERVER_URL, else the data directory's own `ingestd serve`); the key in "
    "$INGESTD_API_KEY.",
    rich_help_panel="Global options",
)
JSON = typer.Option(
    False,
    "--json",
    help="List and show commands print one JSON document on stdout.",
    rich_help_panel="Global options",
)


def configure_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )


def _declared() -> list[Any]:
    """The global options as the parser's own parameter objects, built by typer from one
    signature so their types, help and flags are exactly the root command's."""
    holder = typer.Typer()

    @holder.command()
    def options(
        data_dir: Path | None = DATA_DIR,
        debug: bool = DEBUG,
        as_json: bool = JSON,
        server: str | None = SERVER,
    ) -> None:
        """Never run: only its parameters are used."""

    return list(typer.main.get_command(holder).params)


def _record(ctx: Any, param: Any, value: Any) -> Any:
    """Parameter callback: store a value given after a subcommand in the invocation's state."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState) or value is None or value is False:
        return value  # not given here (or --help / completion, before any state exists)
    setattr(root.obj, param.name, value)
    if param.name == "debug":
        configure_logging(True)
    return value


def _attach(command: Any, params: list[Any]) -> None:
    for sub in getattr(command, "commands", {}).values():
        taken = {opt for p in sub.params for opt in getattr(p, "opts", ())}
        for param in params:
            if taken.isdisjoint(param.opts):
                clone = copy.copy(param)
                clone.expose_value = False
                clone.callback = _record
                sub.params.append(clone)
        _attach(sub, params)


def build_command(app: typer.Typer) -> Any:
    """The click command of ``app`` with the global options on every subcommand."""
    command = typer.main.get_command(app)
    _attach(command, _declared())
    return command
