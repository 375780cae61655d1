"""Status and run lists filter and page in SQL: page edges, combined filters and tenancy, on
SQLite and PostgreSQL metadata, checked against a reference computed from every unit."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Column, Integer, MetaData, String, Table, event, select, update

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.control.services import Services
from ingestd.domain.error_codes import STATSIG_MAPPED_CODES, STATSIG_WRITE_DATASETS
from ingestd.domain.projections import STATSIG_DAILY_STATUSES, statsig_daily_status
from ingestd.domain.states import UnitState
from ingestd.store.schema import Run, Source, Unit
from ingestd.store.statsig_status import statsig_status_sql
from tests.conftest import make_services

DAY0 = date(2024, 3, 1)
DAYS = [DAY0 + timedelta(days=i) for i in range(6)]
EVENTS = {"unit_id": "user", "event_name": "event", "timestamp": "ts", "ids": {"userID": "user"}}
METRICS = {
    "unit_id": "user",
    "id_type": "id_type",
    "dateid": "ds",
    "metric_name": "name",
    "metric_value": "value",
}
# (state, rows inserted, error code): cycled over the units so every page mixes outcomes.
OUTCOMES = [
    (UnitState.SUCCEEDED, 5, None),
    (UnitState.SUCCEEDED, 0, None),
    (UnitState.FAILED, 0, "SOURCE_NOT_FOUND"),
    (UnitState.FAILED, 0, "DESTINATION_ERROR"),
    (UnitState.ENQUEUED, 0, None),
    (UnitState.FAILED, 0, "AUTHENTICATION_ERROR"),
    (UnitState.RETRYING, 0, "CONNECTION_ERROR"),
    (UnitState.CANCELED, 0, None),
]


@dataclass
class World:
    client: TestClient
    services: Services
    acme: str
    globex: str

    def get(self, path: str, key: str, params: Any = None) -> Any:
        answer = self.client.get(path, params=params, headers={"STATSIG-API-KEY": key})
        assert answer.status_code == 200, answer.text
        return answer.json()


def _sources(world_client: TestClient, key: str, root: Path) -> None:
    headers = {"STATSIG-API-KEY": key}
    root.mkdir(parents=True, exist_ok=True)
    answer = world_client.post(
        "/console/v1/ingestion/connection/file", json={"root": str(root)}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    for name, dataset, mapping in (
        ("alpha", "Events", EVENTS),
        ("beta", "Metrics", METRICS),
        ("gamma", "Events", EVENTS),
    ):
        body = {
            "type": "file",
            "dataset": dataset,
            "source_name": name,
            "query": f"{name}/{{ds}}/*.csv",
            "column_mapping": mapping,
        }
        answer = world_client.post("/console/v1/ingestion", json=body, headers=headers)
        assert answer.status_code == 200, answer.text


def _runs(services: Services, project: str, shift: int) -> None:
    """A backfill of every source and day, then a scheduled rerun of some (newer units)."""
    project_id = services.access.project_id(project)
    runs = services.runs
    runs.start_source_run(project_id, ["alpha", "beta", "gamma"], DAYS, trigger="backfill")
    runs.start_source_run(project_id, ["alpha", "gamma"], DAYS[1:4], trigger="scheduled")
    runs.start_source_run(project_id, ["beta"], DAYS[2:3], trigger="backfill")
    with services.store.write() as session:
        ids = session.scalars(
            select(Unit.id)
            .where(Unit.project_id == project_id)
            .order_by(Unit.created_at, Unit.position)
        ).all()
        for i, unit_id in enumerate(ids):
            state, rows, code = OUTCOMES[(i + shift) % len(OUTCOMES)]
            session.execute(
                update(Unit)
                .where(Unit.id == unit_id)
                .values(
                    state=state.value,
                    inserted=rows,
                    error_code=code,
                    error_message="boom" if code else None,
                )
            )


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    services = make_services(
        tmp_path / "data",
        database_url,
        statsig_mutations_per_10s=1000,
        statsig_mutations_per_15m=1000,
    )
    acme = services.access.create_key("acme", KeyKind.CONSOLE)
    globex = services.access.create_key("globex", KeyKind.CONSOLE)
    with TestClient(create_app(services, background=False)) as client:
        _sources(client, acme, services.settings.data_dir / "files" / "acme")
        _sources(client, globex, services.settings.data_dir / "files" / "globex")
        _runs(services, "acme", 0)
        _runs(services, "globex", 3)
        yield World(client, services, acme, globex)
    services.close()


def reference(services: Services, project: str) -> list[dict[str, Any]]:
    """What /ingestion/status lists, computed the slow way: every unit of the project read,
    the newest of each source and day kept, ordered by day then source."""
    project_id = services.access.project_id(project)
    with services.store.read() as session:
        datasets = dict(
            session.execute(
                select(Source.name, Source.dataset).where(Source.project_id == project_id)
            ).all()
        )
        rows = session.execute(
            select(Unit, Run.trigger)
            .join(Run, Run.id == Unit.run_id)
            .where(Unit.project_id == project_id)
            .order_by(Unit.created_at, Unit.position)
        ).all()
    newest: dict[tuple[str, date], tuple[Unit, str]] = {}
    for unit, trigger in rows:
        assert unit.source_name is not None and unit.day is not None
        newest[(unit.source_name, unit.day)] = (unit, trigger)
    out = []
    for (name, day), (unit, trigger) in sorted(newest.items(), key=lambda i: (i[0][1], i[0][0])):
        status = statsig_daily_status(
            UnitState(unit.state),
            trigger=trigger,
            rows_loaded=unit.inserted + unit.updated,
            error_code=unit.error_code,
            dataset=datasets[name] or "",
        )
        out.append(
            {
                "ds": f"{day.isoformat()}T00:00:00.000Z",
                "source_name": name,
                "status": status,
                "rowCount": unit.inserted + unit.updated,
                "dataset": datasets[name],
            }
        )
    return out


def _brief(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, int]]:
    return [(r["ds"], r["source_name"], r["status"], r["rowCount"]) for r in rows]


def _all_pages(world: World, key: str, params: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Follow nextPage from page 1: the rows of every page, and every page's pagination."""
    rows: list[Any] = []
    pages: list[Any] = []
    path: str | None = "/console/v1/ingestion/status"
    query: Any = params
    while path is not None:
        body = world.get(path, key, query)
        rows += body["data"]
        pages.append(body["pagination"])
        path, query = body["pagination"]["nextPage"], None
        assert len(pages) < 100
    return rows, pages


@pytest.mark.parametrize("limit", [1, 4, 7, 100])
def test_status_pages_cover_every_cell_once_in_order(world: World, limit: int) -> None:
    expected = reference(world.services, "acme")
    assert len(expected) == 3 * len(DAYS)
    params = {"startDate": DAYS[0].isoformat(), "endDate": DAYS[-1].isoformat(), "limit": limit}
    rows, pages = _all_pages(world, world.acme, params)
    assert _brief(rows) == _brief(expected)
    assert len(pages) == -(-len(expected) // limit)
    assert all(p["totalItems"] == len(expected) for p in pages)
    assert pages[-1]["nextPage"] is None and pages[0]["previousPage"] is None
    assert all(len(pages) == 1 or p["itemsPerPage"] == limit for p in pages)


def test_a_page_past_the_last_is_empty_and_keeps_the_total(world: World) -> None:
    expected = reference(world.services, "acme")
    params = {"startDate": DAYS[0].isoformat(), "endDate": DAYS[-1].isoformat(), "limit": 5}
    last = -(-len(expected) // 5)
    final = world.get("/console/v1/ingestion/status", world.acme, {**params, "page": last})
    assert _brief(final["data"]) == _brief(expected[(last - 1) * 5 :])
    assert final["pagination"]["nextPage"] is None
    deep = world.get("/console/v1/ingestion/status", world.acme, {**params, "page": last + 50})
    assert deep["data"] == [] and deep["pagination"]["totalItems"] == len(expected)
    assert deep["pagination"]["nextPage"] is None
    assert deep["pagination"]["previousPage"].endswith(f"page={last + 49}")


def test_filters_combine_in_sql(world: World) -> None:
    expected = reference(world.services, "acme")
    start, end = DAYS[1], DAYS[4]
    within = [r for r in expected if start.isoformat() <= r["ds"][:10] <= end.isoformat()]
    wanted = {"LOADED_EMPTY_DATA", "SETUP_ERROR", "INTERNAL_WRITE_ERROR_EVENTS", "ERROR"}
    cases: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
        ({"source": "alpha"}, [r for r in within if r["source_name"] == "alpha"]),
        ({"dataset": "Events"}, [r for r in within if r["dataset"] == "events"]),
        ({"dataset": "Metrics"}, [r for r in within if r["dataset"] == "metrics"]),
        (
            {"dataset": "Events", "statuses": ",".join(sorted(wanted))},
            [r for r in within if r["dataset"] == "events" and r["status"] in wanted],
        ),
        (
            {"source": "gamma", "status": "IMPORT_SUCCESSFUL", "statuses": "ERROR"},
            [
                r
                for r in within
                if r["source_name"] == "gamma" and r["status"] in {"IMPORT_SUCCESSFUL", "ERROR"}
            ],
        ),
        ({"source": "alpha", "dataset": "Metrics"}, []),
        ({"source": "nobody"}, []),
        # %Other: any status not published; ingestd emits none, so it alone matches nothing.
        ({"statuses": "%Other"}, []),
        (
            {"statuses": "%Other,IMPORT_RESCHEDULED"},
            [r for r in within if r["status"] == "IMPORT_RESCHEDULED"],
        ),
    ]
    for params, rows in cases:
        assert rows or "nobody" in str(params) or "Metrics" in str(params) or "Other" in str(params)
        query = {"startDate": start.isoformat(), "endDate": end.isoformat(), "limit": 2, **params}
        got, pages = _all_pages(world, world.acme, query)
        assert _brief(got) == _brief(rows), params
        assert pages[0]["totalItems"] == len(rows), params
    assert any(r["status"] == "INTERNAL_WRITE_ERROR_EVENTS" for r in within)


def test_another_projects_rows_are_never_listed_or_counted(world: World) -> None:
    params = {"startDate": DAYS[0].isoformat(), "endDate": DAYS[-1].isoformat(), "limit": 100}
    acme = world.get("/console/v1/ingestion/status", world.acme, params)
    globex = world.get("/console/v1/ingestion/status", world.globex, params)
    assert _brief(acme["data"]) == _brief(reference(world.services, "acme"))
    assert _brief(globex["data"]) == _brief(reference(world.services, "globex"))
    # The same sources and days, other outcomes: a leak would show in the statuses.
    assert _brief(acme["data"]) != _brief(globex["data"])
    assert acme["pagination"]["totalItems"] == globex["pagination"]["totalItems"] == 18
    reader = world.services.access.create_key("initech", KeyKind.CONSOLE)
    empty = world.get("/console/v1/ingestion/status", reader, params)
    assert empty["data"] == [] and empty["pagination"]["totalItems"] == 0
    runs = world.get("/console/v1/ingestion/runs", reader, {"limit": 100})
    assert runs["data"] == [] and runs["pagination"]["totalItems"] == 0


def test_the_native_grid_and_ingestd_status_read_the_same_cells(world: World) -> None:
    expected = {(r["source_name"], r["ds"][:10]): r for r in reference(world.services, "acme")}
    project_id = world.services.access.project_id("acme")
    grid = world.services.status_grids.grid(project_id, end=DAYS[-1], days=len(DAYS))
    seen = {
        (row.source, cell.day.isoformat()): cell.status
        for row in grid.sources
        for cell in row.cells
        if cell is not None
    }
    assert seen == {key: r["status"] for key, r in expected.items()}
    native = world.client.get(
        "/ingestd/v1/status",
        params={"start": DAYS[0].isoformat(), "end": DAYS[-1].isoformat(), "limit": 2},
        headers={"Authorization": f"Bearer {world.acme}"},
    )
    assert native.status_code == 200, native.text
    body = native.json()
    assert [row["source"] for row in body["data"]] == ["alpha", "beta"]
    cells = {(row["source"], d["day"]) for row in body["data"] for d in row["days"]}
    assert cells == {key for key in expected if key[0] in ("alpha", "beta")}
    assert body["cursor"] is not None


def test_a_runs_page_takes_the_same_number_of_queries_whatever_its_size(world: World) -> None:
    project_id = world.services.access.project_id("acme")
    for day in DAYS:
        world.services.runs.start_source_run(project_id, ["alpha"], [day], trigger="backfill")
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = world.services.store.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        sizes = {}
        for limit in (1, 9):
            statements.clear()
            body = world.get("/console/v1/ingestion/runs", world.acme, {"limit": limit})
            assert len(body["data"]) == limit
            sizes[limit] = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sizes[1] == sizes[9], sizes
    full = world.get("/console/v1/ingestion/runs", world.acme, {"limit": 100})
    assert full["pagination"]["totalItems"] == 3 + len(DAYS)
    one = full["data"][0]
    read = world.get(f"/console/v1/ingestion/runs/{one['runID']}", world.acme)["data"]
    assert one == read  # the list shows what reading the run shows, history included


def test_the_status_sql_agrees_with_the_projection(tmp_path: Path, database_url: str) -> None:
    """Every input that can change a status, through the SQL expression and the function."""
    services = make_services(tmp_path / "data", database_url)
    codes = [None, "NOT_A_CODE", *sorted(STATSIG_MAPPED_CODES)]
    datasets = [None, "", "Events", *STATSIG_WRITE_DATASETS, "entity_properties"]
    combos = list(
        itertools.product(
            list(UnitState), ("backfill", "scheduled", "api"), (0, 3), codes, datasets
        )
    )
    inputs = Table(
        "status_inputs",
        MetaData(),
        Column("n", Integer, primary_key=True),
        Column("state", String(16)),
        Column("trigger", String(32)),
        Column("rows_loaded", Integer),
        Column("error_code", String(64)),
        Column("dataset", String(32)),
    )
    with services.store.write() as session:
        inputs.create(session.connection())
        session.execute(
            inputs.insert(),
            [
                {
                    "n": n,
                    "state": state.value,
                    "trigger": trigger,
                    "rows_loaded": rows,
                    "error_code": code,
                    "dataset": dataset,
                }
                for n, (state, trigger, rows, code, dataset) in enumerate(combos)
            ],
        )
        c = inputs.c
        expression = statsig_status_sql(c.state, c.trigger, c.rows_loaded, c.error_code, c.dataset)
        got = dict(session.execute(select(c.n, expression)).tuples().all())
        inputs.drop(session.connection())
    assert len(got) == len(combos)
    for n, (state, trigger, rows, code, dataset) in enumerate(combos):
        want = statsig_daily_status(
            state, trigger=trigger, rows_loaded=rows, error_code=code, dataset=dataset or ""
        )
        assert got[n] == want, (state, trigger, rows, code, dataset)
        assert want in STATSIG_DAILY_STATUSES
    services.close()


def test_ingest_jobs_of_a_window_are_chosen_and_ordered_in_sql(world: World) -> None:
    """Amperity's job start (§5 item 14) decided in SQL, against ``job_started_at`` over every
    run of the project, for windows that cut through the runs' creations and unit starts."""
    from datetime import UTC, datetime

    from ingestd.api.amperity.translate import job_started_at

    services = world.services
    project_id = services.access.project_id("acme")
    base = datetime(2030, 5, 1, tzinfo=UTC)
    with services.store.write() as session:
        runs = session.scalars(
            select(Run).where(Run.project_id == project_id).order_by(Run.created_at, Run.id)
        ).all()
        for i, run in enumerate(runs):
            run.created_at = base + timedelta(hours=10 * i)
            units = session.scalars(
                select(Unit).where(Unit.run_id == run.id).order_by(Unit.position)
            ).all()
            for j, unit in enumerate(units):
                unit.created_at = run.created_at
                # Some never start; others start hours (up to days) after their run.
                unit.started_at = (
                    None if (i + j) % 3 == 0 else run.created_at + timedelta(hours=7 * j + i)
                )
    everything = services.run_search.page(project_id, _no_filter(), limit=1000, offset=0)[0]
    records = [services.run_search.get(project_id, r.run.id) for r in everything]
    sizes = []
    for start_hours, length_hours in ((0, 5), (3, 24), (12, 40), (-100, 400), (500, 10)):
        start = base + timedelta(hours=start_hours)
        end = start + timedelta(hours=length_hours)
        want = sorted(
            (r for r in records if start <= job_started_at(r) < end),
            key=lambda r: (job_started_at(r), r.run.id),
            reverse=True,
        )
        got = services.run_search.started_between(project_id, start, end)
        assert [r.run.id for r in got] == [r.run.id for r in want], (start_hours, length_hours)
        sizes.append(len(got))
    assert any(0 < n < len(records) for n in sizes) and 0 in sizes, sizes
    assert (
        services.run_search.started_between(
            services.access.project_id("globex"), base, base + timedelta(days=30)
        )
        == []
    )  # globex's runs were created in 2024: another project's never appear


def _no_filter() -> Any:
    from ingestd.control.run_search import RunFilter

    return RunFilter()
