"""`ingestd oauth`: client credentials for the Amperity token endpoint."""

from __future__ import annotations

import typer

from ingestd.cli.context import console, state
from ingestd.control.access import KeyKind

app = typer.Typer(
    help="OAuth clients for POST /api/v0/oauth2/token (secrets stored hashed; shown once).",
    no_args_is_help=True,
)


@app.command("create-client")
def create_client(
    ctx: typer.Context,
    project: str = typer.Option(..., "--project", "-p", help="Project (Amperity tenant)."),
    kind: KeyKind = typer.Option(..., "--kind", help="console, ingest or read."),
) -> None:
    """Create a client; its id is printed, then its secret alone on the last line."""
    client = state(ctx).services().oauth.create_client(project, kind)
    console.print(
        f"Created a {kind.value} OAuth client for project {project}. Its secret is shown only now."
    )
    print(f"client_id: {client.client_id}")
    print(client.client_secret)


@app.command("revoke-client")
def revoke_client(ctx: typer.Context, client_id: str) -> None:
    """Revoke a client: its secret and its tokens stop working at once."""
    state(ctx).services().oauth.revoke_client(client_id)
    console.print(f"Revoked OAuth client {client_id}.")
