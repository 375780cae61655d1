"""Microsoft's ``KustoStreamingIngestClient`` and ``ManagedStreamingIngestClient``
(azure-kusto-ingest) against a served ingestd, unchanged: small data streams and is committed
when the call returns; data over the streaming limit, or a streaming attempt that fails
transiently, falls back to queued ingestion through ingestd's SDK storage. The destination
holds exactly the rows given, never twice."""

from __future__ import annotations

import base64
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas
import pytest
from azure.kusto.data import KustoConnectionStringBuilder
from azure.kusto.data.data_format import DataFormat
from azure.kusto.data.exceptions import KustoApiError
from azure.kusto.ingest import (
    BlobDescriptor,
    IngestionMappingKind,
    IngestionProperties,
    KustoStreamingIngestClient,
    ManagedStreamingIngestClient,
    StreamDescriptor,
)

from ingestd.control.kusto.streaming import MAX_STREAMING_BYTES
from tests.integration.kusto.sdk_server import SdkServer, sdk_server
from tests.integration.kusto.servers import HttpServer

POLL_LIMIT_SECONDS = 120.0
"""A safety net against a hang, not a measurement."""
ROWS = [("a", 1), ("b", 2), ("c", 3)]
CSV = "".join(f"{name},{n}\n" for name, n in ROWS)

pytestmark = pytest.mark.slow  # a served app, and the managed client's retry waits


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SdkServer]:
    with sdk_server(
        tmp_path / "data",
        fetch_allowed_networks="127.0.0.0/8",
        retry_base_seconds=0.01,
        retry_max_attempts=2,
        scheduler_interval_seconds=0.1,
    ) as running:
        yield running


@pytest.fixture
def key(server: SdkServer) -> str:
    key = server.key("acme")
    _mgmt(server, key, ".create table T (name:string, n:long)")
    return key


def _mgmt(server: SdkServer, key: str, csl: str) -> None:
    response = httpx.post(
        f"{server.url}/v1/rest/mgmt",
        json={"db": "db", "csl": csl},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def _kcsb(server: SdkServer, key: str) -> KustoConnectionStringBuilder:
    return KustoConnectionStringBuilder.with_aad_application_token_authentication(server.url, key)


def _properties(**extra: Any) -> IngestionProperties:
    return IngestionProperties(
        database="db", table="T", data_format=extra.pop("data_format", DataFormat.CSV), **extra
    )


def _rows(server: SdkServer) -> list[tuple[Any, ...]]:
    return server.services.warehouse.query('SELECT name, n FROM "acme__db"."T" ORDER BY name')


def _count(server: SdkServer) -> int:
    found = server.services.warehouse.query(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'acme__db' AND table_name = 'T'"
    )
    if not found[0][0]:
        return 0
    return int(server.services.warehouse.query('SELECT count(*) FROM "acme__db"."T"')[0][0])


def _triggers(server: SdkServer, key: str) -> list[tuple[str, str]]:
    """(trigger, state) of the project's runs, oldest first."""
    project = server.services.access.authenticate(key).project_id
    runs, _ = server.services.runs.list_runs(project, limit=100)
    return [(r.trigger, r.state.value) for r in reversed(runs)]


def _wait_for(server: SdkServer, rows: int) -> None:
    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    while _count(server) < rows:
        assert time.monotonic() < deadline, "the queued fallback did not load in time"
        time.sleep(0.1)


# -- KustoStreamingIngestClient -----------------------------------------------------------------


def test_streaming_client_commits_before_it_returns(server: SdkServer, key: str) -> None:
    with KustoStreamingIngestClient(_kcsb(server, key)) as client:
        client.ingest_from_stream(
            StreamDescriptor(io.BytesIO(CSV.encode()), stream_name="s.csv"), _properties()
        )
        # No poll: the rows are there when the call returns.
        assert _rows(server) == ROWS
    assert _triggers(server, key) == [("streaming", "succeeded")]


def test_streaming_client_from_file_and_dataframe(
    server: SdkServer, key: str, tmp_path: Path
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(CSV)
    frame = pandas.DataFrame({"name": ["d", "e"], "n": [4, 5]})
    with KustoStreamingIngestClient(_kcsb(server, key)) as client:
        client.ingest_from_file(str(path), _properties())
        client.ingest_from_dataframe(frame, _properties(), data_format=DataFormat.CSV)
    assert _rows(server) == [*ROWS, ("d", 4), ("e", 5)]


def test_streaming_client_json_with_a_mapping(server: SdkServer, key: str) -> None:
    _mgmt(
        server,
        key,
        ".create table T ingestion json mapping 'm' "
        '\'[{"column":"name","path":"$.name"},{"column":"n","path":"$.n"}]\'',
    )
    frame = pandas.DataFrame({"name": ["x"], "n": [9]})
    props = _properties(
        data_format=DataFormat.JSON,
        ingestion_mapping_reference="m",
        ingestion_mapping_kind=IngestionMappingKind.JSON,
    )
    with KustoStreamingIngestClient(_kcsb(server, key)) as client:
        client.ingest_from_dataframe(frame, props, data_format=DataFormat.JSON)
    assert _rows(server) == [("x", 9)]


def test_streaming_client_raises_the_service_error(server: SdkServer, key: str) -> None:
    client = KustoStreamingIngestClient(_kcsb(server, key))
    with client, pytest.raises(KustoApiError) as raised:
        client.ingest_from_stream(
            StreamDescriptor(io.BytesIO(b"a,x\nb,y\n"), stream_name="bad.csv"), _properties()
        )
    error = raised.value.get_api_error()
    assert error.permanent is True
    assert error.code == "BadRequest_NoRecordsOrWrongFormat"
    assert "column n" in (error.message or "")


# -- ManagedStreamingIngestClient ---------------------------------------------------------------


def _managed(server: SdkServer, key: str) -> ManagedStreamingIngestClient:
    client = ManagedStreamingIngestClient(_kcsb(server, key))
    # Quick retries between streaming attempts (the SDK's own knob); three attempts as shipped.
    client._set_retry_settings(max_seconds_per_retry=0.2)
    return client


def test_managed_client_streams_small_data(server: SdkServer, key: str) -> None:
    with _managed(server, key) as client:
        client.ingest_from_stream(
            StreamDescriptor(io.BytesIO(CSV.encode()), stream_name="s.csv"), _properties()
        )
    assert _rows(server) == ROWS
    assert _triggers(server, key) == [("streaming", "succeeded")]


def test_managed_client_falls_back_when_over_the_server_limit(server: SdkServer, key: str) -> None:
    # Small once gzip-compressed (the SDK's own check passes), over 4 MB inflated: ingestd
    # refuses it (413, not permanent) before making anything, and the SDK queues it instead.
    # (Varied rows: a far more repetitive body would trip the decompression-ratio guard.)
    data = "".join(f"name{i},{i}\n" for i in range(260_000)).encode()
    count = 260_000
    assert len(data) > MAX_STREAMING_BYTES
    with _managed(server, key) as client:
        client.ingest_from_stream(
            StreamDescriptor(io.BytesIO(data), stream_name="big.csv"), _properties()
        )
    _wait_for(server, count)
    time.sleep(0.5)  # anything loading twice would have landed by now, too
    assert _count(server) == count
    # The streaming attempts made nothing; one queued operation loaded the rows.
    assert _triggers(server, key) == [("queued", "succeeded")]


def test_managed_client_queues_what_is_over_the_limit_compressed(
    server: SdkServer, key: str
) -> None:
    # Random text barely compresses: over 4 MB even gzip-compressed, so the SDK does not try
    # to stream it at all.
    rows = [(base64.b64encode(os.urandom(600)).decode(), i) for i in range(8000)]
    data = "".join(f"{name},{n}\n" for name, n in rows).encode()
    with _managed(server, key) as client:
        client.ingest_from_stream(
            StreamDescriptor(io.BytesIO(data), stream_name="random.csv"), _properties()
        )
    _wait_for(server, len(rows))
    assert _count(server) == len(rows)
    assert _triggers(server, key) == [("queued", "succeeded")]


def test_managed_client_falls_back_after_transient_failures(
    server: SdkServer, key: str, http_blobs: HttpServer
) -> None:
    # The blob answers 503 to the three streaming attempts (each fetched in its request),
    # then serves it to the queued ingestion the SDK falls back to.
    name = f"flaky-{os.urandom(4).hex()}.csv"
    http_blobs.put(name, CSV)
    http_blobs.flaky_failures = 3
    url = http_blobs.url(f"/flaky/{name}")
    with _managed(server, key) as client:
        client.ingest_from_blob(BlobDescriptor(url, len(CSV)), _properties())
    _wait_for(server, len(ROWS))
    time.sleep(0.5)
    assert _rows(server) == ROWS  # once: the failed streaming units loaded nothing
    triggers = _triggers(server, key)
    assert triggers[-1] == ("queued", "succeeded")
    assert triggers[:-1] == [("streaming", "failed")] * 3


def test_managed_client_raises_a_permanent_error(server: SdkServer, key: str) -> None:
    with _managed(server, key) as client, pytest.raises(KustoApiError) as raised:
        client.ingest_from_stream(
            StreamDescriptor(io.BytesIO(b'{"name":"x"}\n'), stream_name="s.json"),
            _properties(data_format=DataFormat.JSON),
        )
    assert raised.value.get_api_error().code == "BadRequest_MissingMappingFailure"
    assert raised.value.get_api_error().permanent is True
    # Permanent: no queued fallback was made.
    assert all(trigger == "streaming" for trigger, _ in _triggers(server, key))
