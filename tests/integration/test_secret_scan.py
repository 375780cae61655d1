"""Secrets never show and are never stored in plain text (issue #11 item 4).

A distinct secret is planted in every secret field of every connection type, through the Statsig
API and through the CLI (the CLI with the fields' other accepted names), plus blob URLs whose
credential part is secret (a SAS ``sig=``, S3 and Azure ``;`` key suffixes, ``user:password@``)
through the Kusto REST and management routes. Units run and fail (their hosts are refused by
the egress policy, no network is used). Then every API answer (connections, sources, runs,
daily status, Kusto status and operations), the captured log, the CLI's output and the raw
bytes of every file in the data directory (metadata.sqlite and its WAL included) are searched:
none may contain any planted secret.

The Amperity dialect takes no URL and no connection body (feeds read sources), so nothing can
be planted through it; its job listing is searched too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ingestd.api.app import create_app
from ingestd.api.statsig.schemas import CONNECTION_KIND_OF_TYPE
from ingestd.cli.main import app as cli_app
from ingestd.control.access import KeyKind
from ingestd.domain.connections import BODIES, ConnectionBody
from ingestd.services import Services
from tests.api.amperity.conftest import VERSION
from tests.api.statsig.conftest import EVENTS_MAPPING
from tests.conftest import make_services

DAY = "2024-03-01"
AMPERITY = {"api-version": VERSION}
LOOPBACK_REFUSED = "127.0.0.1"
"""Hosts of the planted connections and blobs: refused by the default egress policy before any
connection is tried, so the units fail without touching a network."""


def required_settings(kind: str, files: Path, via: str) -> dict[str, Any]:
    """The least each kind needs besides its secrets (``via``: which front end planted it,
    so the blobs below match exactly one store connection)."""
    return {
        "file": {"root": str(files)},
        "s3": {"endpoint_url": f"http://{LOOPBACK_REFUSED}:9", "buckets": [f"{via}bucket"]},
        "gcs": {"endpoint_url": f"http://{LOOPBACK_REFUSED}:9"},
        "adls": {
            "account": "scanacct",
            "endpoint": f"http://{LOOPBACK_REFUSED}:9",
            "containers": [f"{via}c"],
        },
        "postgres": {"host": LOOPBACK_REFUSED, "port": 1, "database": "d", "user": "u"},
        "redshift": {"host": LOOPBACK_REFUSED, "port": 1, "database": "d", "user": "u"},
        "mysql": {"host": LOOPBACK_REFUSED, "port": 1, "user": "u"},
        "sqlite": {"path": str(files / "none.sqlite")},
        "duckdb": {"path": str(files / "none.duckdb")},
        "snowflake": {"account": "acct", "user": "u", "host": LOOPBACK_REFUSED},
        "bigquery": {"project": "p", "api_endpoint": f"http://{LOOPBACK_REFUSED}:9"},
        "databricks": {"host": LOOPBACK_REFUSED, "path": "/sql/1.0/x"},
        "athena": {"region_name": "us-east-1", "endpoint_url": f"http://{LOOPBACK_REFUSED}:9"},
        "synapse": {"host": LOOPBACK_REFUSED, "port": 1},
    }[kind]


def other_name(model: type[ConnectionBody], field: str) -> str:
    """The field's other accepted name if it has one (``access_key`` for
    ``aws_access_key_id``), else its name."""
    alias = model.model_fields[field].validation_alias
    choices = [c for c in getattr(alias, "choices", ()) if isinstance(c, str)]
    return next((c for c in choices if c != field), field)


class Planted:
    def __init__(self) -> None:
        self.values: list[str] = []

    def new(self, where: str) -> str:
        value = f"PLANTED{len(self.values):03d}x{where.replace('-', '')}Zq"
        self.values.append(value)
        return value

    def found_in(self, text: str | bytes) -> list[str]:
        data = text.encode() if isinstance(text, str) else text
        return [v for v in self.values if v.encode() in data]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Services, TestClient, str]]:
    services = make_services(tmp_path / "data", retry_base_seconds=0.01, retry_max_attempts=1)
    key = services.access.create_key("scan", KeyKind.CONSOLE)
    with TestClient(create_app(services, background=False)) as client:
        yield services, client, key
    services.close()


def drain(services: Services) -> None:
    pool = services.pool(workers=1)
    while pool.run_once():
        pass


def test_no_planted_secret_shows_anywhere_or_is_stored_in_plain_text(
    world: tuple[Services, TestClient, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    services, client, key = world
    statsig = {"STATSIG-API-KEY": key}
    kusto = {"Authorization": f"Bearer {key}"}
    files = services.settings.data_dir / "files" / "scan"
    files.mkdir(parents=True, exist_ok=True)
    planted = Planted()
    answers: list[str] = []

    # Statsig: every type, every secret field under its own name.
    for connection_type, kind in CONNECTION_KIND_OF_TYPE.items():
        model = BODIES[kind]
        body = required_settings(kind, files, "api")
        body |= {f: planted.new(f"{kind}{f}") for f in sorted(model.secret_fields())}
        response = client.post(
            f"/console/v1/ingestion/connection/{connection_type}", json=body, headers=statsig
        )
        assert response.status_code == 200, (connection_type, response.text)
        answers.append(response.text)
        if model.secret_fields():
            assert response.json()["data"]["data"]["secrets"] == "[redacted]"
        answers.append(
            client.get(f"/console/v1/ingestion/connection/{connection_type}", headers=statsig).text
        )

    # CLI: every kind, secrets by their other accepted names, as --secret KEY=VALUE.
    runner = CliRunner()
    data_dir = str(services.settings.data_dir)
    cli_output: list[str] = []
    for kind, model in sorted(BODIES.items()):
        args = ["--data-dir", data_dir, "connections", "create", f"cli-{kind}", "--kind", kind]
        args += ["--project", "scan", "--config", json.dumps(required_settings(kind, files, "cli"))]
        for field in sorted(model.secret_fields()):
            args += ["--secret", f"{other_name(model, field)}={planted.new(f'cli{kind}{field}')}"]
        result = runner.invoke(cli_app, args)
        assert result.exit_code == 0, (kind, result.output, result.exception)
        cli_output.append(result.output)
    listing = runner.invoke(cli_app, ["--data-dir", data_dir, "connections", "list", "-p", "scan"])
    assert listing.exit_code == 0 and "cli-snowflake" in listing.output
    cli_output.append(listing.output)

    # The CLI's secrets were stored under the fields' own names, ready for the reader.
    project_id = services.access.project_id("scan")
    athena = services.catalog.connection_secrets(project_id, "cli-athena")
    assert set(athena) == {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"}
    snowflake = services.catalog.connection_secrets(project_id, "cli-snowflake")
    assert "private_key_file_pwd" in snowflake

    # A query source on the planted postgres connection, run for a day: it fails (refused
    # host), and its error travels to runs and daily status.
    created = client.post(
        "/console/v1/ingestion",
        json={
            "type": "postgres",
            "dataset": "Events",
            "source_name": "pg",
            "query": "SELECT 1",
            "column_mapping": EVENTS_MAPPING,
        },
        headers=statsig,
    )
    assert created.status_code == 200, created.text
    backfill = client.post(
        "/console/v1/ingestion/backfill",
        json={
            "datestamp_start": DAY,
            "datestamp_end": DAY,
            "type": "postgres",
            "dataset": "Events",
        },
        headers=statsig,
    )
    assert backfill.status_code == 200, backfill.text

    # Kusto: blob URLs with credentials, through the REST queue and a management command.
    sas = planted.new("sas")
    password = planted.new("urlpassword")
    aws_secret = planted.new("inlineaws")
    account_key = planted.new("inlineazure")
    urls = [
        f"http://{LOOPBACK_REFUSED}:9/c/a.csv?sv=2022-11-02&sig={sas}&se=2030",
        f"http://scanuser:{password}@{LOOPBACK_REFUSED}:9/b.csv",
        f"s3://apibucket/c.csv;AwsCredentials=AKIDSCAN,{aws_secret}",
        f"https://scanacct.blob.core.windows.net/apic/d.csv;{account_key}",
    ]
    assert (
        client.post(
            "/v1/rest/mgmt", json={"db": "db", "csl": ".create table T (a:string)"}, headers=kusto
        ).status_code
        == 200
    )
    queued = client.post(
        "/v1/rest/ingestion/queued/db/T",
        json={
            "blobs": [{"url": u} for u in urls[:2]],
            "properties": {"format": "csv", "enableTracking": True},
        },
        headers=kusto,
    )
    assert queued.status_code == 200, queued.text
    operation = queued.json()["ingestionOperationId"]
    command = client.post(
        "/v1/rest/mgmt",
        json={
            "db": "db",
            "csl": ".ingest-from-storage-queued into table T EnableTracking=true "
            "with (format='csv') <| " + " ".join(f"h'{u}'" for u in urls[2:]),
        },
        headers=kusto,
    )
    assert command.status_code == 200, command.text
    answers += [queued.text, command.text]

    drain(services)

    run_id = backfill.json()["data"]["runID"]
    answers += [
        client.get("/console/v1/ingestion/runs", headers=statsig).text,
        client.get(f"/console/v1/ingestion/runs/{run_id}", headers=statsig).text,
        client.get(
            "/console/v1/ingestion",
            params={"type": "postgres", "dataset": "Events"},
            headers=statsig,
        ).text,
        client.get(
            "/console/v1/ingestion/status",
            params={"start_date": DAY, "end_date": DAY, "type": "postgres", "dataset": "Events"},
            headers=statsig,
        ).text,
        client.get(
            f"/v1/rest/ingestion/queued/db/T/{quote(operation, safe='')}",
            params={"details": "true"},
            headers=kusto,
        ).text,
        client.get("/v1/rest/ingestion/queued/db/T/", headers=kusto).text,
        client.post(
            "/v1/rest/mgmt",
            json={"db": "db", "csl": ".show queued ingestion operations"},
            headers=kusto,
        ).text,
        client.get(
            "/api/ingest/jobs",
            headers={"Authorization": f"Bearer {key}", "amperity-tenant": "scan", **AMPERITY},
        ).text,
    ]
    # The runs really ran and failed: the scan below searched real error messages.
    run = client.get(f"/console/v1/ingestion/runs/{run_id}", headers=statsig).json()
    assert run["data"]["latestStatus"] == "download_error", run
    status = client.get(
        f"/v1/rest/ingestion/queued/db/T/{quote(operation, safe='')}",
        params={"details": "true"},
        headers=kusto,
    ).json()
    assert status.get("status", {}).get("Failed") == 2, status

    leaks = {
        "API answers": planted.found_in("\n".join(answers)),
        "log": planted.found_in("\n".join(r.getMessage() for r in caplog.records)),
        "CLI output": planted.found_in("\n".join(cli_output)),
    }
    for path in sorted(services.settings.data_dir.rglob("*")):
        if path.is_file():
            leaks[str(path)] = planted.found_in(path.read_bytes())
    services.close()  # checkpoints the WAL into the file: searched again below
    for path in sorted(services.settings.data_dir.rglob("*")):
        if path.is_file():
            leaks[f"{path} (closed)"] = planted.found_in(path.read_bytes())
    assert {where: found for where, found in leaks.items() if found} == {}
    assert len(planted.values) > 40  # every field of every type was planted
