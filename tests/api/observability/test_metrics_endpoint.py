"""GET /metrics: every counter moves by exactly what a load did, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.errors import ConnectionFailure
from ingestd.services import Services
from ingestd.settings import Settings
from ingestd.store.schema import Unit

DAY = "2024-03-01"
T1 = 1_709_251_200
LOOPBACK = ("127.0.0.1", 40123)
MAPPING = {"unit_id": "user", "event_name": "event", "timestamp": "ts"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class FixedClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Ops:
    client: TestClient
    services: Services
    key: str
    clock: FixedClock

    def scrape(self) -> Samples:
        response = self.client.get("/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }

    def statsig(self, method: str, path: str, body: object = None) -> None:
        response = self.client.request(
            method, path, json=body, headers={"STATSIG-API-KEY": self.key}
        )
        assert response.status_code == 200, response.text


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def open_ops(data_dir: Path, database_url: str | None, **settings: object) -> Iterator[Ops]:
    clock = FixedClock(datetime(2030, 1, 1, tzinfo=UTC))
    services = Services(
        Settings(data_dir=data_dir, database_url=database_url, **settings),  # type: ignore[arg-type]
        clock=clock,
    )
    key = services.access.create_key("acme", KeyKind.CONSOLE)
    with TestClient(create_app(services, background=False), client=LOOPBACK) as client:
        yield Ops(client, services, key, clock)
    services.close()


@pytest.fixture
def ops(tmp_path: Path, database_url: str) -> Iterator[Ops]:
    yield from open_ops(tmp_path / "data", database_url, statsig_mutations_per_10s=1000)


def file_source(ops: Ops, lines: list[str]) -> None:
    files = ops.services.settings.data_dir / "files" / "acme"
    folder = files / "events" / DAY
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.csv").write_text("\n".join(["user,event,ts", *lines]) + "\n")
    ops.statsig("POST", "/console/v1/ingestion/connection/file", {"root": str(files)})
    ops.statsig(
        "POST",
        "/console/v1/ingestion",
        {
            "type": "file",
            "dataset": "Events",
            "source_name": "web",
            "query": "events/{ds}/*.csv",
            "column_mapping": MAPPING,
        },
    )


def backfill(ops: Ops) -> None:
    ops.statsig(
        "POST",
        "/console/v1/ingestion/backfill",
        {"datestamp_start": DAY, "datestamp_end": DAY, "type": "file", "dataset": "Events"},
    )


def test_a_load_of_known_rows_moves_every_counter_by_exactly_that_much(ops: Ops) -> None:
    good = [f"u{i},view,{T1 + i}" for i in range(7)]
    bad = ["u8,view,not-a-time", "u9,view,soon"]
    duplicate = [good[0]]  # an exact duplicate within the load: rejected
    file_source(ops, good + bad + duplicate)
    before = ops.scrape()

    backfill(ops)
    queued = ops.scrape()
    assert value(queued, "ingestd_queue_depth") == 1
    assert delta(before, queued, "ingestd_units_total", state="enqueued") == 1
    assert value(queued, "ingestd_units_current", state="enqueued") == 1
    assert (
        delta(
            before,
            queued,
            "ingestd_rows_total",
            project="acme",
            table="statsig.events",
            outcome="read",
        )
        == 0
    )

    pool = ops.services.pool(workers=1)
    assert pool.run_once() and not pool.run_once()
    after = ops.scrape()

    rows = {"project": "acme", "table": "statsig.events"}
    expected = {"read": 10, "inserted": 7, "updated": 0, "rejected": 1, "errors": 2}
    for outcome, count in expected.items():
        assert delta(before, after, "ingestd_rows_total", **rows, outcome=outcome) == count, outcome
    for state in ("enqueued", "started", "downloading", "loading", "succeeded"):
        assert delta(before, after, "ingestd_units_total", state=state) == 1, state
    for state in ("retrying", "failed", "canceled", "skipped"):
        assert delta(before, after, "ingestd_units_total", state=state) == 0, state
    assert value(after, "ingestd_units_current", state="succeeded") == 1
    assert value(after, "ingestd_units_current", state="enqueued") == 0
    assert value(after, "ingestd_units_in_flight") == 0
    assert value(after, "ingestd_queue_depth") == 0
    assert value(after, "ingestd_oldest_lease_age_seconds") == 0
    assert delta(before, after, "ingestd_unit_duration_seconds_count", state="succeeded") == 1
    assert (
        delta(before, after, "ingestd_unit_duration_seconds_bucket", state="succeeded", le="+Inf")
        == 1
    )

    # The duration is the unit's own first claim to end, computed by the database.
    with ops.services.store.read() as session:
        unit = session.query(Unit).one()
        assert unit.started_at is not None and unit.ended_at is not None
        seconds = (unit.ended_at - unit.started_at).total_seconds()
    total = value(after, "ingestd_unit_duration_seconds_sum", state="succeeded")
    assert total == pytest.approx(seconds, abs=1e-3)
    for le in ("0.1", "1.0", "10.0", "60.0", "3600.0"):
        bucket = value(after, "ingestd_unit_duration_seconds_bucket", state="succeeded", le=le)
        assert bucket == (1 if seconds <= float(le) else 0), le

    # Only the backfill and the scrapes were HTTP requests in between, in their dialects.
    assert delta(before, after, "ingestd_http_requests_total", dialect="statsig", status="200") == 1
    assert delta(before, after, "ingestd_http_requests_total", dialect="other", status="200") == 2
    assert (
        delta(before, after, "ingestd_http_request_duration_seconds_count", dialect="statsig") == 1
    )


def test_a_second_table_and_project_are_counted_apart(ops: Ops) -> None:
    file_source(ops, [f"u{i},view,{T1 + i}" for i in range(3)])
    backfill(ops)
    other = ops.services.access.create_key("zeta", KeyKind.CONSOLE)
    zeta_files = ops.services.settings.data_dir / "files" / "zeta"
    (zeta_files / "events" / DAY).mkdir(parents=True)
    (zeta_files / "events" / DAY / "a.csv").write_text("user,event,ts\nz1,view,1709251200\n")
    headers = {"STATSIG-API-KEY": other}
    ops.client.post(
        "/console/v1/ingestion/connection/file", json={"root": str(zeta_files)}, headers=headers
    )
    ops.client.post(
        "/console/v1/ingestion",
        json={
            "type": "file",
            "dataset": "Events",
            "source_name": "web",
            "query": "events/{ds}/*.csv",
            "column_mapping": MAPPING,
        },
        headers=headers,
    )
    ops.client.post(
        "/console/v1/ingestion/backfill",
        json={"datestamp_start": DAY, "datestamp_end": DAY, "type": "file", "dataset": "Events"},
        headers=headers,
    )
    pool = ops.services.pool(workers=1)
    while pool.run_once():
        pass
    after = ops.scrape()
    table = "statsig.events"
    assert value(after, "ingestd_rows_total", project="acme", table=table, outcome="read") == 3
    assert value(after, "ingestd_rows_total", project="zeta", table=table, outcome="read") == 1
    assert value(after, "ingestd_units_total", state="succeeded") == 2


def test_leases_and_backoff_show_in_flight_queue_and_lease_age(ops: Ops) -> None:
    file_source(ops, [f"u{i},view,{T1 + i}" for i in range(2)])
    backfill(ops)
    lease = ops.services.settings.lease_seconds
    claim = ops.services.runs.claim_next("w-test", lease)
    assert claim is not None
    with ops.services.store.read() as session:
        unit = session.get(Unit, claim.unit_id)
        assert unit is not None and unit.lease_expires_at is not None
        expires = unit.lease_expires_at
    # 42 s after the lease was granted (its expiry less the lease), by the injected clock.
    ops.clock.now = expires - timedelta(seconds=lease) + timedelta(seconds=42)
    held = ops.scrape()
    assert value(held, "ingestd_units_in_flight") == 1
    assert value(held, "ingestd_units_current", state="started") == 1
    assert value(held, "ingestd_queue_depth") == 0
    assert value(held, "ingestd_oldest_lease_age_seconds") == pytest.approx(42.0, abs=1e-3)

    ops.services.runs.fail(claim.unit_id, "w-test", ConnectionFailure("the share went away"))
    with ops.services.store.read() as session:
        unit = session.get(Unit, claim.unit_id)
        assert unit is not None and unit.next_attempt_at is not None
        due = unit.next_attempt_at
    ops.clock.now = due - timedelta(seconds=1)
    waiting = ops.scrape()
    assert value(waiting, "ingestd_units_current", state="retrying") == 1
    assert value(waiting, "ingestd_units_total", state="retrying") == 1
    assert value(waiting, "ingestd_queue_depth") == 0  # its backoff has not passed
    assert value(waiting, "ingestd_units_in_flight") == 0
    assert value(waiting, "ingestd_oldest_lease_age_seconds") == 0
    ops.clock.now = due + timedelta(seconds=1)
    assert value(ops.scrape(), "ingestd_queue_depth") == 1


def test_http_requests_are_counted_by_dialect_and_status(tmp_path: Path) -> None:
    for ops in open_ops(tmp_path / "data", None):
        for path in (
            "/console/v1/nope",
            "/api/ingest/nope",
            "/v1/rest/nope",
            "/ingestd/v1/nope",
            "/nope",
        ):
            assert ops.client.get(path).status_code == 404
        assert ops.client.get("/healthz").status_code == 200
        samples = ops.scrape()
    for dialect in ("statsig", "amperity", "kusto", "native", "other"):
        count = value(samples, "ingestd_http_requests_total", dialect=dialect, status="404")
        assert count == 1, dialect
    assert value(samples, "ingestd_http_requests_total", dialect="other", status="200") == 1


def test_metrics_answer_loopback_only_unless_a_token_is_set(tmp_path: Path) -> None:
    services = Services(Settings(data_dir=tmp_path / "open"))
    key = services.access.create_key("acme", KeyKind.CONSOLE)
    try:
        app = create_app(services, background=False)
        with TestClient(app, client=("203.0.113.9", 5555)) as remote:
            refused = remote.get("/metrics", headers={"Authorization": f"Bearer {key}"})
        with TestClient(app, client=("::1", 5555)) as local:
            served = local.get("/metrics")
    finally:
        services.close()
    assert refused.status_code == 403 and "INGESTD_METRICS_TOKEN" in refused.json()["message"]
    assert "acme" not in refused.text
    assert served.status_code == 200 and "ingestd_queue_depth" in served.text

    token = "metrics-token-that-is-long-enough"
    services = Services(Settings(data_dir=tmp_path / "token", metrics_token=token))  # type: ignore[arg-type]
    keys = [services.access.create_key("acme", kind) for kind in KeyKind]
    try:
        with TestClient(create_app(services, background=False), client=LOOPBACK) as client:
            anonymous = client.get("/metrics")
            wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
            project_keys = [
                client.get("/metrics", headers={"Authorization": f"Bearer {k}"}) for k in keys
            ]
            right = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    finally:
        services.close()
    for response in (anonymous, wrong, *project_keys):
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert "ingestd_" not in response.text
    assert right.status_code == 200 and "ingestd_units_total" in right.text
