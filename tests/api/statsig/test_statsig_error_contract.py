"""Every core error renders in the Statsig envelope (API-SURFACE §1.1): ``{"status",
"message"}`` and nothing else, with the HTTP status of its class; a 5xx and a 401 say nothing
of the error or the key."""

from __future__ import annotations

import json

import pytest

from ingestd.api.statsig.errors import render_error
from ingestd.errors import IngestdError, RateLimited, Unauthenticated
from tests.api.core_errors import HINT, MESSAGE, RETRY_AFTER, each_core_error
from tests.api.core_errors import request as make_request

SECRET = "console-0123456789abcdefSECRET"


@each_core_error()
def test_every_core_error_renders_in_the_statsig_envelope(error: IngestdError) -> None:
    response = render_error(
        make_request("/console/v1/ingestion", {"statsig-api-key": SECRET}), error
    )
    body = json.loads(bytes(response.body))
    assert set(body) == {"status", "message"}
    assert response.status_code == body["status"] == error.http_status
    message = body["message"]
    if isinstance(error, Unauthenticated):
        assert message.endswith("Key: console-***") and "SECRET" not in message
    elif error.http_status == 403:
        assert message == f"Forbidden resource: {MESSAGE}"
    elif error.http_status >= 500:
        assert message == "Internal server error"
    else:
        assert message == f"{MESSAGE} ({HINT})"
    assert response.headers.get("Retry-After") == (
        str(RETRY_AFTER) if isinstance(error, RateLimited) else None
    )


@pytest.mark.parametrize(
    ("sent", "shown"),
    [("console-abc", "console-***"), ("read-abc", "read-***"), ("nokind", "***"), ("", "***")],
)
def test_a_refused_key_shows_its_kind_only(sent: str, shown: str) -> None:
    response = render_error(
        make_request("/console/v1/ingestion", {"statsig-api-key": sent}), Unauthenticated("no")
    )
    assert json.loads(bytes(response.body))["message"].endswith(f"Key: {shown}")
