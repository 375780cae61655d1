"""A queued blob is claimed as soon as it is queued, not at the pool's next idle poll (issue
17 §1): the POST wakes the worker pools ``Services.pool`` built; streaming ingestion, which runs
its unit in the request, does not."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from ingestd.control.runs import Claim
from tests.api.kusto.conftest import POLL_LIMIT_SECONDS, Kusto

ASLEEP_SECONDS = 3600.0
"""The pool's idle interval here: only a wake-up can make it claim within the poll limit."""


class _Sleeper:
    def __init__(self) -> None:
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1


@pytest.fixture(autouse=True)
def table(kusto: Kusto) -> None:
    kusto.rows(".create table T (name:string, n:long)")


def test_a_queued_blob_wakes_an_idle_pool_which_loads_it(
    kusto: Kusto, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = kusto.services.pool(workers=1)
    pool.idle_seconds = ASLEEP_SECONDS
    idle = threading.Event()
    claim_next = pool.runs.claim_next

    def claim_and_note_idle(worker: str, lease_seconds: float) -> Claim | None:
        claim = claim_next(worker, lease_seconds)
        if claim is None:
            idle.set()
        return claim

    monkeypatch.setattr(pool.runs, "claim_next", claim_and_note_idle)
    pool.start()
    try:
        assert idle.wait(POLL_LIMIT_SECONDS)  # the worker found nothing and went to sleep
        url = kusto.file_url("a.csv", "ann,1\nbob,2\n")
        response = kusto.queue([url], {"format": "csv"})
        assert response.status_code == 200, response.text
        operation = response.json()["ingestionOperationId"]
        blob: dict[str, Any] = {}
        deadline = time.monotonic() + POLL_LIMIT_SECONDS
        while time.monotonic() < deadline:
            [blob] = kusto.status(operation).json()["details"]
            if blob["status"] not in ("Pending", "InProgress"):
                break
            time.sleep(0.02)
        assert blob["status"] == "Succeeded", blob
    finally:
        pool.stop()
    assert kusto.table_rows() == [("ann", 1), ("bob", 2)]


def test_only_an_accepted_queued_request_announces_work(kusto: Kusto) -> None:
    sleeper = _Sleeper()
    kusto.services.work_signal.subscribe(sleeper.wake)
    refused = kusto.queue(["file:///x.csv"], {"format": "csv"}, table="Missing")
    assert refused.status_code == 404
    streamed = kusto.client.post(
        "/v1/rest/ingest/db/T",
        params={"streamFormat": "csv"},
        content=b"cy,3\n",
        headers=kusto.headers(),
    )
    assert streamed.status_code == 200, streamed.text
    assert sleeper.woken == 0
    accepted = kusto.queue([kusto.file_url("b.csv", "dee,4\n")], {"format": "csv"})
    assert accepted.status_code == 200, accepted.text
    assert sleeper.woken == 1
