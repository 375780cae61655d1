"""BigQuery: google-cloud-bigquery, results through the BigQuery Storage Read API as Arrow.

The query runs as a job that is polled, so a cancel of the unit cancels the job on the server;
its result streams as Arrow record batches (the Storage Read API when google-cloud-bigquery-
storage is installed, as the extra does; REST pages otherwise): INT64, FLOAT64, BOOL, NUMERIC
(decimal 38, 9), BIGNUMERIC (as exact text), STRING, BYTES, DATE, TIME, DATETIME (naive),
TIMESTAMP (UTC), JSON and GEOGRAPHY as text, ARRAY and STRUCT nested.

Settings: ``project`` (required), ``location``, ``api_endpoint`` (a private or test endpoint),
``retry_seconds`` (how long the client retries transient errors itself, 60).
Secret: ``credentials_json``, a service account key (its JSON text or object); without it the
machine's application default credentials are used.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from ingestd.dataplane.sql.base import (
    Extracted,
    SourceQuery,
    check_canceled,
    first_line,
    interruptible,
    missing_driver,
    query_failed,
    rejected_credentials,
    unreachable,
)
from ingestd.dataplane.sql.parquet_sink import stage_stream
from ingestd.errors import ConnectionConfigError, UnitError

POLL_SECONDS = 0.5
PAGE_ROWS = 50_000
RETRY_SECONDS = 60.0
"""How long the client retries a transient API error itself (its default is 10 minutes);
past that the unit fails with CONNECTION_ERROR and ingestd's own backoff takes over."""
_TRANSIENT_REASONS = ("rateLimitExceeded", "quotaExceeded", "backendError", "internalError")


def _credentials(query: SourceQuery) -> Any:
    info = query.secret("credentials_json")
    if info is None:
        return None
    from google.oauth2 import service_account

    try:
        parsed = json.loads(info) if isinstance(info, str) else dict(info)
        return service_account.Credentials.from_service_account_info(
            parsed, scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise ConnectionConfigError(
            f"{query.label}: credentials_json is not a service account key ({type(exc).__name__})",
            hint="paste the key file's JSON",
        ) from None


def translate(query: SourceQuery, exc: Exception) -> UnitError:
    """Google API and auth errors: 401 and 403 (but quota) and refused tokens are rejected
    credentials; 429, 5xx, deadlines and transport failures are unreachable; other API
    errors (400 invalidQuery, 404 table not found) are the query's."""
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    detail = first_line(exc)
    where = query.setting("api_endpoint") or "bigquery.googleapis.com"
    if isinstance(exc, auth.DefaultCredentialsError):
        return ConnectionConfigError(
            f"{query.label}: no Google credentials ({query.scrub(detail)})",
            hint="set the connection's credentials_json secret",
        )
    if isinstance(exc, auth.TransportError):
        return unreachable(query, "the Google token endpoint", detail)
    if isinstance(exc, auth.RefreshError | auth.GoogleAuthError):
        retryable = bool(getattr(exc, "retryable", False))
        if retryable:
            return unreachable(query, "the Google token endpoint", detail)
        return rejected_credentials(query, detail)
    if isinstance(exc, api.Forbidden) and any(r in str(exc) for r in _TRANSIENT_REASONS):
        return unreachable(query, where, detail)
    if isinstance(exc, api.Unauthorized | api.Forbidden):
        return rejected_credentials(query, detail)
    transient = (
        api.TooManyRequests,
        api.ServerError,
        api.DeadlineExceeded,
        api.RetryError,
        api.ServiceUnavailable,
    )
    if isinstance(exc, transient):
        return unreachable(query, where, detail)
    if isinstance(exc, api.GoogleAPICallError):
        return query_failed(query, detail)
    return unreachable(query, where, detail)  # requests' connection errors and timeouts


def _storage_client(query: SourceQuery, credentials: Any) -> Any:
    if query.setting("api_endpoint"):
        return None
    try:
        from google.cloud import bigquery_storage
    except ImportError:
        return None
    return bigquery_storage.BigQueryReadClient(credentials=credentials)


def read(query: SourceQuery, target_dir: Path) -> Extracted:
    try:
        import requests
        from google.api_core import exceptions as api
        from google.auth import exceptions as auth
        from google.cloud import bigquery
    except ImportError as exc:
        raise missing_driver("bigquery", "google-cloud-bigquery") from exc
    project = query.required("project", "the Google Cloud project that runs the query")
    if query.setting("api_endpoint"):
        query.check_url(str(query.setting("api_endpoint")))
    target = target_dir / "result.parquet"
    foreign = (
        api.GoogleAPICallError,
        api.RetryError,
        auth.GoogleAuthError,
        requests.RequestException,
    )
    try:
        credentials = _credentials(query)
        endpoint = query.setting("api_endpoint")
        client = bigquery.Client(
            project=project,
            credentials=credentials,
            location=query.setting("location"),
            client_options={"api_endpoint": endpoint} if endpoint else None,
        )
        deadline = float(query.setting("retry_seconds", RETRY_SECONDS))
        retry = bigquery.DEFAULT_RETRY.with_deadline(deadline)
        with client:
            job = client.query(
                query.sql,
                job_config=bigquery.QueryJobConfig(use_legacy_sql=False),
                retry=retry,
                job_retry=None,  # a failed job fails the unit; ingestd retries it with backoff
            )

            def interrupt() -> None:
                # finished meanwhile, or the service is unreachable
                with contextlib.suppress(*foreign):
                    job.cancel(retry=retry)

            with interruptible(query, interrupt):
                while not job.done(retry=retry):
                    check_canceled(query)
                    time.sleep(POLL_SECONDS)
                rows = job.result(page_size=PAGE_ROWS, retry=retry, job_retry=None)
                batches: Iterator[pa.RecordBatch] = rows.to_arrow_iterable(
                    bqstorage_client=_storage_client(query, credentials)
                )
                return stage_stream(
                    query, target, batches, lambda: [f.name for f in rows.schema or []]
                )
    except foreign as exc:
        raise translate(query, exc) from exc
