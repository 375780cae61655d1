"""`ingestd worker` and `ingestd serve` refuse settings that cannot work across machines: one
line naming the setting to change, exit 2, before anything starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestd.cli.main import execute
from ingestd.control.deployment import check_deployment
from ingestd.errors import DeploymentInvalid
from ingestd.settings import Settings

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CLUSTER = {
    "INGESTD_EXECUTOR": "celery",
    "INGESTD_BROKER_URL": "redis://:hunter2@127.0.0.1:6379/0",
    "INGESTD_DATABASE_URL": PG,
    "INGESTD_DESTINATION_URL": PG,
    "INGESTD_SECRET_KEY": "yv3nX0cSxbYyHrd3O2SFsiiXWeuXnwJ3vu-H4uAeZ0s=",
    "INGESTD_KUSTO_STORAGE_KEY": "k" * 40,
}

REFUSALS = [
    ("INGESTD_BROKER_URL", "needs a broker", "set INGESTD_BROKER_URL"),
    ("INGESTD_DATABASE_URL", "cannot keep its metadata in SQLite", "INGESTD_DATABASE_URL="),
    ("INGESTD_DESTINATION_URL", "cannot load into the DuckDB file", "INGESTD_DESTINATION_URL="),
    ("INGESTD_SECRET_KEY", "needs INGESTD_SECRET_KEY", "ingestd secrets generate-key"),
    ("INGESTD_KUSTO_STORAGE_KEY", "needs INGESTD_KUSTO_STORAGE_KEY", "on every process"),
]


@pytest.fixture
def cluster_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INGESTD_DATA_DIR", str(tmp_path / "data"))
    for name, value in CLUSTER.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("cluster_env")
@pytest.mark.parametrize(("missing", "problem", "hint"), REFUSALS, ids=[r[0] for r in REFUSALS])
@pytest.mark.parametrize("command", ["worker", "serve"])
def test_a_cluster_setting_left_out_is_named_and_nothing_starts(
    command: str,
    missing: str,
    problem: str,
    hint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.delenv(missing)
    assert execute([command]) == 2
    out, err = capsys.readouterr()
    assert problem in err and hint in err
    assert "DEPLOYMENT_INVALID" in err
    assert "hunter2" not in out + err  # the broker URL is a secret
    assert not (tmp_path / "data").exists()  # refused before the data directory was touched


def test_a_worker_with_the_local_executor_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("INGESTD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("INGESTD_EXECUTOR", raising=False)
    assert execute(["worker"]) == 2
    err = capsys.readouterr().err
    assert "INGESTD_EXECUTOR is 'local'" in err
    assert "set INGESTD_EXECUTOR=celery" in err


def test_the_local_executor_needs_nothing_of_a_cluster() -> None:
    check_deployment(Settings(data_dir=Path("/nonexistent")))


def test_a_complete_cluster_configuration_passes(cluster_env: None) -> None:
    check_deployment(Settings())


@pytest.mark.usefixtures("cluster_env")
def test_a_postgres_scheme_without_the_driver_suffix_counts_as_postgres(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INGESTD_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    check_deployment(Settings())
    monkeypatch.setenv("INGESTD_DATABASE_URL", "sqlite:////tmp/x.sqlite")
    with pytest.raises(DeploymentInvalid):
        check_deployment(Settings())


def test_workers_on_a_data_directory_without_a_server_lists_the_local_census(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("INGESTD_DATA_DIR", str(tmp_path / "data"))
    assert execute(["workers", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == {"executor": "local", "broker_reachable": None, "workers": []}
    assert execute(["workers"]) == 0
    assert "no worker is running a unit now" in capsys.readouterr().out
