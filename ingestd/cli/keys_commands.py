"""`ingestd keys`: API keys of a project (create, list by prefix, revoke)."""

from __future__ import annotations

import typer
from rich.table import Table

from ingestd.cli import json_output
from ingestd.cli.context import console, state, wants_json
from ingestd.cli.render import when
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


@app.command("list")
def list_keys(
    ctx: typer.Context,
    project: str | None = typer.Option(
        None, "--project", "-p", help="Only this project's keys (default: every project's)."
    ),
    revoked: bool = typer.Option(False, "--revoked", help="Include revoked keys."),
) -> None:
    """Keys by prefix, kind, creation and last use; never a whole key (it is not stored)."""
    keys = state(ctx).services().access.list_keys(project, revoked=revoked)
    if wants_json(ctx):
        json_output.emit([json_output.key(k) for k in keys])
        return
    table = Table(title="API keys" + (f" of {project}" if project else ""))
    table.add_column("prefix", no_wrap=True)
    for column in ("project", "kind", "created", "last used"):
        table.add_column(column, overflow="fold")
    if revoked:
        table.add_column("revoked", overflow="fold")
    for k in keys:
        row = [
            k.prefix,
            k.project,
            k.kind.value,
            when(k.created_at),
            when(k.last_used_at) or "never",
        ]
        table.add_row(*row, *([when(k.revoked_at)] if revoked else []))
    console.print(table)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    prefix: str | None = typer.Argument(
        None, help="The prefix of one key (from `ingestd keys list`): revokes that key alone."
    ),
    project: str | None = typer.Option(
        None,
        "--project",
        "-p",
        help="Without PREFIX: revoke every key of the project, and its OAuth clients and "
        "their tokens. With PREFIX: look for the key in this project only.",
    ),
) -> None:
    """Revoke one key by its prefix, or every credential of a project (--project alone)."""
    access = state(ctx).services().access
    if prefix is not None:
        key = access.revoke_key(prefix, project)
        console.print(f"Revoked the {key.kind.value} key {key.prefix} of project {key.project}.")
        return
    if project is None:
        raise typer.BadParameter(
            "give the PREFIX of a key, or --project to revoke all of a project's keys",
            param_hint="PREFIX",
        )
    count = access.revoke_keys(project)
    console.print(f"Revoked {count} key(s) of {project}, and its OAuth clients and tokens.")
