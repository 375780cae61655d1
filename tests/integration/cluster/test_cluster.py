"""INGESTD_EXECUTOR=celery with real processes: `serve` dispatches, `ingestd worker` processes
(each on a data directory of its own) download and load, PostgreSQL holds the metadata and the
data. What a user sees must be what the single-process mode gives: every unit once, exact
counts and metrics, a cancel that reaches the worker, a scheduler that survives its leader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.cluster.world import CLI, Cluster, clean_digest, cluster, csv_blob

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROWS = 4000


def _metric(client: httpx.Client, name: str, **labels: str) -> float:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    total = 0.0
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def _queue(world: Cluster, blobs: int, rows: int = ROWS) -> list[str]:
    with world.client() as client:
        return [
            world.queue_blob(world.blobs.put(f"part-{n}.csv", csv_blob(n * rows, rows)), client)
            for n in range(blobs)
        ]


def _lease_owners(world: Cluster) -> set[str]:
    with world.metadata() as conn:
        rows = conn.execute(
            "SELECT message FROM status_history WHERE message LIKE 'attempt % by %'"
        ).fetchall()
    # "attempt 1 by ingestd@<host>:<pid>/<thread>"
    return {str(m).split(" by ", 1)[1].split("/", 1)[0].rsplit(":", 1)[1] for (m,) in rows}


def test_units_run_once_on_the_workers_with_exact_counts_and_metrics(tmp_path: Path) -> None:
    with cluster(tmp_path) as world:
        world.setup_project()
        world.start_serve()
        workers = [world.start_worker(), world.start_worker()]
        world.create_table()
        with world.client() as client:
            before = _metric(client, "ingestd_rows_total", project="acme", outcome="inserted")
        operations = _queue(world, 8)
        statuses = world.wait_for(operations, timeout=180)
        assert all(s["status"]["Succeeded"] == 1 for s in statuses), statuses

        expected_rows = 0
        for n in range(8):
            expected_rows += clean_digest(n * ROWS, ROWS)[0]
        count, _ = world.destination_digest()
        assert count == expected_rows
        with world.client() as client:
            inserted = _metric(client, "ingestd_rows_total", project="acme", outcome="inserted")
            errors = _metric(client, "ingestd_rows_total", project="acme", outcome="errors")
            read = _metric(client, "ingestd_rows_total", project="acme", outcome="read")
            succeeded = _metric(client, "ingestd_units_total", state="succeeded")
            in_flight = _metric(client, "ingestd_units_in_flight")
        assert inserted - before == expected_rows
        assert read == 8 * ROWS and errors == 8 * ROWS - expected_rows
        assert succeeded == 8 and in_flight == 0
        # Both workers took part (a unit's claim names its worker's host:pid).
        assert _lease_owners(world) == {str(w.pid) for w in workers}


def test_celery_inspect_the_native_api_and_the_cli_show_the_workers(tmp_path: Path) -> None:
    with cluster(tmp_path) as world:
        world.setup_project()
        world.start_serve()
        workers = [world.start_worker(), world.start_worker()]
        inspect = [sys.executable, "-m", "celery", "-A", "ingestd.executor.celery_app"]
        env = world.env(tmp_path / "inspect")
        deadline = time.monotonic() + 60
        while True:
            ping = subprocess.run(
                [*inspect, "inspect", "ping", "--timeout", "3"],
                env=env,
                capture_output=True,
                text=True,
            )
            if all(f":{w.pid}" in ping.stdout for w in workers):
                break
            assert time.monotonic() < deadline, ping.stdout + ping.stderr
        with world.client() as client:
            response = client.get("/ingestd/v1/workers")
        assert response.status_code == 200, response.text
        names = {w["name"] for w in response.json()["workers"]}
        expected = {f"ingestd@{os.uname().nodename}:{w.pid}" for w in workers}
        assert expected <= names
        assert response.json()["executor"] == "celery"
        assert response.json()["broker_reachable"] is True
        # The CLI asks the same API of a named server.
        listed_env = {**env, "INGESTD_API_KEY": world.key}
        listed = subprocess.run(
            [*CLI, "--server", world.url, "workers", "--json", "--project", "acme"],
            env=listed_env,
            capture_output=True,
            text=True,
        )
        assert listed.returncode == 0, listed.stderr
        assert expected <= {w["name"] for w in json.loads(listed.stdout)["workers"]}


def test_a_cancel_reaches_the_unit_on_whichever_worker_runs_it(tmp_path: Path) -> None:
    # 64 KiB/s: the blob's download lasts about a minute, the cancel comes within seconds.
    with cluster(tmp_path, blob_rate=64 * 1024) as world:
        world.setup_project()
        world.start_serve()
        world.start_worker()
        world.create_table()
        (operation,) = _queue(world, 1, rows=200_000)
        deadline = time.monotonic() + 60
        with world.metadata() as conn:
            while True:
                row = conn.execute("SELECT id, state FROM units").fetchone()
                if row is not None and row[1] == "downloading":
                    break
                assert time.monotonic() < deadline, row
                time.sleep(0.1)
            conn.commit()
        unit_id = row[0]
        with world.client() as client:
            response = client.post(f"/ingestd/v1/units/{unit_id}/cancel")
        assert response.status_code == 200, response.text
        (status,) = world.wait_for([operation], timeout=60)
        assert status["status"]["Canceled"] == 1, status
        with world.metadata() as conn:
            found = conn.execute("SELECT state FROM units WHERE id = %s", (unit_id,)).fetchone()
        assert found == ("canceled",)


def test_the_scheduler_moves_to_another_serve_when_its_leader_is_killed(tmp_path: Path) -> None:
    with cluster(tmp_path) as world:
        world.setup_project()
        first = world.start_serve()
        second = world.start_serve()
        world.start_worker()
        world.create_table()

        def leader() -> list[str]:
            return [s.role for s in (first, second) if "now leads" in s.tail()]

        deadline = time.monotonic() + 30
        while not leader():
            assert time.monotonic() < deadline, first.tail() + second.tail()
            time.sleep(0.1)
        leading, following = (first, second) if "now leads" in first.tail() else (second, first)
        assert "now leads" not in following.tail()
        leading.kill()
        # Units queued through the surviving serve are dispatched once it has taken over.
        world.url = world._url_of(following)
        operations = _queue(world, 2)
        statuses = world.wait_for(operations, timeout=120)
        assert all(s["status"]["Succeeded"] == 1 for s in statuses)
        assert "now leads" in following.tail()
