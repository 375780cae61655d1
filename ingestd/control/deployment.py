"""Settings that cannot work together, refused when a process starts (not when a unit fails).

With INGESTD_EXECUTOR=celery, units run in ``ingestd worker`` processes that may be on other
machines, so nothing a worker needs may live on one machine's disk: the metadata and the
destination are PostgreSQL, and the keys that the embedded mode keeps in files of the data
directory are settings every process is given alike.
"""

from __future__ import annotations

from ingestd.errors import DeploymentInvalid
from ingestd.settings import Settings


def check_deployment(settings: Settings) -> None:
    """Raise ``DeploymentInvalid`` naming the first setting to change; None if it can work."""
    if settings.api_processes > 1:
        _check_api_processes(settings)
    if settings.executor != "celery":
        return
    if settings.broker_url is None:
        raise DeploymentInvalid(
            "INGESTD_EXECUTOR=celery needs a broker to send units to workers",
            hint="set INGESTD_BROKER_URL, e.g. redis://127.0.0.1:6379/0 or "
            "amqp://guest:guest@127.0.0.1:5672//",
        )
    if not settings.metadata_url.startswith("postgresql"):
        raise DeploymentInvalid(
            "INGESTD_EXECUTOR=celery cannot keep its metadata in SQLite: workers on other "
            "machines must share it",
            hint="set INGESTD_DATABASE_URL=postgresql+psycopg://user@host/db on every process",
        )
    if settings.destination_kind != "postgresql":
        raise DeploymentInvalid(
            "INGESTD_EXECUTOR=celery cannot load into the DuckDB file: it is one machine's, and "
            "one process's at a time",
            hint="set INGESTD_DESTINATION_URL=postgresql+psycopg://user@host/db on every process",
        )
    if settings.secret_key is None:
        raise DeploymentInvalid(
            "INGESTD_EXECUTOR=celery needs INGESTD_SECRET_KEY: the key file of one data "
            "directory is not on the other machines, whose workers must decrypt the same "
            "connection secrets",
            hint="make one with `ingestd secrets generate-key` and give it to every process",
        )
    if settings.kusto_storage_key is None:
        raise DeploymentInvalid(
            "INGESTD_EXECUTOR=celery needs INGESTD_KUSTO_STORAGE_KEY: every serve process "
            "must sign and verify the same storage URLs",
            hint="set it to the same random string (32 bytes or more) on every process, "
            "e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`",
        )


def _check_api_processes(settings: Settings) -> None:
    """Several processes answer the API (``cli.serve_processes``): each opens the metadata
    and the destination itself, so neither may be a file one process holds."""
    if not settings.metadata_url.startswith("postgresql"):
        raise DeploymentInvalid(
            f"INGESTD_API_PROCESSES={settings.api_processes} cannot share SQLite metadata: "
            "its writes are serialised inside one process",
            hint="set INGESTD_DATABASE_URL=postgresql+psycopg://user@host/db, or "
            "INGESTD_API_PROCESSES=1",
        )
    if settings.destination_kind != "postgresql":
        raise DeploymentInvalid(
            f"INGESTD_API_PROCESSES={settings.api_processes} cannot share the DuckDB "
            "destination: the file is one process's at a time, and the API reads it "
            "(quarantine, Kusto queries, data checks)",
            hint="set INGESTD_DESTINATION_URL=postgresql+psycopg://user@host/db, or "
            "INGESTD_API_PROCESSES=1",
        )
