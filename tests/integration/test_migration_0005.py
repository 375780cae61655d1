"""Migration 0005 (idempotency claims): pending claims fit, and it goes down and up again."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from ingestd.store.database import MIGRATIONS, Store


def alembic(store: Store, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def nullable(store: Store) -> dict[str, bool]:
    columns = inspect(store.engine).get_columns("idempotent_responses")
    return {c["name"]: bool(c["nullable"]) for c in columns if c["name"] in ("status_code", "body")}


def test_status_and_body_are_nullable_at_head_and_not_below_it(database_url: str) -> None:
    store = Store(database_url)
    try:
        store.migrate()
        assert nullable(store) == {"status_code": True, "body": True}
        alembic(store, "downgrade", "0004")
        assert nullable(store) == {"status_code": False, "body": False}
        store.migrate()
        assert nullable(store) == {"status_code": True, "body": True}
    finally:
        store.dispose()
