"""Every core error renders in the Kusto OneApiErrors body (API-SURFACE §3.1), with the K7
code its core code is documented to have (§3.8), the HTTP status of its class (409 as 400) and
the §3.1 headers; a 401 is empty with ``WWW-Authenticate``; a 5xx says only that it failed."""

from __future__ import annotations

import json

import pytest

from ingestd.api.kusto.errors import render_error
from ingestd.control.kusto.streaming import (
    StreamingBodyInvalid,
    StreamingPayloadTooLarge,
)
from ingestd.domain.error_codes import KUSTO_ERROR_CODES
from ingestd.errors import IngestdError, RateLimited, Unauthenticated
from tests.api.core_errors import MESSAGE, RETRY_AFTER, each_core_error
from tests.api.core_errors import request as make_request

# The Kusto code of each core code that has one of its own (§3.1: "drawn from the K7 codes
# where they fit"); every other error is told by its status (BY_STATUS).
OWN_CODES = {
    "INVALID_PROPERTY": "BadRequest_MalformedIngestionProperty",
    "PROPERTY_NOT_SUPPORTED": "BadRequest_IngestionPropertyNotSupportedInThisContext",
    "UNSUPPORTED_FORMAT": "BadRequest_FormatNotSupported",
    "INVALID_MAPPING": "BadRequest_InvalidMapping",
    "INCONSISTENT_MAPPING": "BadRequest_InconsistentMapping",
    "DUPLICATE_MAPPING": "BadRequest_DuplicateMapping",
    "INVALID_MAPPING_REFERENCE": "BadRequest_InvalidMappingReference",
    "MAPPING_NOT_FOUND": "BadRequest_MappingReferenceWasNotFound",
    "EMPTY_BLOB_URL": "BadRequest_EmptyBlobUri",
    "INVALID_STREAMING_BODY": "BadRequest_InvalidBlob",
    "EMPTY_DATABASE_NAME": "BadRequest_EmptyDatabaseName",
    "INVALID_NAME": "BadRequest_EntityNameIsNotValid",
    "INVALID_TABLE_NAME": "BadRequest_InvalidOrEmptyTableName",
    "DATABASE_NOT_FOUND": "BadRequest_DatabaseNotExist",
    "UNKNOWN_TABLE": "BadRequest_TableNotExist",
    "NOT_SUPPORTED": "BadRequest_NotSupported",
    "SYNTAX_ERROR": "BadRequest_SyntaxError",
    "SEMANTIC_ERROR": "BadRequest_SemanticError",
    "QUERY_TIMEOUT": "Request_ExecutionTimeout",
}
BY_STATUS = {
    400: "General_BadRequest",
    403: "Forbidden",
    404: "BadRequest_EntityNotFound",
    405: "General_BadRequest",
    409: "General_BadRequest",
    422: "General_BadRequest",
    429: "General_ThrottledIngestion",
    500: "General_InternalServerError",
}
# The codes of the query service, which K7 (an ingestion catalogue) does not list.
NOT_K7 = {"BadRequest_SemanticError", "Request_ExecutionTimeout"}
TYPES = {
    "BadRequest_SyntaxError": "Kusto.Data.Exceptions.SyntaxException",
    "BadRequest_SemanticError": "Kusto.Data.Exceptions.SemanticException",
}
TYPES_BY_STATUS = {
    404: "Kusto.Data.Exceptions.EntityNotFoundException",
    403: "Kusto.Data.Exceptions.ForbiddenException",
    429: "Kusto.Data.Exceptions.ThrottleException",
    500: "Kusto.Data.Exceptions.KustoServiceException",
}


def _render(error: IngestdError) -> tuple[int, dict[str, str], bytes]:
    sent = {"x-ms-client-request-id": "client;1", "authorization": "Bearer k"}
    response = render_error(make_request("/v1/rest/mgmt", sent), error)
    return response.status_code, dict(response.headers), bytes(response.body)


@each_core_error()
def test_every_core_error_renders_as_one_api_errors(error: IngestdError) -> None:
    status, headers, raw = _render(error)
    assert headers["x-ms-client-request-id"] == "client;1" and headers["x-ms-activity-id"]
    if isinstance(error, Unauthenticated):
        assert (status, raw, headers["www-authenticate"]) == (401, b"", "Bearer")
        return
    assert status == (400 if error.http_status == 409 else error.http_status)
    body = json.loads(raw)["error"]
    assert set(body) == {
        "code",
        "message",
        "@type",
        "@message",
        "@context",
        "@permanent",
        "innererror",
    }
    code = OWN_CODES.get(error.code) or BY_STATUS[error.http_status]
    assert body["code"] == code
    assert code in KUSTO_ERROR_CODES or code in NOT_K7
    by_status = TYPES_BY_STATUS.get(status, "Kusto.Data.Exceptions.KustoBadRequestException")
    assert body["@type"] == TYPES.get(code, by_status)
    assert set(body["@context"]) == {"timestamp", "clientRequestId", "activityId"}
    assert body["@context"]["clientRequestId"] == "client;1"
    assert body["@context"]["activityId"] == headers["x-ms-activity-id"]
    assert body["innererror"]["code"] == error.code
    if status >= 500:
        assert body["message"] == body["@message"] == "internal error; see the server log"
        assert body["@permanent"] is False
    else:
        assert body["message"] == MESSAGE
        assert body["@permanent"] is (status != 429)
    assert headers.get("retry-after") == (
        str(RETRY_AFTER) if isinstance(error, RateLimited) else None
    )


@pytest.mark.parametrize(
    ("error", "status", "code", "permanent"),
    [
        (
            StreamingPayloadTooLarge(MESSAGE),
            413,
            "BadRequest_StreamingIngestionRequestTooLarge",
            False,
        ),
        (StreamingBodyInvalid(MESSAGE), 400, "BadRequest_InvalidBlob", True),
    ],
    ids=["too-large", "not-gzip"],
)
def test_streaming_refusals_carry_their_codes(
    error: IngestdError, status: int, code: str, permanent: bool
) -> None:
    answered, _, raw = _render(error)
    body = json.loads(raw)["error"]
    assert (answered, body["code"], body["@permanent"]) == (status, code, permanent)
