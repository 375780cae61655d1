"""`ingestd secrets`: the keys that encrypt connection secrets and blob URL credentials."""

from __future__ import annotations

import typer

from ingestd.cli.context import console, state
from ingestd.control.secret_keys import new_key, rotate_key

app = typer.Typer(help="Keys that encrypt secrets at rest.", no_args_is_help=True)


@app.command("rotate-key")
def rotate(ctx: typer.Context) -> None:
    """Re-encrypt every stored secret under a new key. Stop ingestd (serve and workers) first:
    a running process keeps the old key in memory."""
    cli = state(ctx)
    cli.close()  # this command opens the store with the new key itself
    done = rotate_key(cli.settings())
    console.print(
        f"Re-encrypted the secrets of {done.connections} connection(s) and "
        f"{done.blob_units} blob unit(s) under the new key."
    )
    if done.key_file:
        console.print("The key file holds only the new key now.")
    else:
        console.print("Every row uses the first key of INGESTD_SECRET_KEY; remove the others.")


@app.command("generate-key")
def generate() -> None:
    """Print a new key (for INGESTD_SECRET_KEY), alone on the last line."""
    console.print(new_key(), soft_wrap=True, highlight=False)
