"""The CLI's shared state: settings and services, built once per invocation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console

from ingestd.cli.remote import discovery
from ingestd.cli.remote.client import RemoteClient
from ingestd.errors import InvalidInput
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
    server: str | None = None
    _services: Services | None = field(default=None, repr=False)
    _remote: RemoteClient | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self.data_dir is not None:
            return Settings(data_dir=self.data_dir)
        return Settings()

    def named_server(self) -> str | None:
        """The server ``--server`` or ``INGESTD_SERVER_URL`` names, if any."""
        return self.server or self.settings().server_url or None

    def services(self, *, serving: bool = False) -> Services:
        """The services on the data directory. With a server named, only ``serve`` gets them:
        any other command that would act here would act on another data directory than
        the one the user named a server for."""
        named = self.named_server()
        if named and not serving:
            raise InvalidInput(
                f"this command works on the data directory itself, not through a server ({named})",
                hint="run it where the data directory is, without --server and "
                "INGESTD_SERVER_URL (the commands that go through a server: run, runs, "
                "quarantine, status)",
            )
        if self._services is None:
            settings = self.settings()
            # INGESTD_LOG_FORMAT is known only now: the log lines of the command follow it.
            observability_logging.configure(settings.log_format, debug=self.debug)
            self._services = Services(settings)
        return self._services

    def remote(self, project: str) -> RemoteClient | None:
        """The server the commands that load or read the destination go through, or None to
        work on the data directory here: ``--server`` / ``INGESTD_SERVER_URL`` (with the key
        in ``INGESTD_API_KEY``), else the live ``serve`` of the data directory (server.json,
        with its operator token)."""
        if self._remote is not None:
            return self._remote
        url = self.named_server()
        if url:
            secret = self.settings().api_key
            key = secret.get_secret_value().strip() if secret is not None else ""
            if not key:
                raise InvalidInput(
                    f"a server is named ({url}) but no key to call it with",
                    hint="export INGESTD_API_KEY=<a console or ingest key of the project>",
                )
            self._remote = RemoteClient(url, key, project)
        else:
            found = discovery.running(self.settings().data_dir)
            if found is None:
                return None
            self._remote = RemoteClient(found.url, found.token, project)
        return self._remote

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()
            self._remote = None
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
