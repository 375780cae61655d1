"""Shared fixtures: real services (PostgreSQL) with a clear skip, or a failure under CI."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestd.control.services import Services
from ingestd.settings import Settings

POSTGRES_ADMIN_URL = os.environ.get(
    "INGESTD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def require_service(name: str, problem: str) -> None:
    """Skip (on a developer machine) or fail (under CI=true) when a service is missing."""
    message = f"{name} is not reachable: {problem}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI must run against it)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session, dropped afterwards."""
    import psycopg

    admin = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"ingestd_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        require_service("PostgreSQL", str(exc).splitlines()[0])
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The metadata store URL, once per backend (one test body, both stores)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadata.sqlite'}"
        return
    base: str = request.getfixturevalue("postgres_url")
    # One schema-free database per test: drop everything the previous test created.
    from sqlalchemy import create_engine, text

    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    yield base


def make_services(data_dir: Path, database_url: str | None = None, **overrides: object) -> Services:
    settings = Settings(data_dir=data_dir, database_url=database_url, **overrides)  # type: ignore[arg-type]
    return Services(settings)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """Services on the embedded defaults (SQLite + DuckDB) in a temporary data directory."""
    svc = make_services(tmp_path / "data", retry_base_seconds=0.01, lease_seconds=2)
    yield svc
    svc.close()
