"""The Statsig Console API ingestion endpoints, as a console client uses them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.domain.clock import FixedClock
from tests.api.statsig.conftest import EVENTS_MAPPING, Console
from tests.conftest import make_services

DAY1, DAY2 = "2024-03-01", "2024-03-02"
T1 = 1_709_251_200


def test_a_missing_or_wrong_key_gets_the_vendor_401(console: Console) -> None:
    response = console.get("/console/v1/ingestion/runs", key="console-nope")
    assert response.status_code == 401
    assert response.json() == {
        "status": 401,
        "message": "This endpoint only accepts an active CONSOLE key, but an invalid key was "
        "sent. Key: console-***",  # the vendor echoes the key; ingestd never does
    }


def test_the_version_header_must_be_20240601_if_sent(console: Console) -> None:
    ok = console.client.get(
        "/console/v1/ingestion/runs", headers=console.headers(**{"STATSIG-API-VERSION": "20240601"})
    )
    bad = console.client.get(
        "/console/v1/ingestion/runs", headers=console.headers(**{"STATSIG-API-VERSION": "2023"})
    )
    assert ok.status_code == 200
    assert bad.status_code == 400 and bad.json()["status"] == 400


def test_read_keys_may_read_but_not_change(console: Console) -> None:
    read_key = console.services.access.create_key("acme", KeyKind.READ)
    assert console.get("/console/v1/ingestion/runs", key=read_key).status_code == 200
    response = console.file_source(key=read_key)
    assert response.status_code == 403
    assert response.json()["status"] == 403


def test_sources_are_created_read_updated_and_deleted(console: Console) -> None:
    created = console.file_source()
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["message"] == "Ingestion created successfully."
    assert body["data"]["type"] == "file" and body["data"]["enabled"] is True
    again = console.file_source()
    assert again.status_code == 400
    assert again.json() == {
        "status": 400,
        "message": "Ingestion source already exists with name web-events",
    }
    read = console.get("/console/v1/ingestion", type="file", dataset="Events")
    assert read.json()["data"]["data"]["column_mapping"] == EVENTS_MAPPING
    patched = console.client.patch(
        "/console/v1/ingestion",
        json={"type": "file", "dataset": "Events", "source_name": "web-events", "enabled": False},
        headers=console.headers(),
    )
    assert patched.status_code == 200 and patched.json()["data"]["enabled"] is False
    deleted = console.client.delete(
        "/console/v1/ingestion",
        params={"type": "file", "dataset": "Events", "source_name": "web-events"},
        headers=console.headers(),
    )
    assert deleted.json()["message"] == "Ingestion deleted successfully."
    missing = console.get("/console/v1/ingestion", type="file", dataset="Events")
    assert missing.status_code == 404
    assert missing.json() == {"status": 404, "message": "Ingestion of type file not found."}


def test_a_source_of_a_type_without_connection_is_404(console: Console) -> None:
    response = console.post(
        "/console/v1/ingestion",
        {
            "type": "redshift",
            "dataset": "Events",
            "source_name": "x",
            "query": "SELECT 1",
            "column_mapping": EVENTS_MAPPING,
        },
    )
    assert response.status_code == 404
    assert response.json()["message"] == "Ingestion of type redshift not found."


def test_bad_bodies_are_400_and_change_nothing(console: Console) -> None:
    response = console.post(
        "/console/v1/ingestion",
        {
            "type": "file",
            "dataset": "Events",
            "source_name": "x",
            "query": "a.csv",
            "column_mapping": {"event_name": "e"},
            "bogus": 1,
        },
    )
    assert response.status_code == 400
    assert "bogus" in response.json()["message"]
    console.post("/console/v1/ingestion/connection/file", {"root": str(console.files)})
    response = console.post(
        "/console/v1/ingestion",
        {
            "type": "file",
            "dataset": "Events",
            "source_name": "x",
            "query": "a.csv",
            "column_mapping": {"event_name": "e"},
        },
    )
    assert response.status_code == 400 and "timestamp" in response.json()["message"]
    assert console.get("/console/v1/ingestion", type="file", dataset="Events").status_code == 404


def test_a_backfill_loads_each_day_and_the_run_shows_its_history(console: Console) -> None:
    console.file_source()
    console.write_day(DAY1, [("u1", "view", T1), ("u2", "click", T1 + 5), ("u2", "click", T1 + 5)])
    console.write_day(DAY2, [("u3", "view", T1 + 86_400)])
    response = console.post(
        "/console/v1/ingestion/backfill",
        {"datestamp_start": DAY1, "datestamp_end": DAY2, "type": "file", "dataset": "Events"},
    )
    assert response.status_code == 200, response.text
    run_id = response.json()["data"]["runID"]
    assert response.json()["message"] == "Ingestion backfilled successfully."
    pending = console.get(f"/console/v1/ingestion/runs/{run_id}").json()["data"]
    assert pending["latestStatus"] == "enqueued" and pending["trigger"] == "backfill"
    console.drain()
    run = console.get(f"/console/v1/ingestion/runs/{run_id}").json()
    assert run["message"] == "Ingestion Run Read Successfully"
    data = run["data"]
    assert data["dateStamps"] == [DAY1, DAY2] and data["sources"] == ["web-events"]
    assert data["latestStatus"] == "download_complete"
    statuses = [h["status"] for h in data["runHistory"]]
    assert statuses[0] == "download_complete" and statuses[-1] == "enqueued"
    stamps = [h["statusTimestamp"] for h in data["runHistory"]]
    assert stamps == sorted(stamps, reverse=True) and stamps[0].endswith("Z")
    granular = data["granularHistory"][0]
    assert granular["source"] == "web-events"
    assert granular["latestSourceStatus"] == "download_complete"
    assert [d["dateStamp"] for d in granular["statusByDate"]] == [DAY2, DAY1]
    assert [s["status"] for s in granular["statusByDate"][0]["statuses"]] == [
        "download_complete",
        "download_started",
        "started",
        "enqueued",
    ]
    missing = console.get("/console/v1/ingestion/runs/nope")
    assert missing.json() == {"status": 404, "message": "runID nope not found"}


def test_daily_statuses_show_counts_filters_and_pages(console: Console) -> None:
    console.file_source()
    console.write_day(DAY1, [("u1", "view", T1), ("u2", "click", T1 + 1)])
    folder = console.files / "events" / DAY2
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("user,event,ts,page\n")
    console.post(
        "/console/v1/ingestion/backfill",
        {
            "datestamp_start": DAY1,
            "datestamp_end": "2024-03-03",
            "type": "file",
            "dataset": "Events",
        },
    )
    console.drain()
    page = console.get("/console/v1/ingestion/status", startDate=DAY1, endDate="2024-03-03").json()
    assert page["message"] == "Ingestion statuses listed successfully."
    rows = {r["ds"][:10]: r for r in page["data"]}
    assert rows[DAY1]["status"] == "IMPORT_SUCCESSFUL" and rows[DAY1]["rowCount"] == 2
    assert rows[DAY2]["status"] == "LOADED_EMPTY_DATA" and rows[DAY2]["rowCount"] == 0
    assert rows["2024-03-03"]["status"] == "SETUP_ERROR"
    assert "SOURCE_NOT_FOUND" in rows["2024-03-03"]["error_message"]
    assert rows[DAY1]["ingestion_dataset"] == "events" and rows[DAY1]["source_name"] == "web-events"
    only = console.get(
        "/console/v1/ingestion/status",
        startDate=DAY1,
        endDate="2024-03-03",
        statuses="LOADED_EMPTY_DATA,SETUP_ERROR",
    ).json()["data"]
    assert sorted(r["status"] for r in only) == ["LOADED_EMPTY_DATA", "SETUP_ERROR"]
    paged = console.get(
        "/console/v1/ingestion/status", startDate=DAY1, endDate="2024-03-03", limit=2
    ).json()
    assert len(paged["data"]) == 2
    assert paged["pagination"]["nextPage"] == (
        f"/console/v1/ingestion/status?startDate={DAY1}&endDate=2024-03-03&limit=2&page=2"
    )
    assert paged["pagination"]["previousPage"] is None and paged["pagination"]["totalItems"] == 3
    bad = console.get("/console/v1/ingestion/status", startDate="yesterday", endDate=DAY1)
    assert bad.status_code == 400


def test_runs_are_listed_newest_first_with_pages(console: Console) -> None:
    console.file_source()
    ids = []
    for day in (DAY1, DAY2, "2024-03-03"):
        ids.append(
            console.post(
                "/console/v1/ingestion/backfill",
                {"datestamp_start": day, "datestamp_end": day, "type": "file", "dataset": "Events"},
            ).json()["data"]["runID"]
        )
    first = console.get("/console/v1/ingestion/runs", limit=2).json()
    assert first["message"] == "Ingestion Runs Listed Successfully."
    assert [r["runID"] for r in first["data"]] == ids[::-1][:2]
    assert first["pagination"]["nextPage"] == "/console/v1/ingestion/runs?limit=2&page=2"
    second = console.get("/console/v1/ingestion/runs", limit=2, page=2).json()
    assert [r["runID"] for r in second["data"]] == [ids[0]]
    assert second["pagination"]["nextPage"] is None


def test_another_projects_key_sees_nothing(console: Console) -> None:
    console.file_source()
    run_id = console.post(
        "/console/v1/ingestion/backfill",
        {"datestamp_start": DAY1, "datestamp_end": DAY1, "type": "file", "dataset": "Events"},
    ).json()["data"]["runID"]
    other = console.services.access.create_key("globex", KeyKind.CONSOLE)
    assert console.get(f"/console/v1/ingestion/runs/{run_id}", key=other).status_code == 404
    assert console.get("/console/v1/ingestion/runs", key=other).json()["data"] == []
    assert (
        console.get("/console/v1/ingestion", key=other, type="file", dataset="Events").status_code
        == 404
    )
    assert (
        console.get("/console/v1/ingestion/status", key=other, startDate=DAY1, endDate=DAY1).json()[
            "data"
        ]
        == []
    )
    backfill = console.post(
        "/console/v1/ingestion/backfill",
        {"datestamp_start": DAY1, "datestamp_end": DAY1, "type": "file", "dataset": "Events"},
        key=other,
    )
    assert backfill.status_code == 404


def test_an_idempotency_key_returns_the_first_result(console: Console) -> None:
    console.file_source()
    body = {"datestamp_start": DAY1, "datestamp_end": DAY1, "type": "file", "dataset": "Events"}
    first = console.post("/console/v1/ingestion/backfill", body, **{"Idempotency-Key": "k-1"})
    again = console.post("/console/v1/ingestion/backfill", body, **{"Idempotency-Key": "k-1"})
    assert first.json() == again.json()
    assert len(console.get("/console/v1/ingestion/runs").json()["data"]) == 1


def test_schedules_are_read_and_updated_per_dataset(console: Console) -> None:
    read = console.get("/console/v1/ingestion/schedule", dataset="Metrics").json()
    assert read == {
        "message": "Ingestion schedule read successfully.",
        "data": {"dataset": "Metrics", "scheduled_hour_pst": 10},
    }
    updated = console.post(
        "/console/v1/ingestion/schedule", {"dataset": "Metrics", "scheduled_hour_pst": 3}
    ).json()
    assert updated["data"] == {"dataset": "Metrics", "scheduled_hour_pst": 3}
    assert (
        console.post(
            "/console/v1/ingestion/schedule", {"dataset": "Metrics", "scheduled_hour_pst": 24}
        ).status_code
        == 400
    )
    assert (
        console.get("/console/v1/ingestion/schedule", dataset="Metrics").json()["data"][
            "scheduled_hour_pst"
        ]
        == 3
    )


def test_the_scheduler_makes_one_scheduled_run_per_dataset_and_day(console: Console) -> None:
    console.file_source()
    console.post("/console/v1/ingestion/schedule", {"dataset": "Events", "scheduled_hour_pst": 2})
    before = datetime(2024, 3, 2, 9, 0, tzinfo=UTC)  # 01:00 PST: not yet
    after = datetime(2024, 3, 2, 11, 0, tzinfo=UTC)  # 03:00 PST
    assert console.services.scheduler.tick(before) == []
    created = console.services.scheduler.tick(after)
    assert len(created) == 1
    assert console.services.scheduler.tick(after) == []
    run = console.get(f"/console/v1/ingestion/runs/{created[0]}").json()["data"]
    assert run["trigger"] == "scheduled" and run["dateStamps"] == ["2024-03-01"]


def test_mark_data_ready_starts_api_triggered_sources(console: Console) -> None:
    console.post("/console/v1/ingestion/connection/file", {"root": str(console.files)})
    console.post(
        "/console/v1/ingestion",
        {
            "type": "file",
            "dataset": "Events",
            "source_name": "api-src",
            "query": "events/{ds}/*.csv",
            "column_mapping": EVENTS_MAPPING,
            "api_triggered": True,
        },
    )
    console.write_day(DAY1, [("u1", "view", T1)])
    response = console.post("/v1/mark_data_ready_dwh", {"datestamps": DAY1, "type": "events"})
    assert response.status_code == 200 and response.json()["success"] is True
    console.drain()
    run = console.get(f"/console/v1/ingestion/runs/{response.json()['runID']}").json()["data"]
    assert run["trigger"] == "api" and run["latestStatus"] == "download_complete"
    again = console.post("/v1/mark_data_ready_dwh", {"datestamps": DAY1, "type": "events"})
    assert again.status_code == 429 and "Retry-After" in again.headers


def test_event_counts_and_the_delta_ledger(console: Console) -> None:
    console.file_source()
    console.write_day(DAY1, [("u1", "view", T1), ("u2", "view", T1 + 1), ("u2", "buy", T1 + 2)])
    console.post(
        "/console/v1/ingestion/backfill",
        {"datestamp_start": DAY1, "datestamp_end": DAY1, "type": "file", "dataset": "Events"},
    )
    console.drain()
    grouped = console.get(
        "/console/v1/ingestion/events/count", start_date=DAY1, end_date=DAY1
    ).json()["data"]
    assert grouped[0]["date"] == DAY1
    assert {e["event"]: e["count"] for e in grouped[0]["events"]} == {"buy": 1, "view": 2}
    flat = console.get(
        "/console/v1/ingestion/events/count", start_date=DAY1, end_date=DAY1, event_name="view"
    ).json()["data"]
    assert flat == [
        {
            "date": DAY1,
            "event": "view",
            "count": 2,
            "last_updated_time": flat[0]["last_updated_time"],
        }
    ]
    # The warehouse gains two views for the day: the delta shows it, the check reloads it.
    console.write_day(DAY1, [("u7", "view", T1 + 7), ("u8", "view", T1 + 8)], name="b.csv")
    delta = console.get(
        "/console/v1/ingestion/events/delta", start_date=DAY1, end_date=DAY1, event_name="view"
    ).json()["data"]
    assert delta[0]["internal_count"] == 2 and delta[0]["external_count"] == 4
    assert delta[0]["has_diff"] is True and delta[0]["threshold"] == 0.05
    project_id = console.services.access.project_id("acme")
    reloads = console.services.data_checks.reload_changed(project_id, datetime(2024, 3, 3).date())
    assert len(reloads) == 1
    console.drain()
    after = console.get(
        "/console/v1/ingestion/events/count", start_date=DAY1, end_date=DAY1, event_name="view"
    ).json()["data"]
    assert after[0]["count"] == 4
    runs = console.get("/console/v1/ingestion/runs").json()["data"]
    assert runs[0]["trigger"] == "reload"
    assert (
        console.services.data_checks.reload_changed(project_id, datetime(2024, 3, 3).date()) == []
    )


def test_mutations_are_rate_limited_per_project(console: Console) -> None:
    from ingestd.api.rate_limit import RateLimiter

    limiter = RateLimiter([(3, 10.0)], clock=lambda: 100.0)
    for _ in range(3):
        limiter.hit("p")
    with pytest.raises(Exception, match="at most 3 per 10 seconds") as info:
        limiter.hit("p")
    assert getattr(info.value, "retry_after", 0) >= 1


def test_connections_never_echo_secrets(console: Console) -> None:
    response = console.post(
        "/console/v1/ingestion/connection/databricks",
        {"token": "dapi-secret", "host": "h.cloud.databricks.com", "path": "/sql/1.0/x"},
    )
    assert response.status_code == 200
    assert "dapi-secret" not in response.text
    read = console.get("/console/v1/ingestion/connection/databricks")
    assert read.status_code == 200 and "dapi-secret" not in read.text
    pg = console.post(
        "/console/v1/ingestion/connection/postgres",
        {"host": "127.0.0.1", "dbname": "x", "user": "u", "password": "hunter2"},
    )
    assert pg.status_code == 200 and "hunter2" not in pg.text
    unknown = console.post("/console/v1/ingestion/connection/oracle", {"host": "x"})
    assert unknown.status_code == 404


OTHER_PROJECT_CALLS = [
    ("get", "/console/v1/ingestion", {"type": "file", "dataset": "Events"}),
    ("get", "/console/v1/ingestion/runs", {}),
    ("get", "/console/v1/ingestion/status", {"startDate": DAY1, "endDate": DAY1}),
    ("get", "/console/v1/ingestion/events/count", {"start_date": DAY1, "end_date": DAY1}),
    ("get", "/console/v1/ingestion/events/delta", {"start_date": DAY1, "end_date": DAY1}),
    ("get", "/console/v1/ingestion/schedule", {"dataset": "Events"}),
    ("get", "/console/v1/ingestion/connection/file", {}),
    ("patch", "/console/v1/ingestion", {"type": "file", "dataset": "Events", "enabled": False}),
    ("delete", "/console/v1/ingestion", {"type": "file", "dataset": "Events"}),
    ("delete", "/console/v1/ingestion/connection/file", {}),
    (
        "post",
        "/console/v1/ingestion/backfill",
        {"datestamp_start": DAY1, "datestamp_end": DAY1, "type": "file", "dataset": "Events"},
    ),
    ("post", "/v1/mark_data_ready_dwh", {"datestamps": DAY1, "type": "events"}),
]


@pytest.mark.parametrize(
    ("method", "path", "args"),
    OTHER_PROJECT_CALLS,
    ids=[f"{m} {p}" for m, p, _ in OTHER_PROJECT_CALLS],
)
def test_no_endpoint_shows_or_changes_another_projects_data(
    console: Console, method: str, path: str, args: dict[str, object]
) -> None:
    console.file_source()
    console.post("/console/v1/ingestion/schedule", {"dataset": "Events", "scheduled_hour_pst": 4})
    console.write_day(DAY1, [("u1", "view", T1)])
    console.post(
        "/console/v1/ingestion/backfill",
        {"datestamp_start": DAY1, "datestamp_end": DAY1, "type": "file", "dataset": "Events"},
    )
    console.drain()
    other = console.services.access.create_key("globex", KeyKind.CONSOLE)
    headers = console.headers(other)
    if method in ("get", "delete"):
        response = console.client.request(method.upper(), path, params=args, headers=headers)
    else:
        response = console.client.request(method.upper(), path, json=args, headers=headers)
    text = response.text
    assert "web-events" not in text and str(console.files) not in text
    if response.status_code == 200:
        data = response.json()["data"]
        if path.endswith("/schedule"):
            assert data["scheduled_hour_pst"] == 10  # the default, not acme's 4
        elif path.endswith(("/count", "/delta")):
            assert all(day["events"] == [] for day in data)
        else:
            assert data == []
    else:
        assert response.status_code in (400, 404)
    # And acme's data is intact.
    assert console.get("/console/v1/ingestion", type="file", dataset="Events").status_code == 200
    assert len(console.get("/console/v1/ingestion/runs").json()["data"]) == 1


def test_mutations_past_the_limit_get_429_with_retry_after(tmp_path: Path) -> None:
    services = make_services(tmp_path / "data", statsig_mutations_per_10s=2)
    key = services.access.create_key("acme", KeyKind.CONSOLE)
    headers = {"STATSIG-API-KEY": key}
    body = {"dataset": "Events", "scheduled_hour_pst": 3}
    with TestClient(create_app(services, background=False)) as client:
        codes = [
            client.post("/console/v1/ingestion/schedule", json=body, headers=headers)
            for _ in range(3)
        ]
        reads = client.get(
            "/console/v1/ingestion/schedule", params={"dataset": "Events"}, headers=headers
        )
    services.close()
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert codes[2].json()["status"] == 429 and int(codes[2].headers["Retry-After"]) >= 1
    assert reads.status_code == 200  # reads are not limited


def test_a_repeated_create_with_the_same_idempotency_key_creates_nothing_new(
    console: Console,
) -> None:
    console.post("/console/v1/ingestion/connection/file", {"root": str(console.files)})
    body = {
        "type": "file",
        "dataset": "Events",
        "source_name": "s1",
        "query": "x/{ds}.csv",
        "column_mapping": EVENTS_MAPPING,
    }
    first = console.post("/console/v1/ingestion", body, **{"Idempotency-Key": "create-1"})
    again = console.post("/console/v1/ingestion", body, **{"Idempotency-Key": "create-1"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    project_id = console.services.access.project_id("acme")
    assert [s.name for s in console.services.catalog.list_sources(project_id)] == ["s1"]


def test_the_serve_loop_runs_the_data_checks_and_reloads(tmp_path: Path) -> None:
    import threading

    # A fixed clock: the loop's "today" (PST) and the day loaded never depend on the date or
    # the time zone the test runs in (it failed on the 1st and 2nd of a month, 00:00-08:00 UTC).
    clock = FixedClock(datetime(2024, 3, 15, 3, 0, tzinfo=UTC))  # 2024-03-14 19:00 PST
    services = make_services(
        tmp_path / "data",
        clock=clock,
        data_check_interval_seconds=0.01,
        scheduler_interval_seconds=0.05,
        data_check_lookback_days=60,
    )
    key = services.access.create_key("acme", KeyKind.CONSOLE)
    with TestClient(create_app(services, background=False)) as client:
        console = Console(client, services, key, services.settings.data_dir / "files" / "acme")
        console.file_source()
        # API-triggered: the daily schedule leaves it alone, so only a data check can reload it.
        console.client.patch(
            "/console/v1/ingestion",
            json={"type": "file", "dataset": "Events", "api_triggered": True},
            headers=console.headers(),
        )
        today = clock().date()
        day = today.replace(day=1)
        console.write_day(day.isoformat(), [("u1", "view", T1)])
        console.post(
            "/console/v1/ingestion/backfill",
            {
                "datestamp_start": day.isoformat(),
                "datestamp_end": day.isoformat(),
                "type": "file",
                "dataset": "Events",
            },
        )
        console.drain()
        console.write_day(day.isoformat(), [("u2", "view", T1 + 1)], name="b.csv")
        woken = threading.Event()
        loop = services.background(woken.set)  # what `serve` runs beside the API
        loop.start()
        try:
            assert woken.wait(30), "the loop never found the changed day"
        finally:
            loop.stop()
        runs = console.get("/console/v1/ingestion/runs").json()["data"]
    services.close()
    assert [(r["trigger"], r["dateStamps"]) for r in runs] == [
        ("reload", [day.isoformat()]),
        ("backfill", [day.isoformat()]),
    ]
