"""The file-escape list: a project reads only its own files and its grants, never another
project's files nor ingestd's own (metadata, destination, staging, stream batches), whatever
the path, `..`, symlink, glob or grant. Each attempt is refused and nothing is read or deleted.

Real services (SQLite metadata, DuckDB destination) in a temporary data directory; the
readers are the real ones (runner, fetch, SQL extract, catalog, CLI).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from ingestd.dataplane.blobs.blob_urls import parse_blob_url
from ingestd.dataplane.blobs.fetch import FetchPolicy, delete, download
from ingestd.dataplane.readers.files import expand
from ingestd.dataplane.sql import extract
from ingestd.domain.connections import connection_body
from ingestd.domain.file_access import ProjectFiles
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.domain.unit_specs import SourceDayUnitSpec
from ingestd.errors import (
    ConnectionConfigError,
    FetchNotAllowed,
    IngestdError,
    InvalidInput,
    NotFound,
)
from ingestd.services import Services
from tests.conftest import make_services

DAY = date(2024, 3, 1)
TABLE = TableSpec("raw", "people", (Column("id", ColumnType.INT64),), project="test")


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Services]:
    services = make_services(tmp_path / "data")
    services.access.ensure_project("alpha")
    services.access.ensure_project("beta")
    yield services
    services.close()


def _ids(svc: Services) -> tuple[int, int]:
    return svc.access.project_id("alpha"), svc.access.project_id("beta")


def _alpha(svc: Services) -> ProjectFiles:
    return svc.file_access.for_project(_ids(svc)[0])


def _beta_secret(svc: Services) -> Path:
    """A file of project beta, in beta's own files directory."""
    beta = svc.file_access.for_project(_ids(svc)[1])
    secret = beta.roots[0] / "secret.csv"
    secret.write_text("id\n42\n")
    return secret


def _policy(files: ProjectFiles) -> FetchPolicy:
    return FetchPolicy(max_bytes=1 << 20, timeout_seconds=5.0, files=files)


def _owned_files(svc: Services) -> list[Path]:
    """ingestd's own files, made to exist: metadata, destination, staging, stream batches."""
    data = svc.settings.data_dir
    svc.warehouse.query("SELECT 1")  # opens (creates) the destination file
    staging = data / "staging" / "extract-u1"
    staging.mkdir(parents=True)
    (staging / "blob.csv").write_text("id\n1\n")
    streams = data / "files" / "streams"
    streams.mkdir(parents=True, exist_ok=True)
    (streams / "batch.jsonl").write_text('{"id": 1}\n')
    owned = [
        data / "metadata.sqlite",
        svc.settings.destination_path,
        staging / "blob.csv",
        streams / "batch.jsonl",
    ]
    for path in owned:
        assert path.is_file(), path
    return owned


# -- the roots ------------------------------------------------------------------------------


def test_a_project_reads_its_own_files_directory_and_only_its_grants(
    svc: Services, tmp_path: Path
) -> None:
    alpha_id, _ = _ids(svc)
    files = _alpha(svc)
    assert files.roots == (svc.settings.data_dir / "files" / "alpha",)
    (files.roots[0] / "mine.csv").write_text("id\n1\n")
    assert expand(str(files.roots[0] / "*.csv"), files) == [files.roots[0] / "mine.csv"]

    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "s.csv").write_text("id\n1\n")
    svc.file_access.grant(alpha_id, shared)
    assert expand(str(shared / "s.csv"), _alpha(svc)) == [shared / "s.csv"]
    svc.file_access.revoke(alpha_id, shared)
    with pytest.raises(FetchNotAllowed, match="ingestd projects grant alpha"):
        expand(str(shared / "s.csv"), _alpha(svc))


def test_another_projects_file_by_absolute_path_is_refused(svc: Services) -> None:
    secret = _beta_secret(svc)
    with pytest.raises(FetchNotAllowed, match="outside the directories project alpha may read"):
        expand(str(secret), _alpha(svc))


def test_dot_dot_out_of_the_own_directory_is_refused(svc: Services) -> None:
    _beta_secret(svc)
    escape = _alpha(svc).roots[0] / ".." / "beta" / "secret.csv"
    with pytest.raises(FetchNotAllowed):
        expand(str(escape), _alpha(svc))


def test_a_symlink_inside_the_root_to_another_project_or_the_data_dir_is_refused(
    svc: Services,
) -> None:
    secret = _beta_secret(svc)
    root = _alpha(svc).roots[0]
    (root / "to_beta.csv").symlink_to(secret)
    (root / "meta.csv").symlink_to(svc.settings.data_dir / "metadata.sqlite")
    (root / "beta_dir").symlink_to(secret.parent, target_is_directory=True)
    for path in ("to_beta.csv", "meta.csv", "beta_dir/secret.csv"):
        with pytest.raises(FetchNotAllowed):
            expand(str(root / path), _alpha(svc))


@pytest.mark.parametrize("pattern", ["../beta/*.csv", "../*/secret.csv", "beta_dir/*", "**/*"])
def test_glob_patterns_that_escape_are_refused(svc: Services, pattern: str) -> None:
    secret = _beta_secret(svc)
    root = _alpha(svc).roots[0]
    (root / "beta_dir").symlink_to(secret.parent, target_is_directory=True)
    with pytest.raises(FetchNotAllowed):
        expand(str(root / pattern), _alpha(svc))


def test_a_source_whose_template_points_at_another_project_fails_its_unit(
    svc: Services,
) -> None:
    alpha_id, _ = _ids(svc)
    secret = _beta_secret(svc)
    svc.catalog.create_table(alpha_id, TABLE)
    svc.catalog.create_source(alpha_id, name="steal", table="raw.people", path_template=str(secret))
    with pytest.raises(FetchNotAllowed):
        svc.source_loads.request(
            alpha_id,
            SourceDayUnitSpec(table="raw.people", source="steal", day=DAY),
            load_key="k",
            unit_id="u1",
            run_id="r1",
        )


def test_a_file_connection_rooted_in_another_project_is_refused(svc: Services) -> None:
    alpha_id, _ = _ids(svc)
    beta_dir = _beta_secret(svc).parent
    with pytest.raises(InvalidInput, match="outside the directories project alpha may read"):
        svc.catalog.create_connection(
            alpha_id, "b", connection_body("file", {"root": str(beta_dir)})
        )


# -- ingestd's own files --------------------------------------------------------------------


def test_file_urls_to_ingestds_own_files_are_refused(svc: Services, tmp_path: Path) -> None:
    for path in _owned_files(svc):
        with pytest.raises(FetchNotAllowed):
            download(parse_blob_url(path.as_uri()), tmp_path / "dl", _policy(_alpha(svc)), None)
    assert not (tmp_path / "dl").exists()


def test_ingestds_own_files_stay_forbidden_even_inside_a_root(svc: Services) -> None:
    """Defence in depth: a policy whose root covers the data dir still refuses its files."""
    alpha = _alpha(svc)
    wide = ProjectFiles("alpha", (svc.settings.data_dir,), alpha.forbidden)
    for path in _owned_files(svc):
        with pytest.raises(FetchNotAllowed, match="ingestd's own files"):
            wide.check(path)


def test_delete_after_download_of_another_projects_file_deletes_nothing(
    svc: Services,
) -> None:
    secret = _beta_secret(svc)
    with pytest.raises(FetchNotAllowed):
        delete(parse_blob_url(secret.as_uri()), _policy(_alpha(svc)), None)
    assert secret.read_text() == "id\n42\n"
    meta = svc.settings.data_dir / "metadata.sqlite"
    with pytest.raises(FetchNotAllowed):
        delete(parse_blob_url(meta.as_uri()), _policy(_alpha(svc)), None)
    assert meta.is_file()


@pytest.mark.parametrize("kind", ["duckdb", "sqlite"])
def test_a_database_connection_on_metadata_or_another_projects_file_is_refused(
    svc: Services, tmp_path: Path, kind: str
) -> None:
    beta_db = _beta_secret(svc).parent / "beta.sqlite"
    with sqlite3.connect(beta_db) as connection:
        connection.execute("CREATE TABLE t AS SELECT 1 AS x")
    targets = [svc.settings.data_dir / "metadata.sqlite", beta_db]
    if kind == "duckdb":
        _owned_files(svc)
        targets.append(svc.settings.destination_path)
    for target in targets:
        with pytest.raises(ConnectionConfigError) as caught:
            extract(
                kind,
                "db",
                {"path": str(target)},
                {},
                "SELECT 1 AS x",
                tmp_path / "staged",
                _alpha(svc),
            )
        assert "ingestd projects grant" in (caught.value.hint or "") or "own files" in str(
            caught.value
        )
    assert not any((tmp_path / "staged").glob("*")) if (tmp_path / "staged").exists() else True


# -- grants ---------------------------------------------------------------------------------


def test_grants_that_overlap_the_data_dir_are_refused(svc: Services, tmp_path: Path) -> None:
    alpha_id, _ = _ids(svc)
    data = svc.settings.data_dir
    for directory in (tmp_path, data, data / "files", data / "files" / "beta"):
        directory.mkdir(parents=True, exist_ok=True)
        with pytest.raises(InvalidInput, match="overlaps ingestd's own files"):
            svc.file_access.grant(alpha_id, directory)
    with pytest.raises(InvalidInput, match="not an absolute path"):
        svc.file_access.grant(alpha_id, Path("relative"))
    with pytest.raises(InvalidInput, match="not an existing directory"):
        svc.file_access.grant(alpha_id, tmp_path / "missing")
    with pytest.raises(NotFound):
        svc.file_access.revoke(alpha_id, tmp_path)
    assert _alpha(svc).roots == (data / "files" / "alpha",)


def test_a_grant_through_a_symlink_to_the_data_dir_is_refused(
    svc: Services, tmp_path: Path
) -> None:
    link = tmp_path / "innocent"
    link.symlink_to(svc.settings.data_dir / "files", target_is_directory=True)
    with pytest.raises(InvalidInput, match="overlaps"):
        svc.file_access.grant(_ids(svc)[0], link)


def test_file_roots_setting_overlapping_the_data_dir_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "data" / "files").mkdir(parents=True)
    with pytest.raises(IngestdError, match="INGESTD_FILE_ROOTS"):
        make_services(tmp_path / "data", file_roots=str(tmp_path / "data" / "files"))


def test_file_roots_setting_is_granted_to_every_project(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    svc = make_services(tmp_path / "data", file_roots=str(shared))
    try:
        for name in ("alpha", "beta"):
            files = svc.file_access.for_project(svc.access.ensure_project(name))
            assert shared in files.roots
    finally:
        svc.close()


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "INGESTD_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-c", "from ingestd.cli.main import run; run()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_projects_command_grants_lists_revokes_and_refuses_the_data_dir(tmp_path: Path) -> None:
    data, shared = tmp_path / "data", tmp_path / "shared"
    shared.mkdir()
    assert _cli(data, "projects", "grant", "alpha", str(shared)).returncode == 0
    listed = _cli(data, "projects", "list", "--json")
    assert listed.returncode == 0
    assert f'"{shared}"' in listed.stdout and str(data / "files" / "alpha") in listed.stdout
    refused = _cli(data, "projects", "grant", "alpha", str(tmp_path))
    assert refused.returncode == 2
    assert "overlaps ingestd's own files" in refused.stderr.replace("\n", " ")
    assert _cli(data, "projects", "revoke", "alpha", str(shared)).returncode == 0
    assert f'"{shared}"' not in _cli(data, "projects", "list", "--json").stdout
