"""Operations as a whole: many blobs in flight, isolation of a failing blob, cancel, and the
status and command views agreeing with each other and with the destination."""

from __future__ import annotations

import time
from collections import Counter

from tests.integration.kusto.conftest import Env
from tests.integration.kusto.servers import HttpServer, S3Server

BUCKET = "bucket"


def test_twenty_blobs_with_one_failing_ingest_the_other_nineteen_exactly_once(
    env: Env, http_blobs: HttpServer, s3: S3Server
) -> None:
    env.create_table()
    env.connection(
        "lake",
        "s3",
        {"endpoint_url": s3.endpoint},
        access_key_id=s3.access_key,
        secret_access_key=s3.secret_key,
    )
    urls = []
    for i in range(19):
        rows = "".join(f"blob{i},{i * 100 + r}\n" for r in range(5))
        if i % 2:
            urls.append(http_blobs.put(f"part-{i}.csv", rows))
        else:
            urls.append(s3.put(BUCKET, f"parts/part-{i}.csv", rows))
    urls.insert(7, http_blobs.url("/blobs/missing-part.csv"))

    operation = env.submit(urls)
    body = env.wait(operation)

    assert body["status"] == {"Succeeded": 19, "Failed": 1, "InProgress": 0, "Canceled": 0}
    failed = [d for d in body["details"] if d["status"] == "Failed"]
    assert [d["url"] for d in failed] == [http_blobs.url("/blobs/missing-part.csv")]
    assert [d["url"] for d in body["details"]] == urls  # in the order submitted
    rows = env.table_rows(order="n")
    assert len(rows) == 19 * 5
    assert Counter(name for name, _ in rows) == {f"blob{i}": 5 for i in range(19)}
    assert len(set(rows)) == len(rows)
    # Both workers took part: units ran in parallel across the pool.
    (run,), _ = env.services.runs.list_runs(env.project_id)
    workers = {
        entry.message.split(" by ")[-1]
        for unit in env.services.runs.get_run(env.project_id, run.id).units
        for entry in unit.history
        if entry.state == "started" and entry.message
    }
    assert len(workers) == 2


def test_cancel_stops_pending_blobs_and_the_status_shows_them_canceled(
    env: Env, http_blobs: HttpServer
) -> None:
    env.create_table()
    env.pool.stop()  # nothing runs until we say so
    urls = [http_blobs.put(f"c{i}.csv", f"c{i},{i}\n") for i in range(3)]
    operation = env.submit(urls)
    # One blob runs before the cancel arrives; the other two are still waiting.
    env.services.pool(workers=1).run_once()

    canceled = env.rows(f".cancel queued ingestion operation '{operation}'")
    env.drain()

    assert canceled[0]["State"] == "Canceled"
    assert (canceled[0]["Ingested"], canceled[0]["Canceled"], canceled[0]["Pending"]) == (1, 2, 0)
    body = env.wait(operation)
    assert body["status"] == {"Succeeded": 1, "Failed": 0, "InProgress": 0, "Canceled": 2}
    assert [d["status"] for d in body["details"]] == ["Succeeded", "Canceled", "Canceled"]
    assert all("errorCode" not in d for d in body["details"])
    assert env.table_rows() == [("c0", 0)]
    shown = env.rows(f'.show queued ingestion operations "{operation}"')
    assert shown[0]["State"] == "Canceled" and shown[0]["Discovered"] == 3
    again = env.rows(f".cancel queued ingestion operation '{operation}'")
    assert again == shown  # canceling twice changes nothing


def test_counts_always_sum_to_the_blobs_submitted_while_they_run(
    env: Env, http_blobs: HttpServer
) -> None:
    env.create_table()
    urls = [http_blobs.put(f"s{i}.csv", f"s{i},{i}\n") for i in range(8)]
    urls.append(http_blobs.url("/status/404"))
    operation = env.submit(urls)
    while True:
        summary = env.status(operation, details=False).json()
        assert "details" not in summary
        assert sum(summary["status"].values()) == 9
        if summary["status"]["InProgress"] == 0:
            break
        time.sleep(0.02)
    assert summary["status"] == {"Succeeded": 8, "Failed": 1, "InProgress": 0, "Canceled": 0}
    assert len(env.table_rows()) == 8
