"""`ingestd run` and `ingestd runs`: load sources for days, watch runs, cancel them."""

from __future__ import annotations

import time
from datetime import date

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ingestd.cli import json_output
from ingestd.cli.context import ProjectOption, console, state, wants_json
from ingestd.cli.render import files_lines, history_table, runs_table, units_table
from ingestd.control.run_views import RunView
from ingestd.control.runs import day_range
from ingestd.domain.origins import RunOrigin
from ingestd.domain.states import TERMINAL_UNIT_STATES, UnitState
from ingestd.errors import InvalidInput
from ingestd.services import Services

# A unit that ended in one of these did what was asked: loaded (an empty day included) or
# found nothing to do (an ingest-if-not-exists hit). Anything else makes the command exit 1.
_DONE = frozenset({UnitState.SUCCEEDED, UnitState.SKIPPED})

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
    start: str | None = typer.Option(None, "--start", help="First day of a range."),
    end: str | None = typer.Option(None, "--end", help="Last day of a range (inclusive)."),
    wait: bool = typer.Option(
        True, "--wait/--no-wait", help="Run here with a progress bar, or only enqueue for a server."
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


def exit_code(run: RunView) -> int:
    """0 when every unit of the run did what was asked, else 1 (the table is printed first)."""
    return 0 if all(u.state in _DONE for u in run.units) else 1


def execute(services: Services, project_id: int, run_id: str) -> RunView:
    """Run a run's units in this process, showing progress, until all have ended."""
    pool = services.pool()
    pool.start()
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("units  {task.fields[rows]:>12,} rows read  {task.fields[state]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            run = services.runs.get_run(project_id, run_id, history=False)
            task = progress.add_task("loading", total=len(run.units), rows=0, state="")
            while True:
                run = services.runs.get_run(project_id, run_id, history=False)
                done = sum(u.state in TERMINAL_UNIT_STATES for u in run.units)
                progress.update(task, completed=done, rows=run.counts.read, state=run.state.value)
                if done == len(run.units):
                    break
                time.sleep(0.3)
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
    services = state(ctx).services()
    items, total = services.runs.list_runs(services.access.project_id(project), limit=limit)
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
    services = state(ctx).services()
    project_id = services.access.project_id(project)
    run = services.runs.get_run(project_id, services.runs.resolve_run_id(project_id, run_id))
    if wants_json(ctx):
        json_output.emit(json_output.run(run, detail=True))
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
    services = state(ctx).services()
    project_id = services.access.project_id(project)
    if unit is not None:
        view = services.runs.cancel_unit(project_id, unit)
        console.print(f"Unit {view.id}: {view.state.value}.")
        return
    run = services.runs.cancel_run(project_id, services.runs.resolve_run_id(project_id, run_id))
    console.print(f"Run {run.id}: cancel requested; now {run.state.value}.")
