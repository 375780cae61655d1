"""Processes of a cluster start together on one fresh PostgreSQL database: every one of them
migrates it, and every one succeeds (one applies the migrations, the others wait and find
nothing left to do)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MIGRATE = """
import sys
from ingestd.store.database import Store
store = Store(sys.argv[1])
store.migrate()
store.dispose()
"""


def test_four_processes_migrating_one_fresh_database_at_once_all_succeed(
    postgres_url: str,
) -> None:
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, postgres_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [(p.wait(120), p.communicate()[1]) for p in processes]
    assert [code for code, _ in outcomes] == [0, 0, 0, 0], outcomes
    with engine.connect() as conn:
        (head,) = conn.execute(text("SELECT version_num FROM alembic_version")).one()
    engine.dispose()
    assert head == "0017"
