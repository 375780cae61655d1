"""`ingestd run` and `ingestd runs`: load sources for days, watch runs, cancel them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ingestd.cli import json_output
from ingestd.cli.context import ProjectOption, console, state, wants_json
from ingestd.cli.remote.client import RemoteClient
from ingestd.cli.render import files_lines, history_table, runs_table, units_table
from ingestd.cli.views import RunRow, RunShown
from ingestd.control.run_views import RunView
from ingestd.control.runs import day_range
from ingestd.domain.origins import RunOrigin
from ingestd.domain.states import TERMINAL_UNIT_STATES, UnitState
from ingestd.errors import InvalidInput
from ingestd.services import Services

# A unit that ended in one of these did what was asked: loaded (an empty day included) or
# found nothing to do (an ingest-if-not-exists hit). Anything else makes the command exit 1.
_DONE = frozenset({UnitState.SUCCEEDED, UnitState.SKIPPED})

R = TypeVar("R", bound=RunShown)

runs = typer.Typer(help="Runs: list, show, cancel.", no_args_is_help=True)


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{option} {text!r} is not a date", hint="write YYYY-MM-DD") from None


def run_source(
    ctx: typer.Context,
    source: list[str] = typer.Argument(..., help="Source name(s)."),
    day: str | None = typer.Option(None, "--day", help="One day, YYYY-MM-DD."),
    start: str | None = typer.Option(None, "--start", "--from", help="First day of a range."),
    end: str | None = typer.Option(None, "--end", "--to", help="Last day of a range (inclusive)."),
    wait: bool = typer.Option(
        True,
        "--wait/--no-wait",
        help="Follow the run with a progress bar until it ends, or only start it.",
    ),
    idempotency_key: str | None = typer.Option(None, "--idempotency-key"),
    project: str = ProjectOption,
) -> None:
    """Load sources for one day or a date range (a backfill)."""
    if day is not None and (start or end):
        raise InvalidInput("give --day, or --start and --end, not both")
    if day is not None:
        days = [parse_day(day, "--day")]
        trigger = "manual"
    elif start and end:
        days = day_range(parse_day(start, "--start"), parse_day(end, "--end"))
        trigger = "backfill"
    else:
        raise InvalidInput("say which days to load", hint="--day YYYY-MM-DD or --start/--end")
    remote = state(ctx).remote(project)
    if remote is not None:
        raise typer.Exit(_run_remotely(remote, source, days, trigger, idempotency_key, wait))
    services = state(ctx).services()
    project_id = services.access.project_id(project)
    run = services.runs.start_source_run(
        project_id,
        source,
        days,
        trigger=trigger,
        idempotency_key=idempotency_key,
        origin=RunOrigin.CLI,
    )
    console.print(f"Run {run.id}: {len(run.units)} unit(s) enqueued.")
    if not wait:
        return
    run = execute(services, project_id, run.id)
    console.print(units_table(run))
    raise typer.Exit(exit_code(run))


def _run_remotely(
    remote: RemoteClient,
    sources: list[str],
    days: list[date],
    trigger: str,
    idempotency_key: str | None,
    wait: bool,
) -> int:
    """Start the runs on the server and follow them. The native API starts one source's run
    per call, so several sources make one run each (the idempotency key gets the source's
    name appended, so each run has its own)."""
    started = []
    for name in sources:
        key = (
            idempotency_key
            if len(sources) == 1 or not idempotency_key
            else (f"{idempotency_key}:{name}")
        )
        if trigger == "manual":
            run = remote.start_run(name, day=days[0], idempotency_key=key)
        else:
            run = remote.start_run(name, start=days[0], end=days[-1], idempotency_key=key)
        console.print(f"Run {run.id}: {len(run.units)} unit(s) enqueued.")
        started.append(run)
    if not wait:
        return 0
    code = 0
    for run in started:
        ended = follow(partial(remote.get_run, run.id))
        console.print(units_table(ended))
        code = max(code, exit_code(ended))
    return code


def exit_code(run: RunShown) -> int:
    """0 when every unit of the run did what was asked, else 1 (the table is printed first)."""
    return 0 if all(u.state in _DONE for u in run.units) else 1


def follow(fetch: Callable[[], R]) -> R:
    """Show a run's progress, reading it with ``fetch`` until all its units have ended."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("units  {task.fields[rows]:>12,} rows read  {task.fields[state]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        run = fetch()
        task = progress.add_task("loading", total=len(run.units), rows=0, state="")
        while True:
            done = sum(u.state in TERMINAL_UNIT_STATES for u in run.units)
            progress.update(task, completed=done, rows=run.counts.read, state=run.state.value)
            if done == len(run.units):
                return run
            time.sleep(0.3)
            run = fetch()


def execute(services: Services, project_id: int, run_id: str) -> RunView:
    """Run a run's units in this process, showing progress, until all have ended."""
    pool = services.pool()
    pool.start()
    try:
        follow(lambda: services.runs.get_run(project_id, run_id, history=False))
    finally:
        pool.stop()
    return services.runs.get_run(project_id, run_id)


@runs.command("list")
def list_runs(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    project: str = ProjectOption,
) -> None:
    """Runs of a project, newest first."""
    remote = state(ctx).remote(project)
    if remote is not None:
        items, total = remote.list_runs(limit)
    else:
        services = state(ctx).services()
        views, total = services.runs.list_runs(services.access.project_id(project), limit=limit)
        items = [RunRow.of(v) for v in views]
    if wants_json(ctx):
        json_output.emit(json_output.runs_page(items, total))
        return
    console.print(runs_table(items))
    console.print(f"{len(items)} of {total} run(s).")


@runs.command("show")
def show_run(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="The run's id, or enough of its start to be unique."),
    project: str = ProjectOption,
) -> None:
    """A run's units, per-file counts and history."""
    remote = state(ctx).remote(project)
    run: RunShown
    if remote is not None:
        run = remote.get_run(run_id)
    else:
        services = state(ctx).services()
        project_id = services.access.project_id(project)
        run = services.runs.get_run(project_id, services.runs.resolve_run_id(project_id, run_id))
    if wants_json(ctx):
        json_output.emit(json_output.run(run))
        return
    console.print(units_table(run))
    for line in files_lines(run):
        console.print(line, soft_wrap=True, markup=False, highlight=False)
    console.print(history_table(run))


@runs.command("cancel")
def cancel_run(
    ctx: typer.Context,
    run_id: str,
    unit: str | None = typer.Option(None, "--unit", help="Cancel only this unit of the run."),
    project: str = ProjectOption,
) -> None:
    """Cancel a run (or one of its units): waiting units at once, running ones before commit."""
    remote = state(ctx).remote(project)
    if remote is not None:
        if unit is not None:
            canceled_unit = remote.cancel_unit(unit)
            console.print(f"Unit {canceled_unit.id}: {canceled_unit.state.value}.")
            return
        canceled = remote.cancel_run(run_id)
        console.print(f"Run {canceled.id}: cancel requested; now {canceled.state.value}.")
        return
    services = state(ctx).services()
    project_id = services.access.project_id(project)
    if unit is not None:
        view = services.runs.cancel_unit(project_id, unit)
        console.print(f"Unit {view.id}: {view.state.value}.")
        return
    run = services.runs.cancel_run(project_id, services.runs.resolve_run_id(project_id, run_id))
    console.print(f"Run {run.id}: cancel requested; now {run.state.value}.")
