"""Running query sources in tests: one source of a kind, run for one day to its end, and the
servers' connection settings (MariaDB is skipped, or failed under CI, when unreachable)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingestd.dataplane.contract import CancelToken
from ingestd.domain.connections import connection_body
from ingestd.domain.mapping import Mapping, identity_mapping
from ingestd.domain.states import TERMINAL_UNIT_STATES
from ingestd.domain.tables import TableSpec
from ingestd.services import Services
from tests.conftest import require_service

DAY = date(2024, 3, 1)
FAKESNOW_WARNINGS = pytest.mark.filterwarnings(
    # fakesnow 0.12 on DuckDB 2.0 (its own code, in its server thread)
    "ignore:Arrow output on a DB-API result:UserWarning"
)
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "database": "test"}


def run_query_source(
    svc: Services,
    kind: str,
    config: dict[str, Any],
    query: str,
    table: TableSpec,
    *,
    mapping: Mapping | None = None,
    secrets: dict[str, Any] | None = None,
) -> Any:
    """Create table, connection and source, run the source for DAY inline; the ended unit."""
    project_id = svc.access.ensure_project("acme")
    svc.catalog.create_table(project_id, table, merge=True)
    svc.catalog.create_connection(
        project_id, kind, connection_body(kind, config, secrets), replace=True
    )
    svc.catalog.create_source(
        project_id,
        name="src",
        table=table.qualified_name,
        connection=kind,
        query=query,
        mapping=mapping or identity_mapping(table),
    )
    run = svc.runs.start_source_run(project_id, ["src"], [DAY], trigger="manual")
    pool = svc.pool(workers=1)
    for _ in range(1000):  # a retried unit waits out its (short) backoff
        unit = svc.runs.get_run(project_id, run.id).units[0]
        if unit.state in TERMINAL_UNIT_STATES:
            return unit
        if not pool.run_once():
            time.sleep(0.01)
    raise AssertionError("the unit did not end")


def mariadb(statements: list[str]) -> None:
    """Run set-up statements on the local MariaDB (skip or fail when it is unreachable)."""
    import pymysql

    try:
        conn = pymysql.connect(**MARIADB, connect_timeout=3, autocommit=True)
    except pymysql.err.OperationalError as exc:
        require_service("MariaDB", str(exc))
    with conn, conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def duckdb_file(path: Path, statements: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        for statement in statements:
            con.execute(statement)
    return path


@contextmanager
def canceled_after(seconds: float) -> Iterator[tuple[CancelToken, Callable[[], float]]]:
    """A token that another thread cancels after ``seconds``, and a clock of the time since."""
    token = CancelToken()
    timer = threading.Timer(seconds, token.cancel)
    started = time.monotonic()
    timer.start()
    try:
        yield token, lambda: time.monotonic() - started
    finally:
        timer.cancel()


@contextmanager
def fakesnow_server() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """fakesnow's HTTP server (Snowflake's REST protocol over DuckDB) for the real connector, in
    a thread: the connection's settings and secrets. Data lives in database DB1, schema S1.

    Started as ``fakesnow.server()`` does; that helper cannot be called twice in a process
    (importing its ``fakesnow.server`` module replaces the function on the package)."""
    import importlib
    import socket

    import uvicorn

    app = importlib.import_module("fakesnow.server").app
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="fakesnow", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "fakesnow did not start"
        time.sleep(0.05)
    settings: dict[str, Any] = {
        "account": "fakesnow",
        "user": "fake",
        "host": "127.0.0.1",
        "port": port,
        "protocol": "http",
        "database": "DB1",
        "schema": "S1",
        "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        "login_timeout": 10,
        # fakesnow answers the first statements slowly; a short timeout would resend them.
        "network_timeout": 30,
    }
    try:
        yield settings, {"password": "snow"}
    finally:
        server.should_exit = True
        thread.join(10)


def snowflake_run(settings: dict[str, Any], secrets: dict[str, Any], statements: list[str]) -> None:
    import snowflake.connector

    with snowflake.connector.connect(**settings, **secrets) as conn, conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
