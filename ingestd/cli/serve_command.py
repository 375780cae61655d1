"""`ingestd serve`: the API and the scheduler, with the worker pool (INGESTD_EXECUTOR=local) or
dispatching units to `ingestd worker` processes (INGESTD_EXECUTOR=celery).

What can stop a server from starting is checked before it says it serves, each one line with a
hint (exit 2, like any refused request): settings that cannot work together
(``control.deployment``), the port is taken (the socket is bound here and handed to uvicorn, so
nothing else can take it in between), or another ingestd process holds the data directory's
DuckDB destination (one `serve` per data directory).
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from ingestd.cli.context import console, state
from ingestd.cli.remote import discovery
from ingestd.cli.serve_processes import ApiProcesses
from ingestd.control.deployment import check_deployment
from ingestd.errors import Conflict, DestinationBusy
from ingestd.observability import logging as observability_logging
from ingestd.observability.metrics_dir import shared_metrics_dir


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, or ``Conflict`` saying what to do."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on accepted sockets whose
    # proto says TCP, and without it each response's second write waits for the client's
    # delayed ACK (about 40 ms per request: bench/status_at_scale.py, docs/performance.md).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # As uvicorn does: a restart may rebind while old connections sit in TIME_WAIT. It does not
    # let two servers listen on one port (that would need SO_REUSEPORT on both).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise Conflict(
                f"port {port} on {host} is already in use",
                hint=f"stop what listens there (ss -ltnp 'sport = :{port}'), "
                "or choose another: ingestd serve --port N",
            ) from None
        if exc.errno == errno.EACCES:
            raise Conflict(
                f"not allowed to listen on {host}:{port}",
                hint="ports below 1024 need privileges: choose another with --port",
            ) from None
        raise Conflict(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="check --host (an address of this machine, or 0.0.0.0 for all)",
        ) from None
    return sock


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Bind address (default: $INGESTD_HOST)."),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="Port (default: $INGESTD_PORT)."
    ),
    api_processes: int | None = typer.Option(
        None,
        "--api-processes",
        min=1,
        max=64,
        help="Processes that answer the API on the port (default: $INGESTD_API_PROCESSES, 1); "
        "more than 1 needs PostgreSQL metadata and destination.",
    ),
) -> None:
    """Serve the API and the scheduler, and run units (INGESTD_EXECUTOR=local) or dispatch
    them to `ingestd worker` processes (INGESTD_EXECUTOR=celery)."""
    wanted = state(ctx).settings()
    processes = api_processes if api_processes is not None else wanted.api_processes
    check_deployment(wanted.model_copy(update={"api_processes": processes}))
    # Before anything imports prometheus_client: it chooses where metric values live when it
    # is first imported (observability/metrics_dir.py), and the API processes inherit that.
    metrics_dir = shared_metrics_dir(wanted.data_dir) if processes > 1 else None
    try:
        _serve(ctx, host, port, processes, metrics_dir)
    finally:
        _remove(metrics_dir)


def _remove(metrics_dir: Path | None) -> None:
    if metrics_dir is not None:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve(
    ctx: typer.Context, host: str | None, port: int | None, processes: int, metrics_dir: Path | None
) -> None:
    import uvicorn

    from ingestd.api.app import create_app

    services = state(ctx).services(serving=True)
    settings = services.settings
    bind_host = host if host is not None else settings.host
    bind_port = port if port is not None else settings.port
    sock = bind(bind_host, bind_port)
    try:
        try:
            services.warehouse  # noqa: B018 - opened now: the lock is taken or refused here
        except DestinationBusy:
            raise Conflict(
                f"another ingestd process is using the data directory {settings.data_dir}",
                hint="one `ingestd serve` per data directory: stop the other one, or give this "
                "one its own --data-dir",
            ) from None
        console.print(
            f"ingestd serving on http://{bind_host}:{bind_port} (data: {settings.data_dir})",
            soft_wrap=True,
        )
        # One line per request and per unit (ingestd.access, ingestd.executor), in
        # INGESTD_LOG_FORMAT; uvicorn's own loggers go through the same handler (log_config=None)
        # and its access log is off: the app writes a richer one (docs/operations.md).
        observability_logging.configure(
            settings.log_format, debug=state(ctx).debug, access_log=True
        )
        # The CLI finds this server (and its operator token) in server.json: see
        # cli/remote/discovery.py for why the token grants nothing the directory does not.
        info = discovery.ServerInfo(
            url=discovery.client_url(bind_host, int(sock.getsockname()[1])),
            pid=os.getpid(),
            started_at=services.clock(),
            token=discovery.new_token(),
        )
        services.access.accept_operator_token(info.token)
        extra = (
            ApiProcesses(
                sock,
                processes - 1,
                settings.data_dir,
                info.token,
                debug=state(ctx).debug,
            )
            if processes > 1
            else None
        )
        server = _server_class()(
            uvicorn.Config(
                create_app(services),
                log_level="warning",
                lifespan="on",
                log_config=None,
                access_log=False,
            ),
            announce=lambda: discovery.write(settings.data_dir, info),
            withdraw=lambda: _withdraw(settings.data_dir, info, extra),
            finished=lambda: _finish(extra, metrics_dir),
        )
        if extra is not None:
            extra.start()
        try:
            server.run(sockets=[sock])
        finally:
            # Reached when serving ends without a signal (a failed startup); after SIGTERM
            # uvicorn ends the process first, and shutdown() below did this already.
            _withdraw(settings.data_dir, info, extra)
            _finish(extra, metrics_dir)
    finally:
        sock.close()


def _withdraw(data_dir: Path, info: discovery.ServerInfo, extra: ApiProcesses | None) -> None:
    """Stop being found (a CLI must not send commands to a server going away) and tell the API
    processes to finish, so they drain their requests while this one drains its own."""
    discovery.remove(data_dir, info)
    if extra is not None:
        extra.terminate()


def _finish(extra: ApiProcesses | None, metrics_dir: Path | None) -> None:
    if extra is not None:
        extra.stop()
    _remove(metrics_dir)


def _server_class() -> type[Any]:
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        """Writes server.json once the app has started (its lifespan ran, it accepts), and
        removes it (and stops the API processes) as it shuts down: there, not after ``run``
        returns, because uvicorn raises a SIGTERM it caught again when ``run`` ends, which
        ends the process."""

        def __init__(
            self,
            config: uvicorn.Config,
            announce: Callable[[], None],
            withdraw: Callable[[], None],
            finished: Callable[[], None],
        ) -> None:
            super().__init__(config)
            self._announce = announce
            self._withdraw = withdraw
            self._finished = finished

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if not self.should_exit:
                self._announce()

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            self._withdraw()  # first: a CLI must not send commands to a server going away
            await super().shutdown(sockets=sockets)
            self._finished()

    return AnnouncingServer
