"""Alembic environment: migrations run on the connection ``Store.migrate`` passes in."""

from __future__ import annotations

from alembic import context

from ingestd.store.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ingestd (Store.migrate), not the alembic CLI")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
