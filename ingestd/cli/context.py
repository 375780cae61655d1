"""The CLI's shared state: settings and services, built once per invocation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console

from ingestd.observability import logging as observability_logging
from ingestd.services import Services
from ingestd.settings import Settings

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    """One invocation's global options (see ``global_options``) and its services."""

    data_dir: Path | None = None
    debug: bool = False
    as_json: bool = False
    _services: Services | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self.data_dir is not None:
            return Settings(data_dir=self.data_dir)
        return Settings()

    def services(self) -> Services:
        if self._services is None:
            settings = self.settings()
            # INGESTD_LOG_FORMAT is known only now: the log lines of the command follow it.
            observability_logging.configure(settings.log_format, debug=self.debug)
            self._services = Services(settings)
        return self._services

    def close(self) -> None:
        if self._services is not None:
            self._services.close()
            self._services = None


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    assert isinstance(root.obj, CliState)
    return root.obj


def wants_json(ctx: typer.Context) -> bool:
    """Whether ``--json`` was given (before or after the subcommand)."""
    return state(ctx).as_json


ProjectOption = typer.Option("default", "--project", "-p", help="Project the command acts in.")
