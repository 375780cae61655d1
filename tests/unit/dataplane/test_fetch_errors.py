"""How store answers become ingestd errors (ingestd.dataplane.blobs.fetch.error_for_status)."""

from __future__ import annotations

import httpx
import pytest

from ingestd.dataplane.blobs.fetch import error_for_status
from ingestd.domain.error_codes import kusto_error_code
from ingestd.errors import FailureClass

S3_AUTH = b"<Error><Code>SignatureDoesNotMatch</Code></Error>"


@pytest.mark.parametrize(
    ("status", "headers", "body", "kusto", "failure"),
    [
        (404, {}, b"", "Download_SourceNotFound", FailureClass.PERMANENT),
        (410, {}, b"", "Download_SourceNotFound", FailureClass.PERMANENT),
        (401, {}, b"", "BadRequest_InvalidAuthentication", FailureClass.PERMANENT),
        (
            403,
            {"x-ms-error-code": "AuthenticationFailed"},
            b"",
            "BadRequest_InvalidAuthentication",
            FailureClass.PERMANENT,
        ),
        (403, {}, S3_AUTH, "BadRequest_InvalidAuthentication", FailureClass.PERMANENT),
        (
            403,
            {"x-ms-error-code": "AuthorizationFailure"},
            b"",
            "Download_Forbidden",
            FailureClass.PERMANENT,
        ),
        (
            403,
            {},
            b"<Error><Code>AccessDenied</Code></Error>",
            "Download_Forbidden",
            FailureClass.PERMANENT,
        ),
        (429, {}, b"", "Download_UnknownError", FailureClass.TRANSIENT),
        (500, {}, b"", "Download_UnknownError", FailureClass.TRANSIENT),
        (503, {}, b"", "Download_UnknownError", FailureClass.TRANSIENT),
        (400, {}, b"", "BadRequest_InvalidBlobUri", FailureClass.PERMANENT),
    ],
)
def test_store_answers_map_to_codes_and_classes(
    status: int, headers: dict[str, str], body: bytes, kusto: str, failure: FailureClass
) -> None:
    response = httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))
    error = error_for_status(response, "https://a/b.csv")
    assert kusto_error_code(error.code) == kusto
    assert error.failure_class is failure
    assert f"HTTP {status}" in str(error)
