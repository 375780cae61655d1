"""The CLI against a running server: a real ``ingestd serve`` and the CLI as a subprocess.

While a server runs for the data directory (server.json), or with ``--server URL`` and
``INGESTD_API_KEY``, ``run``, ``runs`` and ``quarantine`` go through the native API and print
what they print locally: the same tables, the same ``--json``, the same exit codes.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingestd.cli.remote import discovery
from tests.integration.serving import Server, free_port, serving

pytestmark = pytest.mark.slow

DAY, EMPTY_DAY = "2024-03-01", "2024-03-02"
CLI = [sys.executable, "-c", "from ingestd.cli.main import run; run()"]


def cli(
    data: Path, *args: str, code: int | None = 0, **env: str
) -> subprocess.CompletedProcess[str]:
    """``ingestd args`` on ``data``; asserts the exit code unless ``code`` is None."""
    environment = {
        k: v for k, v in os.environ.items() if k not in ("INGESTD_SERVER_URL", "INGESTD_API_KEY")
    }
    environment.update({"COLUMNS": "200", "INGESTD_DATA_DIR": str(data), **env})
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=environment, timeout=120
    )
    if code is not None:
        assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
    return done


def _project(data: Path, project: str) -> None:
    """Table shop.orders, a file connection and source ``orders`` in ``project``: DAY's file
    has one bad row (quarantined); EMPTY_DAY has no file, so its unit fails."""
    files = data / "files" / project / "in"
    files.mkdir(parents=True)
    (files / f"orders_{DAY}.csv").write_text("id,amount\n1,10.5\n2,x\n3,7\n")
    p = ("--project", project)
    cli(
        data,
        "tables",
        "create",
        "shop.orders",
        "-c",
        "id:int64:required",
        "-c",
        "amount:float64",
        "--primary-key",
        "id",
        *p,
    )
    cli(
        data,
        "connections",
        "create",
        "in",
        "--kind",
        "file",
        "--config",
        json.dumps({"root": str(files)}),
        *p,
    )
    cli(
        data,
        "sources",
        "create",
        "orders",
        "--table",
        "shop.orders",
        "--connection",
        "in",
        "--path",
        "orders_{ds}.csv",
        "--mode",
        "upsert",
        *p,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module: projects acme (console key from ``serving``) and beta."""
    data = tmp_path_factory.mktemp("remote") / "data"
    data.mkdir()
    _project(data, "acme")
    _project(data, "beta")
    with serving(data, workers="1", retry_max_attempts="1") as server:
        yield server


def test_serve_writes_server_json_mode_0600_and_the_cli_finds_it(served: Server) -> None:
    path = discovery.server_file(served.data)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    info = discovery.read(served.data)
    assert info is not None and info.url == served.url and info.pid == served.process.pid
    assert len(info.token) >= 32 and info.token not in repr(info)
    # quarantine list opens the DuckDB destination the server holds: it works only remotely.
    out = cli(served.data, "run", "orders", "--day", DAY, "--project", "acme").stdout
    assert "succeeded" in out and "1 unit(s) enqueued" in out
    listed = cli(served.data, "quarantine", "list", "--project", "acme").stdout
    assert "TYPE_MISMATCH" in listed and "amount" in listed


def test_a_failed_unit_exits_1_with_the_table_printed(served: Server) -> None:
    done = cli(served.data, "run", "orders", "--day", EMPTY_DAY, "--project", "acme", code=1)
    assert "SOURCE_NOT_FOUND" in done.stdout and "failed" in done.stdout


def test_a_backfill_runs_remotely_and_reports_every_day(served: Server) -> None:
    done = cli(
        served.data, "run", "orders", "--from", DAY, "--to", EMPTY_DAY, "--project", "beta", code=1
    )
    assert "2 unit(s) enqueued" in done.stdout and "backfill" in done.stdout
    assert done.stdout.count("succeeded") >= 1 and "SOURCE_NOT_FOUND" in done.stdout


def test_server_refusals_keep_code_message_hint_and_exit_2(served: Server) -> None:
    missing = cli(served.data, "run", "nope", "--day", DAY, "--project", "acme", code=2)
    assert "source 'nope' does not exist (NOT_FOUND)" in missing.stderr
    unknown = cli(served.data, "runs", "show", "ffffffff", "--project", "acme", code=2)
    assert "NOT_FOUND" in unknown.stderr and "hint" in unknown.stderr
    assert "Traceback" not in missing.stderr + unknown.stderr


def test_no_wait_starts_the_run_and_the_server_loads_it(served: Server) -> None:
    out = cli(served.data, "run", "orders", "--day", DAY, "--no-wait", "--project", "acme").stdout
    run_id = out.split()[1].rstrip(":")
    for _ in range(100):
        shown = json.loads(
            cli(served.data, "--json", "runs", "show", run_id[:8], "--project", "acme").stdout
        )
        if shown["state"] == "succeeded":
            break
    assert shown["id"] == run_id and shown["state"] == "succeeded"
    assert shown["units"][0]["counts"] == {
        "read": 3,
        "inserted": 0,
        "updated": 2,
        "rejected": 0,
        "errors": 1,
    }


def test_a_key_of_one_project_cannot_act_on_another(served: Server) -> None:
    remote = {"INGESTD_SERVER_URL": served.url, "INGESTD_API_KEY": served.key}  # acme's key
    cli(served.data, "run", "orders", "--day", DAY, "--project", "beta")  # operator token
    beta_runs = json.loads(cli(served.data, "--json", "runs", "list", "--project", "beta").stdout)
    refused = cli(served.data, "runs", "list", "--project", "beta", code=2, **remote)
    assert "FORBIDDEN" in refused.stderr and "'acme'" in refused.stderr
    beta_run = beta_runs["runs"][0]["id"]
    hidden = cli(served.data, "runs", "show", beta_run, "--project", "acme", code=2, **remote)
    assert "NOT_FOUND" in hidden.stderr and beta_run not in hidden.stdout
    started = cli(served.data, "run", "orders", "--day", DAY, "--project", "beta", code=2, **remote)
    assert "FORBIDDEN" in started.stderr
    after = json.loads(cli(served.data, "--json", "runs", "list", "--project", "beta").stdout)
    assert after["total"] == beta_runs["total"]
    own = cli(served.data, "--json", "runs", "list", "--project", "acme", **remote)
    assert json.loads(own.stdout)["total"] >= 1


def test_a_wrong_operator_token_is_refused(served: Server, tmp_path: Path) -> None:
    info = discovery.read(served.data)
    assert info is not None
    # A copy of server.json with another token, in a data directory of its own.
    other = tmp_path / "other"
    other.mkdir()
    discovery.write(other, discovery.ServerInfo(info.url, info.pid, info.started_at, "x" * 43))
    refused = cli(other, "runs", "list", "--project", "acme", code=2)
    assert "AUTHENTICATION_REQUIRED" in refused.stderr and "x" * 43 not in refused.stderr


def test_a_server_that_does_not_answer_is_one_line_and_exit_1(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = cli(tmp_path, "runs", "list", code=1, INGESTD_SERVER_URL=url, INGESTD_API_KEY="k" * 40)
    assert (
        done.stderr.startswith("error: the ingestd server at")
        and "SERVER_UNREACHABLE" in done.stderr
    )
    assert "hint:" in done.stderr and "Traceback" not in done.stderr
    nokey = cli(tmp_path, "--server", url, "runs", "list", code=2)
    assert "INGESTD_API_KEY" in nokey.stderr
    # A command that works only on the data directory refuses rather than act on this one.
    local = cli(tmp_path, "--server", url, "keys", "list", code=2, INGESTD_API_KEY="k" * 40)
    assert "not through a server" in local.stderr
    assert not (tmp_path / "metadata.sqlite").exists()


STARTED = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
"""A server.json's start time: shown to operators, never compared with the clock."""


def test_a_stale_server_json_is_ignored_and_replaced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _project(data, "acme")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = discovery.ServerInfo(f"http://127.0.0.1:{free_port()}", gone.pid, STARTED, "s" * 43)
    discovery.write(data, stale)
    # The pid is gone: the CLI works here (quarantine list opens the destination itself).
    cli(data, "run", "orders", "--day", DAY, "--project", "acme")
    cli(data, "quarantine", "list", "--project", "acme")
    # This process is alive, but nothing answers the URL: ignored too.
    discovery.write(
        data, discovery.ServerInfo(stale.url, os.getpid(), stale.started_at, stale.token)
    )
    cli(data, "runs", "list", "--project", "acme")
    with serving(data) as server:
        fresh = discovery.read(data)
        assert fresh is not None and fresh.pid == server.process.pid and fresh.token != stale.token
        cli(data, "runs", "list", "--project", "acme", "--debug")  # through the server
        server.process.terminate()
        assert server.process.stderr is not None
        log = server.process.stderr.read().decode()
        server.process.wait(30)
    assert "GET /runs 200" in log and "project=acme" in log  # the request, not the token
    assert fresh.token not in log
    assert not discovery.server_file(data).exists()  # removed on a clean stop


def test_json_and_tables_are_the_same_locally_and_remotely(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _project(data, "acme")
    cli(data, "run", "orders", "--day", DAY, "--project", "acme")
    cli(data, "run", "orders", "--day", EMPTY_DAY, "--project", "acme", code=1)
    commands = [
        ("--json", "runs", "list", "--project", "acme"),
        ("--json", "quarantine", "list", "--project", "acme"),
        ("runs", "list", "--project", "acme"),
        ("quarantine", "list", "--project", "acme"),
        ("status", "--json", "--end", EMPTY_DAY, "--days", "3", "--project", "acme"),
        ("status", "--end", EMPTY_DAY, "--days", "3", "--project", "acme"),
    ]
    local = [cli(data, *c).stdout for c in commands]
    run_id = json.loads(local[0])["runs"][0]["id"]
    shows = [
        ("--json", "runs", "show", run_id, "--project", "acme"),
        ("runs", "show", run_id[:6], "--project", "acme"),
    ]
    local += [cli(data, *c).stdout for c in shows]
    with serving(data):
        remote = [cli(data, *c).stdout for c in commands + shows]
    assert json.loads(remote[0]) == json.loads(local[0])
    assert json.loads(remote[1]) == json.loads(local[1])
    assert json.loads(remote[4]) == json.loads(local[4])
    assert json.loads(remote[6]) == json.loads(local[6])
    assert remote[2:4] == local[2:4] and remote[5] == local[5] and remote[7] == local[7]
    grid = json.loads(local[4])["sources"][0]["days"]
    assert grid[DAY]["status"] == "IMPORT_SUCCESSFUL" and grid[EMPTY_DAY]["status"].endswith(
        "ERROR"
    )
