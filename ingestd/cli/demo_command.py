"""`ingestd demo`: generate demo data and ingest a few days of it."""

from __future__ import annotations

import typer

from ingestd.cli.context import console, state
from ingestd.cli.render import runs_table
from ingestd.cli.run_commands import execute, exit_code
from ingestd.cli.views import RunRow
from ingestd.control import demo as demo_data


def demo(ctx: typer.Context) -> None:
    """Create the `demo` project and load three days of generated events and orders."""
    services = state(ctx).services()
    setup = demo_data.set_up(services)
    run = services.runs.start_source_run(
        setup.project_id, setup.sources, setup.days, trigger="backfill"
    )
    console.print(f"Loading {len(run.units)} unit(s) for {setup.days[0]}..{setup.days[-1]}:")
    run = execute(services, setup.project_id, run.id)
    console.print(runs_table([RunRow.of(run)]))
    console.print("Bad rows are in quarantine: [bold]ingestd quarantine list --project demo[/]")
    raise typer.Exit(exit_code(run))
