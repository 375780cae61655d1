"""Mapping of ingestd error codes onto Kusto and Statsig (ingestd.domain.error_codes)."""

from __future__ import annotations

import pytest

from ingestd.domain.error_codes import (
    KUSTO_ERROR_CODES,
    KUSTO_PERMANENT_ERROR_CODES,
    KUSTO_TRANSIENT_ERROR_CODES,
    kusto_error_code,
    statsig_daily_error_status,
)
from ingestd.domain.projections import STATSIG_DAILY_STATUSES, STATSIG_OTHER
from ingestd.errors import UNIT_ERRORS, FailureClass, UnitError

# code → (Kusto errorCode, Statsig daily status for dataset "Events"), written out so that a
# change in the mapping, or a new unit error class, shows up here.
EXPECTED: dict[str, tuple[str, str]] = {
    "AUTHENTICATION_ERROR": ("BadRequest_InvalidAuthentication", "AUTHENTICATION_ERROR"),
    "CONNECTION_ERROR": ("Download_UnknownError", "CONNECTION_ERROR"),
    "CONNECTION_CONFIG_ERROR": ("BadRequest_InvalidBlobUri", "CONNECTION_CONFIG_ERROR"),
    "SOURCE_NOT_FOUND": ("Download_SourceNotFound", "SETUP_ERROR"),
    "SOURCE_FORBIDDEN": ("Download_Forbidden", "CONNECTION_CONFIG_ERROR"),
    "FETCH_NOT_ALLOWED": ("BadRequest_InvalidBlobUri", "CONNECTION_CONFIG_ERROR"),
    "TIMEOUT": ("Timeout", "CONNECTION_ERROR"),
    "SOURCE_TOO_LARGE": ("BadRequest_FileTooLarge", "BULK_LOAD_ERROR"),
    "DUPLICATE_BLOB": ("BlobAlreadyReceived_BlobAlreadyFoundInBatch", "BULK_LOAD_ERROR"),
    "QUERY_ERROR": ("General_BadRequest", "QUERY_ERROR"),
    "QUERY_CONSTRUCTION_ERROR": ("BadRequest_SyntaxError", "QUERY_CONSTRUCTION_ERROR"),
    "EMPTY_SOURCE": ("BadRequest_EmptyBlob", "BULK_LOAD_ERROR"),
    "WRONG_FORMAT": ("BadRequest_NoRecordsOrWrongFormat", "BULK_LOAD_ERROR"),
    "CORRUPT_COMPRESSION": ("BadRequest_InvalidArchive", "BULK_LOAD_ERROR"),
    "EMPTY_ARCHIVE": ("BadRequest_EmptyArchive", "BULK_LOAD_ERROR"),
    "DECOMPRESSION_LIMIT": ("BadRequest_FileTooLarge", "BULK_LOAD_ERROR"),
    "TOO_MANY_COLUMNS": ("BadRequest_FileTooLarge", "BULK_LOAD_ERROR"),
    "INVALID_ENCODING": ("BadRequest_UnexpectedCharacterInInputStream", "BULK_LOAD_ERROR"),
    "FIELD_TOO_LARGE": ("Stream_InputStreamTooLarge", "BULK_LOAD_ERROR"),
    "FORMAT_NOT_SUPPORTED": ("BadRequest_FormatNotSupported", "BULK_LOAD_ERROR"),
    "MALFORMED_RECORDS": ("Stream_ClosingQuoteMissing", "BULK_LOAD_ERROR"),
    "MAPPING_MISSING": ("BadRequest_MissingMappingFailure", "QUERY_CONSTRUCTION_ERROR"),
    "MAPPING_INVALID": ("BadRequest_InvalidMapping", "QUERY_CONSTRUCTION_ERROR"),
    "MAPPING_INCONSISTENT": ("BadRequest_InconsistentMapping", "QUERY_CONSTRUCTION_ERROR"),
    "TABLE_NOT_FOUND": ("BadRequest_TableNotExist", "SETUP_ERROR"),
    "ERROR_LIMIT_EXCEEDED": ("BadRequest_NoRecordsOrWrongFormat", "BULK_LOAD_ERROR"),
    "ACCOUNTING_MISMATCH": ("General_InternalServerError", "INTERNAL_WRITE_ERROR_EVENTS"),
    "DESTINATION_ERROR": ("General_InternalServerError", "INTERNAL_WRITE_ERROR_EVENTS"),
    "DESTINATION_BUSY": ("General_ThrottledIngestion", "INTERNAL_WRITE_ERROR_EVENTS"),
    "DESTINATION_REFUSED": ("BadRequest_DatabaseAccessDenied", "INTERNAL_WRITE_ERROR_EVENTS"),
    "CANCELED": ("General_BadRequest", "ERROR"),
    "INTERNAL_ERROR": ("Unknown", "INTERNAL_SERVER_ERROR"),
}

# Permanent ingestd errors that map to a code K7 marks Transient, and why that is fine: the
# wire failureStatus comes from the ingestd class, and K7 has no permanent code that fits.
PERMANENT_ON_TRANSIENT_CODE = {
    "ACCOUNTING_MISMATCH",  # our own inconsistency: General_InternalServerError
    "INTERNAL_ERROR",  # an untranslated exception: Unknown
}

unit_errors = pytest.mark.parametrize("cls", UNIT_ERRORS, ids=lambda cls: cls.code)


def test_expected_table_covers_every_unit_error() -> None:
    assert set(EXPECTED) == {cls.code for cls in UNIT_ERRORS}


def test_kusto_catalogue_size() -> None:
    # §3.8: 56 Permanent + 11 Transient, plus the seed spelling (§5 item 23).
    assert len(KUSTO_TRANSIENT_ERROR_CODES) == 11
    assert len(KUSTO_PERMANENT_ERROR_CODES) == 57
    assert not KUSTO_TRANSIENT_ERROR_CODES & KUSTO_PERMANENT_ERROR_CODES
    assert len(KUSTO_ERROR_CODES) == 68
    assert {"BadRequest_MissingMappingFailure", "BadRequest_MissingMappingtFailure"} <= (
        KUSTO_ERROR_CODES
    )


@unit_errors
def test_kusto_error_code(cls: type[UnitError]) -> None:
    assert kusto_error_code(cls.code) == EXPECTED[cls.code][0]


@unit_errors
def test_kusto_error_code_is_in_catalogue(cls: type[UnitError]) -> None:
    assert kusto_error_code(cls.code) in KUSTO_ERROR_CODES


@unit_errors
def test_kusto_code_agrees_with_failure_class(cls: type[UnitError]) -> None:
    kusto = kusto_error_code(cls.code)
    if cls.failure_class is FailureClass.TRANSIENT:
        # A retryable ingestd error must not be reported as a code K7 calls permanent.
        assert kusto in KUSTO_TRANSIENT_ERROR_CODES
    elif cls.code in PERMANENT_ON_TRANSIENT_CODE:
        assert kusto in KUSTO_TRANSIENT_ERROR_CODES
    else:
        assert kusto in KUSTO_PERMANENT_ERROR_CODES


@pytest.mark.parametrize("code", ["NO_SUCH_CODE", "", "VALIDATION_ERROR"])
def test_kusto_error_code_unknown(code: str) -> None:
    assert kusto_error_code(code) == "Unknown"


@unit_errors
def test_statsig_daily_error_status(cls: type[UnitError]) -> None:
    assert statsig_daily_error_status(cls.code, "Events") == EXPECTED[cls.code][1]


@unit_errors
@pytest.mark.parametrize("dataset", ["Events", "Metrics", "export_exposures", "entity_properties"])
def test_statsig_daily_error_status_is_published_value(cls: type[UnitError], dataset: str) -> None:
    status = statsig_daily_error_status(cls.code, dataset)
    assert status in STATSIG_DAILY_STATUSES
    assert status != STATSIG_OTHER


@pytest.mark.parametrize(
    "code", ["DESTINATION_ERROR", "DESTINATION_BUSY", "DESTINATION_REFUSED", "ACCOUNTING_MISMATCH"]
)
@pytest.mark.parametrize(
    ("dataset", "expected"),
    [
        ("Events", "INTERNAL_WRITE_ERROR_EVENTS"),
        ("events", "INTERNAL_WRITE_ERROR_EVENTS"),
        ("export_events", "INTERNAL_WRITE_ERROR_EVENTS"),
        ("Metrics", "INTERNAL_WRITE_ERROR_METRICS"),
        ("METRICS", "INTERNAL_WRITE_ERROR_METRICS"),
        ("Exposures", "INTERNAL_WRITE_ERROR_EXPOSURES"),
        ("export_exposures", "INTERNAL_WRITE_ERROR_EXPOSURES"),
        ("Export_Exposures", "INTERNAL_WRITE_ERROR_EXPOSURES"),
        ("entity_properties", "INTERNAL_SERVER_ERROR"),
        ("", "INTERNAL_SERVER_ERROR"),
    ],
)
def test_statsig_write_errors_follow_dataset(code: str, dataset: str, expected: str) -> None:
    assert statsig_daily_error_status(code, dataset) == expected


@pytest.mark.parametrize("code", [None, "NO_SUCH_CODE", "CANCELED"], ids=str)
def test_statsig_daily_error_status_generic(code: str | None) -> None:
    assert statsig_daily_error_status(code, "Events") == "ERROR"
