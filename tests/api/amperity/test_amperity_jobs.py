"""GET /api/ingest/jobs and /api/ingest/jobs/{job-id} (API-SURFACE §2.3, §2.4)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingestd.control.access import KeyKind
from ingestd.control.runs import NewUnit
from ingestd.domain.sources import LoadMode
from ingestd.domain.unit_specs import FileUnitSpec
from tests.api.amperity.conftest import Amperity

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
DAY1, DAY2 = "2024-03-01", "2024-03-02"
FIRST_DAY = ["1,ann,30", "2,bob,41", "2,bob,41", "3,cy,abc"]  # a duplicate, a bad age


def assert_balanced(job: dict[str, Any]) -> None:
    """read = errors + rejected + inserted + updated per feed, and Σ files.read = read."""
    for table in job["tables"]:
        parts = table["errors"] + table["rejected"] + table["inserted"] + table["updated"]
        assert table["read"] == parts, table
        assert sum(f["read"] for f in table["files"]) == table["read"]
        assert sum(f["errors"] for f in table["files"]) == table["errors"]


def start(amperity: Amperity, day: str) -> str:
    """Start the customers feed for ``day`` over the API; the job id."""
    response = amperity.post(
        "/api/workflow/runs", {"config_id": "customers", "range_from": f"{day}T00:00:00Z"}
    )
    assert response.status_code == 201, response.text
    return "isj-" + response.json()["id"].removeprefix("wf-")


def test_a_job_reports_its_feed_and_files_with_balanced_counts(amperity: Amperity) -> None:
    source = amperity.customers_feed()
    amperity.write(DAY1, FIRST_DAY)
    job_id = start(amperity, DAY1)
    amperity.drain()

    job = amperity.get(f"/api/ingest/jobs/{job_id}").json()
    assert re.fullmatch(r"isj-[0-9a-f]{32}", job["id"]) and job["id"] == job_id
    assert job["workflow_id"] == "wf-" + job_id.removeprefix("isj-")
    (table,) = job["tables"]
    assert {k: table[k] for k in ("feed_id", "job_id", "table_name", "state")} == {
        "feed_id": f"df-{source.id}",
        "job_id": job_id,
        "table_name": "crm.customers",
        "state": "succeeded",
    }
    counts = {k: table[k] for k in ("read", "errors", "rejected", "inserted", "updated")}
    assert counts == {"read": 4, "errors": 1, "rejected": 1, "inserted": 2, "updated": 0}
    assert TIME.match(table["started_at"]) and TIME.match(table["ended_at"])
    assert table["started_at"] <= table["ended_at"]
    (file,) = table["files"]
    assert file["name"] == f"customers/{DAY1}/part0.csv"
    assert re.fullmatch(rf"[0-9a-f]{{32}}/customers/{DAY1}/part0\.csv", file["file_id"])
    assert (file["read"], file["errors"]) == (4, 1)
    assert_balanced(job)

    listed = amperity.jobs().json()
    assert listed == {"data": [job], "next_token": ""}  # §5 item 18: one page, empty token
    assert amperity.jobs(with_total="true").json()["total"] == 1


def test_a_feed_with_a_key_counts_updates_and_keeps_bad_rows_in_quarantine(
    amperity: Amperity,
) -> None:
    amperity.customers_feed(LoadMode.UPSERT)
    amperity.write(DAY1, FIRST_DAY)
    first = start(amperity, DAY1)
    amperity.drain()
    amperity.write(DAY2, ["1,ann,31", "4,dee,22", "4,dee,22"])
    second = start(amperity, DAY2)
    amperity.drain()

    table = amperity.get(f"/api/ingest/jobs/{second}").json()["tables"][0]
    counts = {k: table[k] for k in ("read", "errors", "rejected", "inserted", "updated")}
    assert counts == {"read": 3, "errors": 0, "rejected": 1, "inserted": 1, "updated": 1}
    rows = amperity.services.warehouse.query("SELECT id, age FROM acme__crm.customers ORDER BY id")
    assert rows == [(1, 31), (2, 41), (4, 22)]
    quarantined = amperity.services.warehouse.query(
        "SELECT run_id, code, raw FROM _ingestd.quarantine"
    )
    run_id = str(uuid.UUID(first.removeprefix("isj-")))
    assert [(r, code) for r, code, _ in quarantined] == [(run_id, "TYPE_MISMATCH")]
    assert '"age":"abc"' in quarantined[0][2]


def test_the_window_is_on_started_at_from_inclusive_to_exclusive(amperity: Amperity) -> None:
    amperity.customers_feed()
    amperity.write(DAY1, ["1,ann,30"])
    job_id = start(amperity, DAY1)
    amperity.drain()
    started = amperity.get(f"/api/ingest/jobs/{job_id}").json()["tables"][0]["started_at"]
    moment = datetime.fromisoformat(started.replace("Z", "+00:00"))

    def ids(created_from: datetime, created_to: datetime) -> list[str]:
        response = amperity.jobs(
            created_from=created_from.isoformat(), created_to=created_to.isoformat()
        )
        assert response.status_code == 200, response.text
        return [job["id"] for job in response.json()["data"]]

    assert ids(moment, moment + timedelta(hours=1)) == [job_id]
    assert ids(moment - timedelta(hours=1), moment) == []
    assert ids(moment + timedelta(milliseconds=1), moment + timedelta(hours=1)) == []


@pytest.mark.parametrize(
    ("created_from", "created_to"),
    [("2024-10-01", "2024-10-08"), ("2024-10", "2024-10-02"), ("2024-10-01T04", "2024-10-03t00z")],
)
def test_partial_timestamps_and_windows_up_to_seven_days_are_accepted(
    amperity: Amperity, created_from: str, created_to: str
) -> None:
    response = amperity.jobs(created_from=created_from, created_to=created_to)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": [], "next_token": ""}


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"created_from": "2024-10-01", "created_to": "2024-10-08T00:00:01Z"}, "7 days"),
        ({"created_from": "2024-10-07", "created_to": "2024-10-01"}, "later than"),
        ({"created_from": "2024-10-01", "created_to": "2024-10-01"}, "later than"),
        ({"created_from": "yesterday", "created_to": "2024-10-01"}, "ISO-8601"),
        ({"created_from": "2024-10-01"}, "created_to"),
        ({"created_to": "2024-10-01"}, "created_from"),
        ({"created_from": "2024-10-01", "created_to": "2024-10-02", "with_total": "x"}, "bool"),
    ],
)
def test_bad_windows_are_400(amperity: Amperity, params: dict[str, str], words: str) -> None:
    response = amperity.get("/api/ingest/jobs", **params)
    assert response.status_code == 400
    assert words in response.json()["message"]


@pytest.mark.parametrize(
    "job_id", ["isj-" + "0" * 32, "isj-1f73r9u2", "wf-" + "0" * 32, "isj-", "isj-a/b", "x"]
)
def test_an_unknown_or_malformed_job_id_is_404(amperity: Amperity, job_id: str) -> None:
    response = amperity.get(f"/api/ingest/jobs/{job_id}")
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_another_tenant_never_sees_a_job(amperity: Amperity) -> None:
    amperity.customers_feed()
    amperity.write(DAY1, ["1,ann,30"])
    job_id = start(amperity, DAY1)
    amperity.drain()
    other = amperity.services.access.create_key("globex", KeyKind.CONSOLE)
    headers = amperity.headers(other, tenant="globex")
    assert amperity.client.get(f"/api/ingest/jobs/{job_id}", headers=headers).status_code == 404
    now = datetime.now(UTC)
    listed = amperity.client.get(
        "/api/ingest/jobs",
        params={"created_from": (now - timedelta(days=1)).isoformat(), "created_to": "2100"},
        headers=headers,
    )
    assert listed.status_code == 400  # the window is too long; now a valid one:
    listed = amperity.client.get(
        "/api/ingest/jobs",
        params={
            "created_from": (now - timedelta(days=1)).isoformat(),
            "created_to": (now + timedelta(days=1)).isoformat(),
        },
        headers=headers,
    )
    assert listed.json()["data"] == []
    wf = "wf-" + job_id.removeprefix("isj-")
    assert amperity.client.get(f"/api/workflow/runs/{wf}", headers=headers).status_code == 404
    assert amperity.client.post(f"/api/workflow/runs/{wf}/stop", headers=headers).status_code == 404


def test_a_job_not_started_yet_is_listed_as_scheduled_with_zero_counts(amperity: Amperity) -> None:
    amperity.customers_feed()
    job_id = start(amperity, DAY1)
    (job,) = amperity.jobs().json()["data"]
    assert job["id"] == job_id
    (table,) = job["tables"]
    assert table["state"] == "scheduled"
    assert (table["read"], table["files"]) == (0, [])
    assert TIME.match(table["started_at"]) and TIME.match(table["ended_at"])


def test_a_running_unit_counts_nothing_until_it_commits(amperity: Amperity) -> None:
    amperity.customers_feed()
    job_id = start(amperity, DAY1)
    runs = amperity.services.runs
    claim = runs.claim_next("test-worker", 60)
    assert claim is not None
    runs.record_progress(claim.unit_id, 500)  # rows read so far, nothing loaded yet
    job = amperity.get(f"/api/ingest/jobs/{job_id}").json()
    assert job["tables"][0]["state"] == "started"
    assert job["tables"][0]["read"] == 0
    assert_balanced(job)


def test_a_failed_feed_is_failed_with_zero_counts(amperity: Amperity) -> None:
    amperity.customers_feed()
    job_id = start(amperity, DAY1)  # no file for the day
    amperity.drain()
    (table,) = amperity.get(f"/api/ingest/jobs/{job_id}").json()["tables"]
    assert (table["state"], table["read"], table["files"]) == ("failed", 0, [])


def test_every_kind_of_ingestion_is_an_ingest_job(amperity: Amperity) -> None:
    services, project_id = amperity.services, amperity.project_id
    source = amperity.customers_feed(LoadMode.APPEND)
    amperity.write(DAY1, ["1,ann,30", "2,bob,41"])
    amperity.write(DAY2, ["3,cy,50"])
    services.runs.start_source_run(project_id, ["customers"], [DAY1_D], trigger="scheduled")
    services.runs.start_source_run(project_id, ["customers"], [DAY1_D, DAY2_D], trigger="backfill")
    blob = amperity.files / "drop" / "blob.csv"
    blob.parent.mkdir(parents=True)
    blob.write_text("id,name,age\n9,zed,70\n")
    services.runs.create_run(
        project_id,
        kind="blob",
        trigger="queued",
        units=[
            NewUnit(
                load_key="blob:test:1",
                blob_url=f"file://{blob}",
                spec=FileUnitSpec(
                    table="crm.customers", inputs=(str(blob),), input_names=(blob.name,)
                ),
            )
        ],
    )
    services.streams.create_stream(project_id, "signups", "crm.customers")
    services.streams.accept(project_id, "signups", b'{"id": 5, "name": "eve", "age": 33}')
    services.streams.flush(project_id, "signups")
    amperity.drain()

    jobs = amperity.jobs().json()["data"]
    assert len(jobs) == 4
    feeds = sorted(
        (len(job["tables"]), job["tables"][0]["feed_id"], job["tables"][0]["read"]) for job in jobs
    )
    stream = services.streams.stream_source(project_id, "signups")
    assert feeds == sorted(
        [
            (1, f"df-{source.id}", 2),  # scheduled: one day
            (1, f"df-{source.id}", 3),  # backfill: two days, one feed
            (1, feeds_of_blob(jobs), 1),  # queued blob: a feed named by its table
            (1, f"df-{stream.id}", 1),  # streamed records
        ]
    )
    for job in jobs:
        assert_balanced(job)
        assert job["tables"][0]["state"] == "succeeded"
    # the backfill's load of the first day replaced the scheduled one: 2 + 1 + 1 + 1 rows
    loaded = services.warehouse.query("SELECT count(*) FROM acme__crm.customers")
    assert loaded == [(5,)]


def feeds_of_blob(jobs: list[dict[str, Any]]) -> str:
    (blob_feed,) = [
        job["tables"][0]["feed_id"]
        for job in jobs
        if re.fullmatch(r"df-t[0-9a-f]{10}", job["tables"][0]["feed_id"])
    ]
    return blob_feed


DAY1_D = datetime.fromisoformat(DAY1).date()
DAY2_D = datetime.fromisoformat(DAY2).date()
