"""INGESTD_LOG_FORMAT=json: one JSON object per line, with the request id each dialect uses,
the project, run and unit ids, an access-log line per request, and never a secret."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.observability.logging import handler
from ingestd.services import Services
from tests.conftest import make_services

DAY = "2024-03-01"
MAPPING = {"unit_id": "user", "event_name": "event", "timestamp": "ts"}
FIELDS = {"timestamp", "level", "logger", "message"}


@dataclass
class Captured:
    stream: io.StringIO

    def lines(self) -> list[dict[str, Any]]:
        text = self.stream.getvalue()
        parsed = [json.loads(line) for line in text.splitlines()]  # every line is one object
        for line in parsed:
            assert set(line) >= FIELDS, line
        return parsed

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["logger"] == "ingestd.access"]


@pytest.fixture
def captured() -> Iterator[Captured]:
    """The process's log lines in the JSON format, as ``ingestd serve`` writes them."""
    stream = io.StringIO()
    out = handler("json", stream)
    root, ingestd = logging.getLogger(), logging.getLogger("ingestd")
    levels = root.level, ingestd.level
    root.addHandler(out)
    # INFO everywhere: the test client's own request lines (with their query strings) too.
    root.setLevel(logging.INFO)
    ingestd.setLevel(logging.INFO)
    try:
        yield Captured(stream)
    finally:
        root.removeHandler(out)
        root.setLevel(levels[0])
        ingestd.setLevel(levels[1])


@dataclass
class App:
    client: TestClient
    services: Services
    key: str


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    services = make_services(tmp_path / "data", retry_base_seconds=0.01, retry_max_attempts=1)
    key = services.access.create_key("acme", KeyKind.CONSOLE)
    with TestClient(create_app(services, background=False)) as client:
        yield App(client, services, key)
    services.close()


def test_an_api_request_has_one_access_line_with_its_request_id_and_project(
    app: App, captured: Captured
) -> None:
    response = app.client.get(
        "/console/v1/ingestion/runs/no-such-run",
        headers={"STATSIG-API-KEY": app.key, "X-Request-Id": "req-7f3a"},
    )
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "req-7f3a"
    [line] = captured.access()
    assert line["level"] == "INFO"
    assert line["request_id"] == "req-7f3a" and line["project"] == "acme"
    assert line["method"] == "GET" and line["status"] == 404 and line["dialect"] == "statsig"
    assert line["path"] == "/console/v1/ingestion/runs/{run_id}"  # the template, not the id
    assert isinstance(line["duration_ms"], int | float) and line["duration_ms"] >= 0
    assert "no-such-run" not in json.dumps(line)


def test_kusto_requests_carry_the_client_request_id(app: App, captured: Captured) -> None:
    response = app.client.post(
        "/v1/rest/mgmt",
        json={"csl": ".show tables", "db": "db"},
        headers={
            "Authorization": f"Bearer {app.key}",
            "x-ms-client-request-id": "KPC.execute;1f2e3d",
        },
    )
    assert response.headers["x-ms-client-request-id"] == "KPC.execute;1f2e3d"
    [line] = captured.access()
    assert line["request_id"] == "KPC.execute;1f2e3d"
    assert line["dialect"] == "kusto" and line["project"] == "acme"
    assert line["path"] == "/v1/rest/mgmt" and line["status"] == response.status_code


def test_a_request_without_a_usable_id_gets_a_generated_one(app: App, captured: Captured) -> None:
    hostile = "x" * 300  # too long to be copied into every line
    first = app.client.get("/healthz")
    second = app.client.get("/healthz", headers={"X-Request-Id": hostile})
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and ids[0] != ids[1]
    assert [line["request_id"] for line in captured.access()] == ids
    assert all("project" not in line for line in captured.access())  # nobody signed in
    assert hostile not in captured.stream.getvalue()


def test_amperity_errors_name_the_same_request_id_in_body_header_and_log(
    app: App, captured: Captured
) -> None:
    response = app.client.get(
        "/api/ingest/jobs",
        headers={"X-Request-Id": "amp-42", "api-version": "2024-04-01", "amperity-tenant": "acme"},
    )
    assert response.status_code == 401
    assert response.json()["request_id"] == "amp-42"
    assert response.headers["x-request-id"] == "amp-42"
    [line] = captured.access()
    assert line["request_id"] == "amp-42" and line["dialect"] == "amperity"


def test_a_unit_run_logs_its_project_run_and_unit(app: App, captured: Captured) -> None:
    files = app.services.settings.data_dir / "files" / "acme"
    (files / "events" / DAY).mkdir(parents=True)
    (files / "events" / DAY / "a.csv").write_text("user,event,ts\nu1,view,1709251200\nu2,x,no\n")
    headers = {"STATSIG-API-KEY": app.key}
    app.client.post(
        "/console/v1/ingestion/connection/file", json={"root": str(files)}, headers=headers
    )
    app.client.post(
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
    run_id = app.client.post(
        "/console/v1/ingestion/backfill",
        json={"datestamp_start": DAY, "datestamp_end": DAY, "type": "file", "dataset": "Events"},
        headers=headers,
    ).json()["data"]["runID"]
    pool = app.services.pool(workers=1)
    while pool.run_once():
        pass
    run = app.services.runs.get_run(app.services.access.project_id("acme"), run_id)
    [unit] = run.units
    executor = [line for line in captured.lines() if line["logger"] == "ingestd.executor"]
    assert [line["message"].split(": ")[0] for line in executor] == [
        f"unit {unit.id} started (attempt 1, {pool.name}/inline)",
        f"unit {unit.id} succeeded",
    ]
    for line in executor:
        assert line["project"] == "acme" and line["run_id"] == run_id
        assert line["unit_id"] == unit.id and "request_id" not in line
    assert executor[-1]["message"].endswith("read 2, inserted 1, updated 0, rejected 0, errors 1")
    # The API's lines are the requests', never the unit's.
    assert all("unit_id" not in line for line in captured.access())


def test_planted_keys_and_sas_signatures_never_reach_the_log(app: App, captured: Captured) -> None:
    created = app.client.post(
        "/v1/rest/mgmt",
        json={"csl": ".create table T (a:string)", "db": "db"},
        headers={"Authorization": f"Bearer {app.key}"},
    )
    assert created.status_code == 200, created.text
    sas = "https://10.20.30.40/c/b.csv?sv=2022-11-02&se=2030-01-01&sig=PLANTEDSAS%2Fsig"
    account_key = "https://acct.blob.core.windows.net/c/k.csv;PLANTEDACCOUNTKEY=="
    queued = app.client.post(
        "/v1/rest/ingestion/queued/db/T?sig=PLANTEDQUERYSIG",
        json={"blobs": [{"url": sas}, {"url": account_key}], "properties": {"format": "csv"}},
        headers={"Authorization": f"Bearer {app.key}", "Cookie": "session=PLANTEDCOOKIE"},
    )
    assert queued.status_code == 200, queued.text
    pool = app.services.pool(workers=1)
    while pool.run_once():
        pass
    text = captured.stream.getvalue()
    failures = [
        line
        for line in captured.lines()
        if line["logger"] == "ingestd.executor" and line["level"] == "WARNING"
    ]
    assert len(failures) == 2  # each blob's failure was logged, with its unit
    assert "sig=***" in text  # the test client logged the URL: redacted
    assert all(line["unit_id"] and line["project"] == "acme" for line in failures)
    for secret in ("PLANTEDSAS", "PLANTEDACCOUNTKEY", "PLANTEDQUERYSIG", "PLANTEDCOOKIE"):
        assert secret not in text, secret
    assert app.key not in text and app.key[len("console-") :] not in text
