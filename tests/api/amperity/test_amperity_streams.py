"""POST /stream/v0/data/{stream-id} (API-SURFACE §2.5): one durable JSON record per request,
batched into NDJSON files that load as ingest jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from ingestd.control.access import KeyKind
from ingestd.control.amperity.streams import Streams
from ingestd.control.runs import Runs
from ingestd.domain.sources import LoadMode
from ingestd.store.schema import StreamRecord, utcnow
from tests.api.amperity.conftest import CUSTOMERS, Amperity


@pytest.fixture
def stream(amperity: Amperity) -> Streams:
    """Stream ``signups`` upserting into crm.customers."""
    services = amperity.services
    services.catalog.create_table(amperity.project_id, CUSTOMERS)
    services.streams.create_stream(
        amperity.project_id, "signups", "crm.customers", load_mode=LoadMode.UPSERT
    )
    return services.streams


def push(amperity: Amperity, record: Any, stream_id: str = "signups", **headers: str) -> Any:
    body = record if isinstance(record, bytes) else json.dumps(record).encode()
    return amperity.client.post(
        f"/stream/v0/data/{stream_id}",
        content=body,
        headers={**amperity.headers(), "Content-Type": "application/json", **headers},
    )


def stored(amperity: Amperity) -> list[str]:
    with amperity.services.store.read() as session:
        return [r.payload for r in session.query(StreamRecord).order_by(StreamRecord.id)]


def job_table(amperity: Amperity) -> dict[str, Any]:
    (job,) = amperity.jobs().json()["data"]
    (table,) = job["tables"]
    return dict(table)


def test_an_accepted_record_is_202_and_stored_before_the_answer(
    amperity: Amperity, stream: Streams
) -> None:
    response = push(amperity, {"id": 1, "name": "ann", "age": 30})
    assert response.status_code == 202
    assert response.content == b""
    assert stored(amperity) == ['{"id":1,"name":"ann","age":30}']
    assert stream.pending(amperity.project_id, "signups") == 1


def test_a_record_over_one_megabyte_is_413_and_not_stored(
    amperity: Amperity, stream: Streams
) -> None:
    big = {"id": 1, "name": "x" * (1 << 20)}
    response = push(amperity, big)
    assert response.status_code == 413
    assert response.json()["status"] == 413
    assert stored(amperity) == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": 1',
        b"[1, 2]",
        b'{"id": 1}\n{"id": 2}',
        b'{"id": NaN}',
        b'{"id": 1e999}',
        b'"text"',
        b"\xff\xfe",
        b"",
    ],
)
def test_malformed_json_is_400_and_not_stored(
    amperity: Amperity, stream: Streams, body: bytes
) -> None:
    response = push(amperity, body)
    assert response.status_code == 400
    assert response.json()["status"] == 400
    assert stored(amperity) == []


def test_xml_is_refused_with_400(amperity: Amperity, stream: Streams) -> None:
    response = push(amperity, b"<records/>", **{"Content-Type": "application/xml"})
    assert response.status_code == 400 and "XML" in response.json()["message"]


def test_unknown_streams_and_plain_sources_are_404(amperity: Amperity, stream: Streams) -> None:
    amperity.customers_feed()
    assert push(amperity, {"id": 1}, stream_id="nope").status_code == 404
    assert push(amperity, {"id": 1}, stream_id="customers").status_code == 404
    assert stored(amperity) == []


def test_streaming_needs_an_ingest_key_but_no_api_version(
    amperity: Amperity, stream: Streams
) -> None:
    reader = amperity.services.access.create_key("acme", KeyKind.READ)
    ingester = amperity.services.access.create_key("acme", KeyKind.INGEST)
    assert push(amperity, {"id": 1}, Authorization=f"Bearer {reader}").status_code == 403
    headers = {"Authorization": f"Bearer {ingester}", "api-version": ""}
    assert push(amperity, {"id": 1}, **headers).status_code == 202


def test_records_flush_by_size_and_load_as_one_job(amperity: Amperity, stream: Streams) -> None:
    stream.flush_records = 3
    for record in ({"id": 1, "age": 30}, {"id": 2, "age": 41}, {"id": 1, "age": 31}):
        assert push(amperity, record).status_code == 202
    assert stream.pending(amperity.project_id, "signups") == 0  # flushed after the third 202
    amperity.drain()
    table = job_table(amperity)
    counts = {k: table[k] for k in ("read", "errors", "rejected", "inserted", "updated")}
    assert counts == {"read": 3, "errors": 0, "rejected": 0, "inserted": 2, "updated": 1}
    assert table["state"] == "succeeded"
    (file,) = table["files"]
    assert file["name"].endswith(".ndjson") and file["read"] == 3
    rows = amperity.services.warehouse.query("SELECT id, age FROM acme__crm.customers ORDER BY id")
    assert rows == [(1, 31), (2, 41)]


def test_records_flush_by_age(amperity: Amperity, stream: Streams) -> None:
    push(amperity, {"id": 1, "age": 30})
    soon = utcnow() + timedelta(seconds=stream.flush_seconds / 2)
    assert stream.flush_due(soon) == []
    later = utcnow() + timedelta(seconds=stream.flush_seconds + 1)
    assert len(stream.flush_due(later)) == 1
    assert stream.flush_due(later) == []


def test_a_record_that_fails_typing_is_an_error_in_quarantine(
    amperity: Amperity, stream: Streams
) -> None:
    push(amperity, {"id": 1, "age": 30})
    push(amperity, {"id": 2, "age": "old"})
    push(amperity, {"id": 1, "age": 30})  # an exact duplicate of the first
    stream.flush(amperity.project_id, "signups")
    amperity.drain()
    table = job_table(amperity)
    counts = {k: table[k] for k in ("read", "errors", "rejected", "inserted", "updated")}
    assert counts == {"read": 3, "errors": 1, "rejected": 1, "inserted": 1, "updated": 0}
    quarantined = amperity.services.warehouse.query("SELECT code, raw FROM _ingestd.quarantine")
    assert [code for code, _ in quarantined] == ["TYPE_MISMATCH"]
    assert '"old"' in quarantined[0][1]


def test_starting_a_streams_feed_flushes_it_now(amperity: Amperity, stream: Streams) -> None:
    source = stream.stream_source(amperity.project_id, "signups")
    push(amperity, {"id": 7, "age": 1})
    started = amperity.post("/api/workflow/runs", {"config_id": f"df-{source.id}"})
    assert started.status_code == 201
    assert started.json()["type"] == "ingestd.stream/run"
    again = amperity.post("/api/workflow/runs", {"config_id": f"df-{source.id}"})
    assert again.status_code == 400 and "no pending records" in again.json()["message"]


@pytest.mark.parametrize(
    ("target", "crash_in"),
    [(Runs, "create_run"), (Streams, "_mark")],
    ids=["after-the-file-before-the-run", "after-the-run-before-the-marks"],
)
def test_a_flush_interrupted_anywhere_is_finished_by_the_next_and_loads_once(
    amperity: Amperity,
    stream: Streams,
    monkeypatch: pytest.MonkeyPatch,
    target: type,
    crash_in: str,
) -> None:
    for i in range(5):
        push(amperity, {"id": i, "age": i})

    def killed(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt("the process was killed here")

    monkeypatch.setattr(target, crash_in, killed)
    with pytest.raises(KeyboardInterrupt):
        stream.flush(amperity.project_id, "signups")
    monkeypatch.undo()
    assert stream.pending(amperity.project_id, "signups") == 5  # nothing was lost

    runs = stream.flush(amperity.project_id, "signups")
    assert stream.pending(amperity.project_id, "signups") == 0
    amperity.drain()
    all_runs, total = amperity.services.runs.list_runs(amperity.project_id, kind="stream")
    assert total == 1 and [r.id for r in runs] == [all_runs[0].id]
    assert job_table(amperity)["read"] == 5
    assert amperity.services.warehouse.query("SELECT count(*) FROM acme__crm.customers") == [(5,)]


def test_the_cli_flushes_every_pending_stream_now(amperity: Amperity, stream: Streams) -> None:
    push(amperity, {"id": 1, "age": 30})
    data_dir = amperity.services.settings.data_dir
    result = subprocess.run(
        [sys.executable, "-c", "from ingestd.cli.main import run; run()", "streams", "flush"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "INGESTD_DATA_DIR": str(data_dir)},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "1 batch(es) enqueued" in result.stdout
    assert stream.pending(amperity.project_id, "signups") == 0
    amperity.drain()
    assert job_table(amperity)["read"] == 1
