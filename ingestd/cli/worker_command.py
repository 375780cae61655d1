"""`ingestd worker`: a Celery worker that runs units (INGESTD_EXECUTOR=celery).

Start as many as the machines and cores allow, on any machine that reaches the broker, the
metadata database and the destination; each downloads and stages on its own disk. A worker
refuses to start on settings that cannot work across machines, each refusal one line with the
setting to change (exit 2). SIGTERM (or Ctrl-C) is Celery's warm shutdown: units in flight
finish; a second one, or SIGKILL, stops at once, and those units go to another worker once
their leases run out (docs/deployment.md).
"""

from __future__ import annotations

import os
import socket

import typer

from ingestd.cli.context import console, state
from ingestd.control.deployment import check_deployment
from ingestd.errors import DeploymentInvalid
from ingestd.executor import celery_app
from ingestd.observability import logging as observability_logging


def worker(
    ctx: typer.Context,
    concurrency: int | None = typer.Option(
        None,
        "--concurrency",
        "-c",
        min=1,
        max=64,
        help="Units this worker runs at the same time (default: $INGESTD_WORKERS).",
    ),
    name: str | None = typer.Option(
        None, "--name", help="Worker name shown by `celery inspect` (default: ingestd@host:pid)."
    ),
) -> None:
    """Run units from the broker (INGESTD_EXECUTOR=celery) until stopped."""
    settings = state(ctx).settings()
    if settings.executor != "celery":
        raise DeploymentInvalid(
            "`ingestd worker` runs units sent through a broker, and INGESTD_EXECUTOR is "
            f"{settings.executor!r}: no serve process would send it any",
            hint="set INGESTD_EXECUTOR=celery (and INGESTD_BROKER_URL) on every serve and "
            "worker process; with the local executor, `ingestd serve` runs units itself",
        )
    check_deployment(settings)
    services = state(ctx).services(serving=True)
    observability_logging.configure(settings.log_format, debug=state(ctx).debug, access_log=False)
    hostname = name or f"ingestd@{socket.gethostname()}:{os.getpid()}"
    units = services.celery_units(hostname)
    app = services.celery
    if concurrency is not None:
        app.conf.worker_concurrency = concurrency
    celery_app.register(app, units.execute)
    console.print(
        f"ingestd worker {hostname}: {app.conf.worker_concurrency} at a time, "
        f"queue {settings.broker_queue}",
        soft_wrap=True,
    )
    units.start()
    try:
        # No mingle or gossip: a worker needs nothing from its peers (the metadata database
        # is the shared state), and starts a second sooner. Remote control (celery inspect)
        # stays on.
        app.Worker(
            hostname=hostname, loglevel="INFO", quiet=True, without_mingle=True, without_gossip=True
        ).start()
    finally:
        units.stop()
        services.close()
