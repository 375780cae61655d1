"""Kusto streaming ingestion, ``POST /v1/rest/ingest/{db}/{table}``: the rows are committed
when it answers, through the same unit, checks, quarantine and accounting as a queued blob."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.control.kusto.queued import BlobRef, IngestionProperties
from ingestd.control.kusto.streaming import MAX_STREAMING_BYTES
from ingestd.domain.states import UnitState
from ingestd.store.schema import StoredPayload
from tests.api.kusto.conftest import Kusto
from tests.conftest import make_services
from tests.integration.kusto.servers import free_port


@pytest.fixture
def table(kusto: Kusto) -> Kusto:
    assert kusto.mgmt(".create table T (name:string, n:long)").status_code == 200
    return kusto


def stream(
    kusto: Kusto,
    body: bytes,
    *,
    fmt: str | None = "csv",
    gz: bool = False,
    key: str | None = None,
    db: str = "db",
    table: str = "T",
    **params: str,
) -> Any:
    query = {**({"streamFormat": fmt} if fmt else {}), **params}
    headers = kusto.headers(key, **({"Content-Encoding": "gzip"} if gz else {}))
    return kusto.client.post(
        f"/v1/rest/ingest/{db}/{table}",
        params=query,
        content=gzip.compress(body) if gz else body,
        headers=headers,
    )


def error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


def loaded(kusto: Kusto) -> list[tuple[Any, ...]]:
    """The table's rows; none when nothing was ever loaded (no physical table yet)."""
    exists = kusto.services.warehouse.query(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'acme__db' AND table_name = 'T'"
    )
    return kusto.table_rows() if exists[0][0] else []


def only_run(kusto: Kusto) -> Any:
    runs, total = kusto.services.runs.list_runs(kusto.project())
    assert total == 1
    return runs[0]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_rows_are_committed_when_it_answers(table: Kusto, gz: bool) -> None:
    response = stream(table, b"a,1\nb,2\n", gz=gz)
    assert response.status_code == 200, response.text
    frame = response.json()["Tables"][0]
    assert frame["Columns"][0]["ColumnName"] == "ConsumedRecordsCount"
    assert frame["Rows"][0][0] == 2
    # No worker ran: the request loaded the rows itself.
    assert table.table_rows() == [("a", 1), ("b", 2)]
    run = only_run(table)
    assert run.trigger == "streaming"
    assert [u.state for u in run.units] == [UnitState.SUCCEEDED]
    assert run.units[0].counts.inserted == 2 and run.units[0].attempt == 1
    # The body's copy is gone once the unit has ended (the client still has its data).
    with table.services.store.read() as session:
        kept = session.scalars(select(StoredPayload.name)).all()
    assert not [name for name in kept if name.startswith("stream-")]


def test_the_operation_is_visible_wherever_operations_are(table: Kusto) -> None:
    response = stream(table, b"a,1\n")
    operation = response.json()["Tables"][0]["Rows"][0][4]
    shown = table.rows(f'.show queued ingestion operations "{operation}"')
    assert shown[0]["State"] == "Completed" and shown[0]["Ingested"] == 1
    status = table.status(operation).json()
    assert status["status"]["Succeeded"] == 1
    runs = table.client.get("/ingestd/v1/runs", headers=table.headers()).json()["data"]
    assert [(r["origin"], r["trigger"], r["counts"]["inserted"]) for r in runs] == [
        ("kusto", "streaming", 1)
    ]


def test_json_with_a_mapping_name(table: Kusto) -> None:
    created = table.mgmt(
        ".create table T ingestion json mapping 'm' "
        '\'[{"column":"name","path":"$.who"},{"column":"n","path":"$.count"}]\''
    )
    assert created.status_code == 200, created.text
    body = b'{"who":"x","count":7}\n{"who":"y","count":8}\n'
    response = stream(table, body, fmt="json", gz=True, mappingName="m")
    assert response.status_code == 200, response.text
    assert table.table_rows() == [("x", 7), ("y", 8)]


def test_json_without_a_mapping_fails_permanently_and_loads_nothing(table: Kusto) -> None:
    response = stream(table, b'{"name":"x","n":1}\n', fmt="json")
    assert response.status_code == 400
    body = error(response)
    assert body["code"] == "BadRequest_MissingMappingFailure"
    assert body["@permanent"] is True
    assert "mapping" in body["message"]
    assert loaded(table) == []
    # One attempt: nothing is left for the pool to retry later.
    table.drain()
    assert [u.state for u in only_run(table).units] == [UnitState.FAILED]


def test_bad_rows_are_quarantined_and_counted_as_for_a_queued_blob(table: Kusto) -> None:
    response = stream(table, b"a,1\nb,x\nc,3\n")
    assert response.status_code == 200, response.text
    assert table.table_rows() == [("a", 1), ("c", 3)]
    counts = only_run(table).units[0].counts
    assert (counts.read, counts.inserted, counts.errors) == (3, 2, 1)
    rows, total = table.services.quarantine.list(table.project(), ["db.T"])
    assert total == 1 and rows[0].column == "n"


def test_a_wholly_bad_body_is_an_error_naming_line_and_column(table: Kusto) -> None:
    response = stream(table, b"a,x\nb,y\n")
    assert response.status_code == 400, response.text
    body = error(response)
    assert body["@permanent"] is True
    assert body["code"] == "BadRequest_NoRecordsOrWrongFormat"
    assert "column n" in body["message"] and "x is not a valid int64" in body["message"]
    assert "line 1" in body["message"] or "record 1" in body["message"]
    short = stream(table, b"a,1,2\nb\n")  # a row with too few fields
    assert short.status_code == 200  # the first row loads; the second is quarantined
    _, total = table.services.quarantine.list(table.project(), ["db.T"])
    assert total == 3  # kept, as for a queued blob
    assert loaded(table) == [("a", 1)]


def test_over_the_streaming_limit_is_refused_as_not_permanent(table: Kusto) -> None:
    line = b"name,1\n"
    body = line * (MAX_STREAMING_BYTES // len(line) + 1)
    response = stream(table, body, gz=True)  # small on the wire, too large inflated
    assert response.status_code == 413
    assert error(response)["@permanent"] is False  # the managed client falls back to queued
    # Refused before anything was made.
    assert table.services.runs.list_runs(table.project())[1] == 0
    assert loaded(table) == []
    # Uncompressed and just over the limit: the same.
    assert stream(table, os.urandom(MAX_STREAMING_BYTES + 1)).status_code == 413


def test_at_the_limit_is_accepted(table: Kusto) -> None:
    line = b"n,1\n"
    body = line * (MAX_STREAMING_BYTES // len(line))
    assert len(body) <= MAX_STREAMING_BYTES
    response = stream(table, body, gz=True)
    assert response.status_code == 200, response.text
    assert response.json()["Tables"][0]["Rows"][0][0] == len(body) // len(line)


def test_a_body_that_is_not_gzip_is_read_plain(table: Kusto) -> None:
    # The SDK marks every body gzip, also those it does not compress.
    response = table.client.post(
        "/v1/rest/ingest/db/T",
        params={"streamFormat": "csv"},
        content=b"a,1\n",
        headers=table.headers(**{"Content-Encoding": "gzip"}),
    )
    assert response.status_code == 200, response.text
    assert table.table_rows() == [("a", 1)]


def test_truncated_gzip_is_a_bad_request(table: Kusto) -> None:
    body = gzip.compress(b"a,1\n" * 100)[:-12]
    response = table.client.post(
        "/v1/rest/ingest/db/T",
        params={"streamFormat": "csv"},
        content=body,
        headers=table.headers(**{"Content-Encoding": "gzip"}),
    )
    assert response.status_code == 400
    assert error(response)["@permanent"] is True
    assert table.services.runs.list_runs(table.project())[1] == 0


def test_stream_format_is_required(table: Kusto) -> None:
    response = stream(table, b"a,1\n", fmt=None)
    assert response.status_code == 400
    assert "streamFormat" in error(response)["message"]


def test_unknown_table_and_mapping_are_refused_before_anything_is_made(table: Kusto) -> None:
    missing = stream(table, b"a,1\n", table="Nope")
    assert missing.status_code == 404
    assert error(missing)["code"] == "BadRequest_TableNotExist"
    unknown = stream(table, b"{}\n", fmt="json", mappingName="nope")
    assert unknown.status_code == 404
    assert error(unknown)["code"] == "BadRequest_MappingReferenceWasNotFound"
    assert table.services.runs.list_runs(table.project())[1] == 0


def test_a_read_key_is_forbidden_in_kusto_shape(table: Kusto) -> None:
    reader = table.services.access.create_key("acme", KeyKind.READ)
    response = stream(table, b"a,1\n", key=reader)
    assert response.status_code == 403
    assert error(response)["code"] == "Forbidden"
    assert stream(table, b"a,1\n", key="").status_code == 401


def test_an_ingest_key_may_stream(table: Kusto) -> None:
    ingest = table.services.access.create_key("acme", KeyKind.INGEST)
    assert stream(table, b"a,1\n", key=ingest).status_code == 200


def test_another_projects_table_is_never_reached(table: Kusto) -> None:
    other = table.services.access.create_key("globex", KeyKind.CONSOLE)
    # globex has no table T: acme's is not found through its key.
    response = stream(table, b"x,9\n", key=other)
    assert response.status_code == 404
    assert error(response)["code"] == "BadRequest_DatabaseNotExist"
    assert table.mgmt(".create table T (name:string, n:long)", key=other).status_code == 200
    assert stream(table, b"x,9\n", key=other).status_code == 200
    assert loaded(table) == []  # acme's table is untouched
    operation = stream(table, b"a,1\n").json()["Tables"][0]["Rows"][0][4]
    seen = table.mgmt(f'.show queued ingestion operations "{operation}"', key=other)
    assert seen.status_code == 404


def test_a_transient_failure_is_not_permanent_and_never_retried_later(tmp_path: Path) -> None:
    services = make_services(tmp_path / "data", fetch_allowed_networks="127.0.0.0/8")
    key = services.access.create_key("acme", KeyKind.CONSOLE)
    with TestClient(create_app(services, background=False)) as client:
        kusto = Kusto(client, services, key, tmp_path)
        assert kusto.mgmt(".create table T (name:string, n:long)").status_code == 200
        # A blob on a closed loopback port: the fetch fails with a connection error.
        url = f"http://127.0.0.1:{free_port()}/rows.csv"
        response = client.post(
            "/v1/rest/ingest/db/T",
            params={"streamFormat": "csv", "sourceKind": "uri"},
            content=json.dumps({"sourceUri": url}),
            headers=kusto.headers(),
        )
        assert response.status_code == 503, response.text
        body = error(response)
        assert body["@permanent"] is False  # the managed client falls back to queued
        assert body["code"] == "Download_UnknownError"
        assert "127.0.0.1" in body["message"]
        kusto.drain()  # nothing is left to retry behind the client's back
        unit = only_run(kusto).units[0]
        assert (unit.state, unit.attempt) == (UnitState.FAILED, 1)
    services.close()


def test_a_blob_uri_streams_in_the_request(table: Kusto) -> None:
    url = table.file_url("s/rows.csv", "a,1\nb,2\n")
    response = table.client.post(
        "/v1/rest/ingest/db/T",
        params={"streamFormat": "csv", "sourceKind": "uri"},
        content=json.dumps({"sourceUri": url}),
        headers=table.headers(),
    )
    assert response.status_code == 200, response.text
    assert table.table_rows() == [("a", 1), ("b", 2)]


def test_claim_unit_takes_one_unit_once(table: Kusto) -> None:
    runs = table.services.runs
    queued = table.services.queued_ingestion
    operation = queued.submit(
        table.project(),
        "db",
        "T",
        [BlobRef(table.file_url("c.csv", "a,1\n"))],
        IngestionProperties(),
    )
    unit_id = operation.run.units[0].id
    first = runs.claim_unit(unit_id, "me", 30)
    assert first is not None and first.unit_id == unit_id
    assert runs.claim_unit(unit_id, "you", 30) is None
    assert runs.claim_next("pool", 30) is None  # leased: the pool does not see it
