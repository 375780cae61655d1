"""The metadata store and the services on it, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from ingestd.control.access import KeyKind, Permission
from ingestd.domain.connections import connection_body
from ingestd.domain.datasets import DATASET_TABLES
from ingestd.domain.states import RunState, UnitState
from ingestd.errors import (
    Conflict,
    ConnectionFailure,
    FailureClass,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    NotFound,
    SourceNotFound,
    Unauthenticated,
)
from ingestd.services import Services
from ingestd.store.database import Store
from ingestd.store.schema import ApiKey, StatusEvent
from tests.conftest import make_services

DAY = date(2024, 3, 1)


@pytest.fixture
def svc(tmp_path: Path, database_url: str) -> Services:
    services = make_services(tmp_path / "data", database_url, retry_base_seconds=0.01)
    yield services  # type: ignore[misc]
    services.close()


def _source(svc: Services, project: str = "acme", name: str = "events") -> int:
    project_id = svc.access.ensure_project(project)
    svc.catalog.create_table(project_id, DATASET_TABLES["events"], merge=True)
    svc.catalog.create_source(
        project_id,
        name=name,
        table="statsig.events",
        path_template="/nonexistent/{ds}.csv",
    )
    return project_id


def test_migrations_apply_to_an_empty_database_and_are_idempotent(database_url: str) -> None:
    store = Store(database_url)
    store.migrate()
    store.migrate()
    names = set(inspect(store.engine).get_table_names())
    assert {
        "projects",
        "api_keys",
        "connections",
        "tables",
        "sources",
        "runs",
        "units",
        "unit_files",
        "status_history",
        "project_file_grants",
        "kusto_queue_messages",
        "kusto_queued_blobs",
        "source_days",
        "stored_payloads",
        "payload_chunks",
        "alembic_version",
    } <= names
    with store.read() as session:
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0017"
    assert "last_used_at" in {c["name"] for c in inspect(store.engine).get_columns("api_keys")}
    store.dispose()


def test_keys_are_stored_hashed_and_scoped(svc: Services) -> None:
    key = svc.access.create_key("acme", KeyKind.READ)
    principal = svc.access.authenticate(key)
    assert (principal.project, principal.kind) == ("acme", KeyKind.READ)
    with svc.store.read() as session:
        stored = session.scalars(select(ApiKey)).all()
    assert len(stored) == 1 and key not in (stored[0].key_hash, stored[0].prefix)
    principal.require(Permission.READ)
    with pytest.raises(Forbidden):
        principal.require(Permission.INGEST)
    with pytest.raises(Unauthenticated):
        svc.access.authenticate(key + "x")
    with pytest.raises(Unauthenticated):
        svc.access.authenticate(None)
    svc.access.revoke_keys("acme")
    with pytest.raises(Unauthenticated):
        svc.access.authenticate(key)


def test_connection_secrets_are_kept_apart_from_views(svc: Services, tmp_path: Path) -> None:
    project_id = svc.access.ensure_project("acme")
    root = svc.settings.data_dir / "files" / "acme"
    view = svc.catalog.create_connection(
        # A file connection has no secret fields: a Snowflake one (its `token` is secret).
        project_id,
        "files",
        connection_body("snowflake", {"account": "acct", "user": "u"}, {"token": "s3cret"}),
    )
    assert view.has_secrets and "s3cret" not in repr(view)
    assert svc.catalog.connection_secrets(project_id, "files") == {"token": "s3cret"}
    with pytest.raises(Conflict):
        svc.catalog.create_connection(
            project_id, "files", connection_body("file", {"root": str(root)})
        )
    with pytest.raises(InvalidInput, match="outside"):
        svc.catalog.create_connection(project_id, "etc", connection_body("file", {"root": "/etc"}))


def test_a_rejected_source_changes_nothing(svc: Services) -> None:
    project_id = _source(svc)
    with pytest.raises(Conflict):
        svc.catalog.create_source(
            project_id, name="events", table="statsig.events", path_template="/x/{ds}.csv"
        )
    with pytest.raises(NotFound):
        svc.catalog.create_source(
            project_id, name="other", table="statsig.nope", path_template="/x/{ds}.csv"
        )
    assert [s.name for s in svc.catalog.list_sources(project_id)] == ["events"]


def test_runs_are_idempotent_and_units_cover_source_by_day(svc: Services) -> None:
    project_id = _source(svc)
    days = [DAY, DAY + timedelta(days=1)]
    first = svc.runs.start_source_run(
        project_id, ["events"], days, trigger="backfill", idempotency_key="k1"
    )
    again = svc.runs.start_source_run(
        project_id, ["events"], days, trigger="backfill", idempotency_key="k1"
    )
    assert again.id == first.id
    assert [(u.source_name, u.day) for u in first.units] == [
        ("events", DAY),
        ("events", DAY + timedelta(days=1)),
    ]
    assert first.state is RunState.ENQUEUED
    runs, total = svc.runs.list_runs(project_id)
    assert total == 1 and runs[0].id == first.id
    # Another project sees nothing of it.
    other = svc.access.ensure_project("other")
    with pytest.raises(NotFound):
        svc.runs.get_run(other, first.id)


def test_concurrent_workers_never_claim_the_same_unit(svc: Services) -> None:
    project_id = _source(svc)
    days = [DAY + timedelta(days=i) for i in range(12)]
    svc.runs.start_source_run(project_id, ["events"], days, trigger="backfill")
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (claim := svc.runs.claim_next(name, 60)) is not None:
            with lock:
                claimed.append(claim.unit_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 12 and len(set(claimed)) == 12


def test_transient_failures_retry_with_backoff_then_end_exhausted(svc: Services) -> None:
    project_id = _source(svc)
    run = svc.runs.start_source_run(project_id, ["events"], [DAY], trigger="manual")
    unit_id = run.units[0].id
    delays = []
    for attempt in range(1, svc.retry.max_attempts + 1):
        claim = None
        deadline = time.monotonic() + 5
        while claim is None and time.monotonic() < deadline:
            claim = svc.runs.claim_next("w", 60)
        assert claim is not None and claim.attempt == attempt
        delays.append(svc.runs.fail(unit_id, "w", ConnectionFailure("reset by peer")))
    assert all(d is not None for d in delays[:-1]) and delays[-1] is None
    unit = svc.runs.get_run(project_id, run.id).units[0]
    assert unit.state is UnitState.FAILED
    assert unit.failure_status is FailureClass.EXHAUSTED and unit.error_code == "CONNECTION_ERROR"
    states = [h.state for h in unit.history]
    assert states.count("retrying") == svc.retry.max_attempts - 1


def test_permanent_failures_are_not_retried(svc: Services) -> None:
    project_id = _source(svc)
    run = svc.runs.start_source_run(project_id, ["events"], [DAY], trigger="manual")
    claim = svc.runs.claim_next("w", 60)
    assert claim is not None
    assert svc.runs.fail(claim.unit_id, "w", SourceNotFound("no file")) is None
    view = svc.runs.get_run(project_id, run.id)
    assert view.state is RunState.FAILED
    assert view.units[0].failure_status is FailureClass.PERMANENT
    assert svc.runs.claim_next("w", 60) is None


def test_an_expired_lease_is_picked_up_again_by_another_worker(svc: Services) -> None:
    project_id = _source(svc)
    run = svc.runs.start_source_run(project_id, ["events"], [DAY], trigger="manual")
    first = svc.runs.claim_next("dead-worker", 0.2)
    assert first is not None
    assert svc.runs.claim_next("other", 60) is None  # leased: not claimable yet
    time.sleep(0.3)
    second = svc.runs.claim_next("other", 60)
    assert second is not None and second.unit_id == first.unit_id and second.attempt == 2
    with pytest.raises(IllegalTransition):
        svc.runs.advance(first.unit_id, "dead-worker", UnitState.LOADING)
    history = [h.state for h in svc.runs.get_run(project_id, run.id).units[0].history]
    assert history == ["enqueued", "started", "retrying", "started"]


def test_cancel_run_cancels_waiting_units_and_history_is_append_only(svc: Services) -> None:
    project_id = _source(svc)
    run = svc.runs.start_source_run(
        project_id, ["events"], [DAY, DAY + timedelta(days=1)], trigger="manual"
    )
    with svc.store.read() as session:
        before = session.scalar(select(StatusEvent.id).order_by(StatusEvent.id))
    view = svc.runs.cancel_run(project_id, run.id)
    assert view.state is RunState.CANCELED
    assert {u.state for u in view.units} == {UnitState.CANCELED}
    with pytest.raises(IllegalTransition):
        svc.runs.cancel_unit(project_id, view.units[0].id)
    with svc.store.read() as session:
        assert session.scalar(select(StatusEvent.id).order_by(StatusEvent.id)) == before
    assert svc.runs.claim_next("w", 60) is None


def test_postgres_reads_open_no_transaction_and_streaming_reads_do(postgres_url: str) -> None:
    """A read is autocommit on PostgreSQL (no BEGIN and ROLLBACK round trips); a streaming
    read is in a transaction, which a server-side cursor (``yield_per``) needs."""
    import psycopg

    store = Store(postgres_url)
    try:
        with store.read() as session:
            session.execute(select(1)).all()
            driver = session.connection().connection.driver_connection
            assert isinstance(driver, psycopg.Connection)
            assert driver.info.transaction_status is psycopg.pq.TransactionStatus.IDLE
        with store.read(streaming=True) as session:
            rows = session.execute(
                select(text("n"))
                .select_from(text("generate_series(1, 2500) AS n"))
                .execution_options(yield_per=1000)
            )
            assert sum(1 for _ in rows) == 2500
            driver = session.connection().connection.driver_connection
            assert isinstance(driver, psycopg.Connection)
            assert driver.info.transaction_status is psycopg.pq.TransactionStatus.INTRANS
    finally:
        store.dispose()
