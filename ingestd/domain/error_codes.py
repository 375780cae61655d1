"""The one place that maps ingestd error codes onto each dialect's error vocabulary.

Contract:

* Keys are the stable ``code`` strings of ``ingestd.errors`` (the unit errors in
  ``UNIT_ERRORS``). Every unit error code has an explicit entry in each table below.
* ``kusto_error_code`` returns a code from the K7 catalogue (``KUSTO_ERROR_CODES``,
  API-SURFACE §3.8); an unknown code gives ``"Unknown"``. The wire ``failureStatus`` is not
  taken from the catalogue but from the ingestd error's failure class
  (``projections.kusto_failure_status``); the tables are chosen so the two agree wherever the
  catalogue offers a transient code.
* ``statsig_daily_error_status`` returns a value of the Statsig daily-status enum
  (API-SURFACE §1.3), never the filter-only token ``%Other``; an unknown code gives ``"ERROR"``.

Pure: no I/O, no third-party imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# API-SURFACE §3.8: the 11 codes K7 marks Transient.
KUSTO_TRANSIENT_ERROR_CODES: frozenset[str] = frozenset(
    {
        "Download_UnknownError",
        "Download_TransientNameResolutionFailure",
        "General_InternalServerError",
        "General_TransientSchemaMismatch",
        "Timeout",
        "OutOfMemory",
        "UpdatePolicy_FailedDescendantTransaction",
        "UpdatePolicy_IngestionError",
        "UpdatePolicy_UnknownError",
        "General_ThrottledIngestion",
        "Unknown",
    }
)

# API-SURFACE §3.8: the 56 codes K7 marks Permanent, plus the seed/REST spelling of the
# missing-mapping code (§5 item 23: emit BadRequest_MissingMappingFailure, keep the K7 typo
# BadRequest_MissingMappingtFailure as an alias).
KUSTO_PERMANENT_ERROR_CODES: frozenset[str] = frozenset(
    {
        # BadFormat
        "Stream_WrongNumberOfFields",
        "Stream_ClosingQuoteMissing",
        "BadRequest_InvalidBlob",
        "BadRequest_EmptyArchive",
        "BadRequest_InvalidArchive",
        "BadRequest_InvalidMapping",
        "BadRequest_InvalidMappingReference",
        "BadRequest_FormatNotSupported",
        "BadRequest_InconsistentMapping",
        "BadRequest_UnexpectedCharacterInInputStream",
        # BadRequest
        "BadRequest_EmptyBlob",
        "BadRequest_NoRecordsOrWrongFormat",
        "BadRequest_EmptyBlobUri",
        "BadRequest_DuplicateMapping",
        "BadRequest_InvalidOrEmptyTableName",
        "BadRequest_EmptyDatabaseName",
        "BadRequest_EmptyMappingReference",
        "Download_BadRequest",
        "BadRequest_MissingMappingtFailure",
        "BadRequest_MissingMappingFailure",
        "Stream_NoDataToIngest",
        "Stream_DynamicPropertyBagTooLarge",
        "General_BadRequest",
        "BadRequest_CorruptedMessage",
        "BadRequest_SyntaxError",
        "BadRequest_ZeroRetentionPolicyWithNoUpdatePolicy",
        "BadRequest_CreationTimeEarlierThanSoftDeletePeriod",
        "BadRequest_NotSupported",
        "Download_SourceNotFound",
        "BadRequest_EntityNameIsNotValid",
        "BadRequest_MalformedIngestionProperty",
        "BadRequest_IngestionPropertyNotSupportedInThisContext",
        "BadRequest_NonMultiDatabaseDataConnection",
        "BadRequest_InvalidBlobUri",
        "BadRequest_DataCapacityLimitReached",
        "BadRequest_InvalidManagedIdentity",
        # DataAccessNotAuthorized
        "Download_AccessConditionNotSatisfied",
        "Download_Forbidden",
        "Download_AccountNotFound",
        "BadRequest_TableAccessDenied",
        "BadRequest_DatabaseAccessDenied",
        "BadRequest_InvalidAuthentication",
        # DownloadFailed
        "Download_NotTransient",
        # EntityNotFound
        "BadRequest_MappingReferenceWasNotFound",
        "BadRequest_DatabaseNotExist",
        "BadRequest_TableNotExist",
        "BadRequest_EntityNotFound",
        # FileTooLarge
        "Stream_InputStreamTooLarge",
        "BadRequest_FileTooLarge",
        # InternalServiceError
        "Schema_PermanentUpdateFailure",
        # UpdatePolicyFailure
        "UpdatePolicy_QuerySchemaDoesNotMatchTableSchema",
        "UpdatePolicy_Cyclic_Update_Not_Allowed",
        "UpdatePolicy_BadRequest",
        # UserAccessNotAuthorized
        "BadRequest_InvalidKustoIdentityToken",
        "Forbidden",
        # RetryAttemptsExceeded (reported with failureStatus Exhausted, §3.8 [I])
        "General_RetryAttemptsExceeded",
        # BlobAlreadyReceived
        "BlobAlreadyReceived_BlobAlreadyFoundInBatch",
    }
)

KUSTO_ERROR_CODES: frozenset[str] = KUSTO_PERMANENT_ERROR_CODES | KUSTO_TRANSIENT_ERROR_CODES
"""Every Kusto ``errorCode`` ingestd may emit or accept (API-SURFACE §3.8, §5 item 23)."""

KUSTO_UNKNOWN = "Unknown"

_KUSTO_BY_CODE: Mapping[str, str] = MappingProxyType(
    {
        # source access
        # A rejected credential is told apart from a refused object (SOURCE_FORBIDDEN).
        "AUTHENTICATION_ERROR": "BadRequest_InvalidAuthentication",
        "CONNECTION_ERROR": "Download_UnknownError",
        "CONNECTION_CONFIG_ERROR": "BadRequest_InvalidBlobUri",
        "SOURCE_NOT_FOUND": "Download_SourceNotFound",
        "SOURCE_FORBIDDEN": "Download_Forbidden",
        "FETCH_NOT_ALLOWED": "BadRequest_InvalidBlobUri",
        "TIMEOUT": "Timeout",
        "SOURCE_TOO_LARGE": "BadRequest_FileTooLarge",
        "DUPLICATE_BLOB": "BlobAlreadyReceived_BlobAlreadyFoundInBatch",
        # queries (no Kusto equivalent: blobs have no query; kept for completeness)
        "QUERY_ERROR": "General_BadRequest",
        "QUERY_CONSTRUCTION_ERROR": "BadRequest_SyntaxError",
        # content; §3.7 [I]: an empty blob is Failed with BadRequest_EmptyBlob
        "EMPTY_SOURCE": "BadRequest_EmptyBlob",
        "WRONG_FORMAT": "BadRequest_NoRecordsOrWrongFormat",
        "CORRUPT_COMPRESSION": "BadRequest_InvalidArchive",
        # A decompression bomb or an input that expands too far: too large to ingest.
        "DECOMPRESSION_LIMIT": "BadRequest_FileTooLarge",
        # Too wide to load within the limits: too large, in columns rather than bytes.
        "TOO_MANY_COLUMNS": "BadRequest_FileTooLarge",
        "EMPTY_ARCHIVE": "BadRequest_EmptyArchive",
        "INVALID_ENCODING": "BadRequest_UnexpectedCharacterInInputStream",
        "FIELD_TOO_LARGE": "Stream_InputStreamTooLarge",
        "FORMAT_NOT_SUPPORTED": "BadRequest_FormatNotSupported",
        # MALFORMED_RECORDS is a whole-file structural break, whose typical case is the one
        # errors.py names (an unclosed quote at EOF); row-level field-count problems are bad
        # rows, not this error. ``details`` carries the specifics for other formats.
        "MALFORMED_RECORDS": "Stream_ClosingQuoteMissing",
        # mapping, tables
        "MAPPING_MISSING": "BadRequest_MissingMappingFailure",  # §5 item 23: seed spelling
        "MAPPING_INVALID": "BadRequest_InvalidMapping",
        "MAPPING_INCONSISTENT": "BadRequest_InconsistentMapping",
        "TABLE_NOT_FOUND": "BadRequest_TableNotExist",
        # policy, accounting
        # Too many bad rows means the content does not fit the declared format and mapping;
        # this points the caller at the blob, where General_BadRequest would point nowhere.
        "ERROR_LIMIT_EXCEEDED": "BadRequest_NoRecordsOrWrongFormat",
        # Our own inconsistency, not the caller's: an internal error. K7 marks it Transient,
        # but failureStatus comes from the ingestd class (Permanent), so no retry is implied.
        "ACCOUNTING_MISMATCH": "General_InternalServerError",
        # destination, engine
        "DESTINATION_ERROR": "General_InternalServerError",
        "DESTINATION_BUSY": "General_ThrottledIngestion",
        # Mostly credentials, privileges or a missing database; a constraint on the table is
        # the rare other case, and K7 has no closer permanent code for it.
        "DESTINATION_REFUSED": "BadRequest_DatabaseAccessDenied",
        # A canceled blob is reported as status Canceled, without errorCode (§3.4: errorCode
        # only when Failed). Should one surface anyway: permanent, and not the data's fault.
        "CANCELED": "General_BadRequest",
        "INTERNAL_ERROR": KUSTO_UNKNOWN,
    }
)


def kusto_error_code(code: str) -> str:
    """The K7 ``errorCode`` reported for ingestd error ``code`` (``"Unknown"`` if unmapped)."""
    return _KUSTO_BY_CODE.get(code, KUSTO_UNKNOWN)


# API-SURFACE §3.1: a refused request's ``code`` is "drawn from the K7 codes where they fit".
_KUSTO_BY_REQUEST_CODE: Mapping[str, str] = MappingProxyType(
    {
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
        # Not K7 (an ingestion catalogue): the query service's own codes.
        "QUERY_TIMEOUT": "Request_ExecutionTimeout",
        "STREAMING_PAYLOAD_TOO_LARGE": "BadRequest_StreamingIngestionRequestTooLarge",
    }
)

KUSTO_REQUEST_CODES: frozenset[str] = frozenset(_KUSTO_BY_REQUEST_CODE)
"""The core codes of refused requests that have a Kusto code of their own."""

_KUSTO_BY_STATUS: Mapping[int, str] = MappingProxyType(
    {403: "Forbidden", 404: "BadRequest_EntityNotFound", 429: "General_ThrottledIngestion"}
)


def kusto_refusal_code(code: str) -> str | None:
    """The Kusto ``code`` of a refused request's core ``code``; None when it has none of its
    own (it is then told by its HTTP status, ``kusto_request_code``)."""
    return _KUSTO_BY_REQUEST_CODE.get(code)


def kusto_request_code(code: str, http_status: int, *, cause: str | None = None) -> str:
    """The Kusto ``code`` of an error answered to a request (API-SURFACE §3.1).

    ``cause`` is the core code of the unit failure a streaming request answers with
    (``STREAMING_INGEST_FAILED``, ``STREAMING_DATA_INVALID``): its Kusto code is the unit's.
    Otherwise the request code's own Kusto code, else one told by the HTTP status.
    """
    if cause is not None:
        mapped = kusto_error_code(cause)
        if code == "STREAMING_DATA_INVALID" and mapped == KUSTO_UNKNOWN:
            # K7: "empty, or the format doesn't match the content", the case of a body of
            # which no row fits the table; a row code with a closer K7 code keeps that one.
            return "BadRequest_NoRecordsOrWrongFormat"
        return mapped
    own = _KUSTO_BY_REQUEST_CODE.get(code)
    if own is not None:
        return own
    if http_status >= 500:
        return "General_InternalServerError"
    return _KUSTO_BY_STATUS.get(http_status, "General_BadRequest")


# API-SURFACE §1.3: Statsig publishes no meanings; these follow the proposed meanings there.
_STATSIG_BY_CODE: Mapping[str, str] = MappingProxyType(
    {
        "AUTHENTICATION_ERROR": "AUTHENTICATION_ERROR",
        "CONNECTION_ERROR": "CONNECTION_ERROR",
        "TIMEOUT": "CONNECTION_ERROR",
        "CONNECTION_CONFIG_ERROR": "CONNECTION_CONFIG_ERROR",
        "FETCH_NOT_ALLOWED": "CONNECTION_CONFIG_ERROR",
        "SOURCE_FORBIDDEN": "CONNECTION_CONFIG_ERROR",
        "SOURCE_TOO_LARGE": "BULK_LOAD_ERROR",
        "DUPLICATE_BLOB": "BULK_LOAD_ERROR",
        "QUERY_ERROR": "QUERY_ERROR",
        "QUERY_CONSTRUCTION_ERROR": "QUERY_CONSTRUCTION_ERROR",
        "MAPPING_MISSING": "QUERY_CONSTRUCTION_ERROR",
        "MAPPING_INVALID": "QUERY_CONSTRUCTION_ERROR",
        "MAPPING_INCONSISTENT": "QUERY_CONSTRUCTION_ERROR",
        "SOURCE_NOT_FOUND": "SETUP_ERROR",
        "TABLE_NOT_FOUND": "SETUP_ERROR",
        "EMPTY_SOURCE": "BULK_LOAD_ERROR",
        "WRONG_FORMAT": "BULK_LOAD_ERROR",
        "CORRUPT_COMPRESSION": "BULK_LOAD_ERROR",
        "DECOMPRESSION_LIMIT": "BULK_LOAD_ERROR",
        "TOO_MANY_COLUMNS": "BULK_LOAD_ERROR",
        "EMPTY_ARCHIVE": "BULK_LOAD_ERROR",
        "INVALID_ENCODING": "BULK_LOAD_ERROR",
        "FIELD_TOO_LARGE": "BULK_LOAD_ERROR",
        "FORMAT_NOT_SUPPORTED": "BULK_LOAD_ERROR",
        "MALFORMED_RECORDS": "BULK_LOAD_ERROR",
        "ERROR_LIMIT_EXCEEDED": "BULK_LOAD_ERROR",
        "INTERNAL_ERROR": "INTERNAL_SERVER_ERROR",
        "CANCELED": "ERROR",
    }
)

# Destination-side failures are INTERNAL_WRITE_ERROR_<dataset> (§1.3); the key is the
# lowercased dataset, since §5 item 1 has both ``Events`` and ``events`` on the wire.
_WRITE_ERROR_CODES: frozenset[str] = frozenset(
    {"DESTINATION_ERROR", "DESTINATION_BUSY", "DESTINATION_REFUSED", "ACCOUNTING_MISMATCH"}
)
_WRITE_ERROR_BY_DATASET: Mapping[str, str] = MappingProxyType(
    {
        "events": "INTERNAL_WRITE_ERROR_EVENTS",
        "export_events": "INTERNAL_WRITE_ERROR_EVENTS",
        "metrics": "INTERNAL_WRITE_ERROR_METRICS",
        "exposures": "INTERNAL_WRITE_ERROR_EXPOSURES",
        "export_exposures": "INTERNAL_WRITE_ERROR_EXPOSURES",
    }
)


STATSIG_MAPPED_CODES: frozenset[str] = frozenset(_STATSIG_BY_CODE) | _WRITE_ERROR_CODES
"""Every error code ``statsig_daily_error_status`` maps to something other than ``ERROR``
(the store builds the same mapping in SQL from these, to filter statuses in the database)."""
STATSIG_WRITE_DATASETS: tuple[str, ...] = tuple(_WRITE_ERROR_BY_DATASET)
"""The (lowercase) datasets a destination-side failure is told apart by."""


def statsig_daily_error_status(code: str | None, dataset: str) -> str:
    """The Statsig daily status of a day that failed with ingestd error ``code``.

    ``dataset`` (compared case-insensitively) only matters for destination-side failures.
    ``None`` or an unknown code gives the generic ``"ERROR"``.
    """
    if code is None:
        return "ERROR"
    if code in _WRITE_ERROR_CODES:
        return _WRITE_ERROR_BY_DATASET.get(dataset.lower(), "INTERNAL_SERVER_ERROR")
    return _STATSIG_BY_CODE.get(code, "ERROR")
