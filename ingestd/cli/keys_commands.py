"""`ingestd keys`: API keys of a project."""

from __future__ import annotations

import typer

from ingestd.cli.context import console, state
from ingestd.control.access import KeyKind

app = typer.Typer(help="API keys (stored hashed; shown once).", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    project: str = typer.Option(..., "--project", "-p", help="Project the key belongs to."),
    kind: KeyKind = typer.Option(..., "--kind", help="console, ingest or read."),
) -> None:
    """Create a key; it is printed once, alone on the last line."""
    key = state(ctx).services().access.create_key(project, kind)
    console.print(f"Created a {kind.value} key for project {project}. It is shown only now:")
    print(key)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    project: str = typer.Option(..., "--project", "-p"),
) -> None:
    """Revoke every key of a project, and its OAuth clients and their tokens."""
    count = state(ctx).services().access.revoke_keys(project)
    console.print(f"Revoked {count} key(s) of {project}, and its OAuth clients and tokens.")
