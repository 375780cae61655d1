"""Every core error renders in the Amperity envelope (API-SURFACE §2.1): ``{"status",
"message", "request_id"}``, with the HTTP status of its class; strict, exactly the vendor's
``ErrorResponse`` schema. A 5xx says only that it failed."""

from __future__ import annotations

import json

import jsonschema_rs
import pytest

from ingestd.api.amperity.protocol import render
from ingestd.errors import IngestdError, RateLimited, Unauthenticated
from tests.api.core_errors import HINT, MESSAGE, RETRY_AFTER, each_core_error
from tests.api.core_errors import request as make_request
from tests.conftest import vendor_document

VENDOR_DOCUMENT = vendor_document("openapi/amperity-ingest-openapi.json")
ERROR_RESPONSE = json.loads(VENDOR_DOCUMENT.read_text())["components"]["schemas"]["ErrorResponse"]


@each_core_error()
@pytest.mark.parametrize("strict", [False, True], ids=["documented", "strict"])
def test_every_core_error_renders_in_the_amperity_envelope(
    error: IngestdError, strict: bool
) -> None:
    response = render(make_request("/api/ingest/jobs"), error, strict=strict)
    body = json.loads(bytes(response.body))
    assert response.status_code == body["status"] == error.http_status
    if strict:
        jsonschema_rs.validate(ERROR_RESPONSE, body)
    else:
        assert set(body) == {"status", "message", "request_id"}
        assert body["request_id"] == response.headers["X-Request-Id"]
    if error.http_status >= 500:
        assert body["message"] == "internal error; see the server log"
    else:
        assert body["message"] == f"{MESSAGE} ({HINT})"
    assert response.headers.get("Retry-After") == (
        str(RETRY_AFTER) if isinstance(error, RateLimited) else None
    )
    assert response.headers.get("WWW-Authenticate") == (
        "Bearer" if isinstance(error, Unauthenticated) else None
    )
