"""Workflow runs (API-SURFACE §2.5): start a feed, list, read, stop, all mapped onto runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.amperity.conftest import TENANT, Amperity

OVERVIEW = {"id", "state", "type", "name", "tenant", "created_at"}


def start(amperity: Amperity, **body: Any) -> dict[str, Any]:
    response = amperity.post("/api/workflow/runs", {"config_id": "customers", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_starting_a_feed_creates_a_workflow_with_a_task_per_day(amperity: Amperity) -> None:
    source = amperity.customers_feed()
    workflow = start(
        amperity,
        config_id=f"df-{source.id}",
        range_from="2024-03-01T00:00:00Z",
        range_to="2024-03-04T00:00:00Z",
        run_mode="source",
    )
    assert workflow["id"].startswith("wf-") and len(workflow["id"]) == 35
    assert {k: workflow[k] for k in ("state", "type", "name", "tenant")} == {
        "state": "scheduled",
        "type": "courier.group/run",
        "name": "customers",
        "tenant": TENANT,
    }
    labels = [task["label"] for task in workflow["task_instances"]]
    assert labels == [
        f"load customers for 2024-03-0{d} into crm.customers" for d in (1, 2, 3)
    ]  # range_to is exclusive
    assert all(task["workflow_id"] == workflow["id"] for task in workflow["task_instances"])


def test_without_a_range_the_feed_loads_yesterday(amperity: Amperity) -> None:
    amperity.customers_feed()
    (task,) = start(amperity)["task_instances"]
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert yesterday.isoformat() in task["label"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"config_id": "df-999"}, "names no feed"),
        ({"config_id": "cg-123ABc4DE"}, "names no feed"),
        ({"config_id": "customers", "range_to": "2024-03-02"}, "range_to needs range_from"),
        (
            {"config_id": "customers", "range_from": "2024-03-02", "range_to": "2024-03-01"},
            "later than",
        ),
        ({"config_id": "customers", "run_mode": "everything"}, "run_mode"),
        ({"config_id": "customers", "extra": 1}, "extra"),
        ({}, "config_id"),
    ],
)
def test_a_bad_start_request_is_400(amperity: Amperity, body: dict[str, Any], words: str) -> None:
    amperity.customers_feed()
    response = amperity.post("/api/workflow/runs", body)
    assert response.status_code == 400, response.text
    assert words in response.json()["message"]


def test_overview_and_verbose_views(amperity: Amperity) -> None:
    amperity.customers_feed()
    amperity.write("2024-03-01", ["1,ann,30"])
    workflow_id = start(amperity, range_from="2024-03-01")["id"]
    amperity.drain()
    overview = amperity.get(f"/api/workflow/runs/{workflow_id}").json()
    assert set(overview) == OVERVIEW | {"ended_at"}
    assert overview["state"] == "succeeded"
    verbose = amperity.get(f"/api/workflow/runs/{workflow_id}", view="verbose").json()
    (task,) = verbose["task_instances"]
    assert task["state"] == "succeeded" and task["id"].startswith("wft-")
    assert "error" not in verbose
    bad_view = amperity.get(f"/api/workflow/runs/{workflow_id}", view="full")
    assert bad_view.status_code == 400


def test_a_failed_workflow_says_why_in_verbose_view(amperity: Amperity) -> None:
    amperity.customers_feed()
    workflow_id = start(amperity, range_from="2024-03-01")["id"]  # no file for the day
    amperity.drain()
    verbose = amperity.get(f"/api/workflow/runs/{workflow_id}", view="verbose").json()
    assert verbose["state"] == "failed"
    assert verbose["error"]["type"] == "ingestd.unit/SOURCE_NOT_FOUND"
    assert verbose["error"]["attribution"] == "customer"
    assert verbose["task_instances"][0]["error"] == verbose["error"]


def test_listing_filters_and_pages_newest_first(amperity: Amperity) -> None:
    amperity.customers_feed()
    amperity.write("2024-03-01", ["1,ann,30"])
    first = start(amperity, range_from="2024-03-01")["id"]
    amperity.drain()
    second = start(amperity, range_from="2024-03-02")["id"]
    third = start(amperity, range_from="2024-03-03")["id"]

    everything = amperity.get("/api/workflow/runs", with_total="true").json()
    assert [w["id"] for w in everything["data"]] == [third, second, first]
    assert everything["total"] == 3 and "next_token" not in everything
    assert all(set(w) <= OVERVIEW | {"ended_at"} for w in everything["data"])

    page = amperity.get("/api/workflow/runs", limit=2).json()
    assert [w["id"] for w in page["data"]] == [third, second]
    rest = amperity.get("/api/workflow/runs", limit=2, next_token=page["next_token"]).json()
    assert [w["id"] for w in rest["data"]] == [first] and "next_token" not in rest

    assert [
        w["id"] for w in amperity.get("/api/workflow/runs", state="Succeeded").json()["data"]
    ] == [first]
    scheduled = amperity.get("/api/workflow/runs", state="scheduled").json()["data"]
    assert [w["id"] for w in scheduled] == [third, second]
    assert amperity.get("/api/workflow/runs", type="courier.group/run").json()["data"]
    assert amperity.get("/api/workflow/runs", type="campaign.send").json()["data"] == []
    now = datetime.now(UTC)
    later = amperity.get("/api/workflow/runs", created_from=(now + timedelta(hours=1)).isoformat())
    assert later.json()["data"] == []
    ended = amperity.get("/api/workflow/runs", ended_from=(now - timedelta(hours=1)).isoformat())
    assert [w["id"] for w in ended.json()["data"]] == [first]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"next_token": "garbage!"}]
)
def test_bad_paging_is_400(amperity: Amperity, params: dict[str, Any]) -> None:
    assert amperity.get("/api/workflow/runs", **params).status_code == 400


def test_stopping_a_waiting_workflow_stops_its_job(amperity: Amperity) -> None:
    amperity.customers_feed()
    workflow_id = start(amperity, range_from="2024-03-01", range_to="2024-03-03")["id"]
    stopped = amperity.post(f"/api/workflow/runs/{workflow_id}/stop")
    assert stopped.status_code == 200
    assert stopped.json()["state"] == "stopped"
    assert {t["state"] for t in stopped.json()["task_instances"]} == {"canceled"}
    job = amperity.get(f"/api/ingest/jobs/isj-{workflow_id.removeprefix('wf-')}").json()
    assert job["tables"][0]["state"] == "stopped"
    amperity.drain()  # nothing left to run
    assert amperity.get(f"/api/workflow/runs/{workflow_id}").json()["state"] == "stopped"


def test_stopping_a_running_workflow_reads_stopping(amperity: Amperity) -> None:
    amperity.customers_feed()
    workflow_id = start(amperity, range_from="2024-03-01")["id"]
    assert amperity.services.runs.claim_next("test-worker", 60) is not None
    stopping = amperity.post(f"/api/workflow/runs/{workflow_id}/stop").json()
    assert stopping["state"] == "stopping"


def test_stopping_an_ended_workflow_changes_nothing(amperity: Amperity) -> None:
    amperity.customers_feed()
    amperity.write("2024-03-01", ["1,ann,30"])
    workflow_id = start(amperity, range_from="2024-03-01")["id"]
    amperity.drain()
    response = amperity.post(f"/api/workflow/runs/{workflow_id}/stop")
    assert response.status_code == 200 and response.json()["state"] == "succeeded"


@pytest.mark.parametrize("workflow_id", ["wf-" + "f" * 32, "wf-20240603-12345-MNabc", "a/b"])
def test_an_unknown_workflow_is_404(amperity: Amperity, workflow_id: str) -> None:
    assert amperity.get(f"/api/workflow/runs/{workflow_id}").status_code == 404
    assert amperity.post(f"/api/workflow/runs/{workflow_id}/stop").status_code == 404
