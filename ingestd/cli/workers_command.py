"""`ingestd workers`: who runs units now (the native API's /workers, or the data directory's
own census when no server runs)."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from ingestd.cli.context import ProjectOption, console, state
from ingestd.domain.workers import WorkerCensus


def workers(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the census as JSON."),
    project: str = ProjectOption,
) -> None:
    """The Celery workers that answer the broker, and every process holding unit leases."""
    remote = state(ctx).remote(project)
    census = remote.workers() if remote is not None else state(ctx).services().workers()
    if as_json:
        typer.echo(json.dumps(census_json(census), indent=2))
        return
    console.print(census_table(census))


def census_json(census: WorkerCensus) -> dict[str, object]:
    return {
        "executor": census.executor,
        "broker_reachable": census.broker_reachable,
        "workers": [
            {
                "name": w.name,
                "concurrency": w.concurrency,
                "running": w.running,
                "answered": w.answered,
            }
            for w in census.workers
        ],
    }


def census_table(census: WorkerCensus) -> Table:
    broker = (
        ""
        if census.broker_reachable is None
        else " (broker reachable)"
        if census.broker_reachable
        else " (broker NOT answering)"
    )
    table = Table(
        title=f"Workers, executor {census.executor}{broker}",
        caption=None if census.workers else "no worker is running a unit now",
    )
    table.add_column("worker")
    table.add_column("answered the broker")
    table.add_column("at a time", justify="right")
    table.add_column("running now", justify="right")
    for w in census.workers:
        table.add_row(
            w.name,
            "yes" if w.answered else ("local pool" if census.executor == "local" else "no"),
            "" if w.concurrency is None else str(w.concurrency),
            str(w.running),
        )
    return table
