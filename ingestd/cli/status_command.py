"""`ingestd status`: the source x day grid of daily statuses, in the terminal or as JSON."""

from __future__ import annotations

import json

import typer
from rich.table import Table
from rich.text import Text

from ingestd.cli.context import ProjectOption, console, state
from ingestd.cli.run_commands import parse_day
from ingestd.control.status_grid import StatusCell, StatusGrid
from ingestd.domain.clock import system_clock

# Colour says the same as the text (never colour alone): green loaded, yellow empty or
# waiting, red failed, cyan running.
_STYLES = (
    (("IMPORT_SUCCESSFUL",), "bold green"),
    (("LOADED_EMPTY_DATA",), "yellow"),
    (("IMPORT_SCHEDULED", "BACKFILL_REQUESTED", "IMPORT_RESCHEDULED"), "yellow"),
    (("IMPORT_STARTED", "BACKFILL_STARTED", "DOWNLOAD_COMPLETED"), "cyan"),
)
NO_RUN = "no run"


def status(
    ctx: typer.Context,
    days: int = typer.Option(7, "--days", "-n", help="How many days, ending with --end."),
    end: str | None = typer.Option(None, "--end", help="Last day shown, YYYY-MM-DD (today)."),
    source: str | None = typer.Option(None, "--source", help="Only this source."),
    as_json: bool = typer.Option(False, "--json", help="Print the grid as JSON."),
    project: str = ProjectOption,
) -> None:
    """Daily status of each source for the last days (as Statsig's /ingestion/status says)."""
    remote = state(ctx).remote(project)
    if remote is not None:
        last = parse_day(end, "--end") if end is not None else system_clock().date()
        grid = remote.status_grid(end=last, days=days, source=source)
    else:
        services = state(ctx).services()
        last = parse_day(end, "--end") if end is not None else services.clock().date()
        project_id = services.access.project_id(project)
        grid = services.status_grids.grid(project_id, end=last, days=days, source=source)
    if as_json:
        typer.echo(json.dumps(grid_json(project, grid), indent=2))
        return
    console.print(grid_table(project, grid))


def grid_json(project: str, grid: StatusGrid) -> dict[str, object]:
    return {
        "project": project,
        "days": [d.isoformat() for d in grid.days],
        "sources": [
            {
                "source": row.source,
                "dataset": row.dataset,
                "days": {
                    day.isoformat(): None
                    if cell is None
                    else {
                        "status": cell.status,
                        "rows": cell.rows,
                        "state": cell.state.value,
                        "error_code": cell.error_code,
                        "unit": cell.unit_id,
                    }
                    for day, cell in zip(grid.days, row.cells, strict=True)
                },
            }
            for row in grid.sources
        ],
    }


def grid_table(project: str, grid: StatusGrid) -> Table:
    table = Table(
        title=f"Daily status of project {project} ({grid.days[0]} .. {grid.days[-1]})",
        caption="rows = rows loaded (inserted + updated)" if grid.sources else "no sources",
    )
    table.add_column("source")
    for day in grid.days:
        table.add_column(day.strftime("%a %m-%d"), justify="left")
    for row in grid.sources:
        table.add_row(row.source, *(_cell(cell) for cell in row.cells))
    return table


def _cell(cell: StatusCell | None) -> Text:
    if cell is None:
        return Text(NO_RUN, style="dim")
    style = next((s for statuses, s in _STYLES if cell.status in statuses), "bold red")
    text = Text(cell.status, style=style)
    text.append(f"\n{cell.rows} rows")
    if cell.error_code:
        text.append(f"\n{cell.error_code}", style="red")
    return text
