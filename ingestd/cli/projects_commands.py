"""`ingestd projects`: projects and the directories each may read (docs/security/files.md)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ingestd.cli import json_output
from ingestd.cli.context import console, state, wants_json

app = typer.Typer(help="Projects and the local directories each may read.", no_args_is_help=True)


@app.command("list")
def list_projects(ctx: typer.Context) -> None:
    """Each project with its own files directory, its grants and INGESTD_FILE_ROOTS."""
    roots = state(ctx).services().file_access.roots()
    if wants_json(ctx):
        json_output.emit([json_output.project_roots(r) for r in roots])
        return
    table = Table("project", "own files", "granted", "INGESTD_FILE_ROOTS (every project)")
    for r in roots:
        table.add_row(
            r.project,
            str(r.own),
            "\n".join(str(p) for p in r.granted) or "-",
            "\n".join(str(p) for p in r.everyone) or "-",
        )
    console.print(table)


@app.command("grant")
def grant(
    ctx: typer.Context,
    project: str = typer.Argument(..., help="Project that may read the directory."),
    directory: Path = typer.Argument(..., help="Absolute path of an existing directory."),
) -> None:
    """Let a project's file sources and file:// blobs read a directory (and below)."""
    services = state(ctx).services()
    project_id = services.access.ensure_project(project)
    stored = services.file_access.grant(project_id, directory)
    console.print(f"Project {project} may now read {stored}.")


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    project: str = typer.Argument(..., help="Project that had the grant."),
    directory: Path = typer.Argument(..., help="The granted directory."),
) -> None:
    """Withdraw a grant; units that start afterwards can no longer read the directory."""
    services = state(ctx).services()
    removed = services.file_access.revoke(services.access.project_id(project), directory)
    console.print(f"Project {project} may no longer read {removed}.")
