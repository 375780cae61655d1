"""The one exception hierarchy of ingestd.

Every error has a stable string ``code`` and a failure class. The code is what operators,
dashboards and the three API dialects key on; the class decides whether the run engine retries.

    IngestdError
    |-- RequestError                 a caller sent something we refuse (HTTP 4xx); never retried
    |   |-- InvalidInput             VALIDATION_ERROR
    |   |-- NotFound                 NOT_FOUND
    |   |-- MethodNotAllowed         METHOD_NOT_ALLOWED
    |   |-- Conflict                 CONFLICT
    |   |-- Unauthenticated          AUTHENTICATION_REQUIRED
    |   |-- Forbidden                FORBIDDEN
    |   |-- RateLimited              RATE_LIMITED
    |   |-- QueryTimedOut            QUERY_TIMEOUT
    |   |-- IllegalTransition        ILLEGAL_TRANSITION
    |   `-- (named refusals)         INVALID_PROPERTY, PROPERTY_NOT_SUPPORTED, UNSUPPORTED_FORMAT,
    |                                INVALID_MAPPING, INCONSISTENT_MAPPING, DUPLICATE_MAPPING,
    |                                INVALID_MAPPING_REFERENCE, MAPPING_NOT_FOUND, EMPTY_BLOB_URL,
    |                                INVALID_STREAMING_BODY, EMPTY_DATABASE_NAME, INVALID_NAME,
    |                                INVALID_TABLE_NAME, DATABASE_NOT_FOUND, UNKNOWN_TABLE,
    |                                NOT_SUPPORTED, SYNTAX_ERROR, SEMANTIC_ERROR
    `-- UnitError                    a unit of work failed; Permanent or Transient
        |-- (source access)          AUTHENTICATION_ERROR, CONNECTION_ERROR,
        |                            CONNECTION_CONFIG_ERROR,
        |                            SOURCE_NOT_FOUND, SOURCE_FORBIDDEN, FETCH_NOT_ALLOWED, TIMEOUT,
        |                            SOURCE_TOO_LARGE, DUPLICATE_BLOB
        |-- (queries)                QUERY_ERROR, QUERY_CONSTRUCTION_ERROR
        |-- (content)                EMPTY_SOURCE, WRONG_FORMAT, CORRUPT_COMPRESSION, EMPTY_ARCHIVE,
        |                            INVALID_ENCODING, FIELD_TOO_LARGE, FORMAT_NOT_SUPPORTED,
        |                            MALFORMED_RECORDS, DECOMPRESSION_LIMIT, TOO_MANY_COLUMNS
        |-- (mapping, tables)        MAPPING_MISSING, MAPPING_INVALID, MAPPING_INCONSISTENT,
        |                            TABLE_NOT_FOUND
        |-- (policy, accounting)     ERROR_LIMIT_EXCEEDED, ACCOUNTING_MISMATCH
        `-- (destination, engine)    DESTINATION_ERROR, DESTINATION_BUSY, DESTINATION_REFUSED,
                                     CANCELED, INTERNAL_ERROR

Foreign exceptions are translated once, at the I/O boundary, with ``raise ... from exc``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class FailureClass(StrEnum):
    """Whether retrying can help (DESIGN.md "Errors"; Kusto ``failureStatus``, API-SURFACE §3.7)."""

    PERMANENT = "Permanent"
    TRANSIENT = "Transient"
    EXHAUSTED = "Exhausted"


class IngestdError(Exception):
    """Root of every error ingestd raises on purpose."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    failure_class: ClassVar[FailureClass] = FailureClass.PERMANENT
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


# --- request errors ---------------------------------------------------------------------------


class RequestError(IngestdError):
    """A request (API call, CLI argument, setting) that is refused and changes nothing."""

    http_status = 400


class InvalidInput(RequestError):
    """Input that does not validate: says which field and why."""

    code = "VALIDATION_ERROR"


class NotFound(RequestError):
    """The named object does not exist in the caller's project."""

    code = "NOT_FOUND"
    http_status = 404


class MethodNotAllowed(RequestError):
    """The path exists but not with this HTTP method."""

    code = "METHOD_NOT_ALLOWED"
    http_status = 405


class Conflict(RequestError):
    """The object exists already, or the request contradicts current state."""

    code = "CONFLICT"
    http_status = 409


class DeploymentInvalid(RequestError):
    """A setting combination that cannot work (e.g. Celery workers with SQLite metadata):
    refused at start, before anything is served or run."""

    code = "DEPLOYMENT_INVALID"


class PreviewFailed(RequestError):
    """A preview could not read its source (no file for the day, an unreadable file, a failing
    query): the message starts with the load's own error code, which a run would report."""

    code = "PREVIEW_FAILED"
    http_status = 422


class Unauthenticated(RequestError):
    """No key, or a key that is unknown, revoked or expired."""

    code = "AUTHENTICATION_REQUIRED"
    http_status = 401


class Forbidden(RequestError):
    """A valid key whose kind does not allow this operation."""

    code = "FORBIDDEN"
    http_status = 403


class RateLimited(RequestError):
    """Too many requests in a window; ``retry_after`` says when to come back."""

    code = "RATE_LIMITED"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class QueryTimedOut(RequestError):
    """A read query (a Kusto query) ran past its time bound and was stopped."""

    code = "QUERY_TIMEOUT"


class IllegalTransition(RequestError):
    """A state change the state machine does not allow (e.g. canceling a finished unit)."""

    code = "ILLEGAL_TRANSITION"
    http_status = 409


# Refusals of a named kind: each dialect maps the code to its own vocabulary (the Kusto codes in
# ``ingestd.domain.error_codes.kusto_request_code``); elsewhere they are what their base is.


class InvalidProperty(InvalidInput):
    """An ingestion property that is malformed or unknown."""

    code = "INVALID_PROPERTY"


class PropertyNotSupported(InvalidInput):
    """An ingestion property that is valid, but not where it was sent."""

    code = "PROPERTY_NOT_SUPPORTED"


class UnsupportedFormat(InvalidInput):
    """A data format that is not served here (or not with the mapping kind sent)."""

    code = "UNSUPPORTED_FORMAT"


class InvalidMapping(InvalidInput):
    """A mapping given with a request that does not validate."""

    code = "INVALID_MAPPING"


class InconsistentMapping(InvalidInput):
    """A mapping that contradicts the table it maps to."""

    code = "INCONSISTENT_MAPPING"


class DuplicateMapping(InvalidInput):
    """A mapping given twice (inline and by reference, or twice by name)."""

    code = "DUPLICATE_MAPPING"


class InvalidMappingReference(InvalidInput):
    """A reference to a stored mapping that cannot name one (empty, or the wrong kind)."""

    code = "INVALID_MAPPING_REFERENCE"


class MappingNotFound(NotFound):
    """A reference to a stored mapping that the table does not have."""

    code = "MAPPING_NOT_FOUND"


class EmptyBlobUrl(InvalidInput):
    """A blob given without its URL."""

    code = "EMPTY_BLOB_URL"


class InvalidStreamingBody(InvalidInput):
    """A streaming request's body that cannot be read as it says it is (e.g. not gzip)."""

    code = "INVALID_STREAMING_BODY"


class EmptyDatabaseName(InvalidInput):
    """A request that names no database."""

    code = "EMPTY_DATABASE_NAME"


class InvalidName(InvalidInput):
    """An entity name (database, column, mapping) that is not a valid name."""

    code = "INVALID_NAME"


class InvalidTableName(InvalidInput):
    """A table name that is empty or not a valid name."""

    code = "INVALID_TABLE_NAME"


class DatabaseNotFound(NotFound):
    """A database the caller's project does not have."""

    code = "DATABASE_NOT_FOUND"


class UnknownTable(NotFound):
    """A table the caller's project does not have (a request's; a unit's is TABLE_NOT_FOUND)."""

    code = "UNKNOWN_TABLE"


class NotSupported(InvalidInput):
    """A well-formed request for something ingestd does not do."""

    code = "NOT_SUPPORTED"


class CommandSyntaxError(InvalidInput):
    """A command or query that does not parse, or that uses what the subset does not serve."""

    code = "SYNTAX_ERROR"


class CommandSemanticError(InvalidInput):
    """A command or query that parses but does not fit what it names (a missing column)."""

    code = "SEMANTIC_ERROR"


# --- unit errors ------------------------------------------------------------------------------


class UnitError(IngestdError):
    """A unit of work failed. Subclasses fix the code and whether a retry can help."""


class TransientUnitError(UnitError):
    failure_class = FailureClass.TRANSIENT


class AuthenticationError(UnitError):
    """The source rejected the credentials of its connection."""

    code = "AUTHENTICATION_ERROR"


class ConnectionFailure(TransientUnitError):
    """The source could not be reached: refused, reset, unresolvable, 5xx."""

    code = "CONNECTION_ERROR"


class ConnectionConfigError(UnitError):
    """The connection's settings are missing or invalid."""

    code = "CONNECTION_CONFIG_ERROR"


class SourceNotFound(UnitError):
    """The file, blob or object to read does not exist."""

    code = "SOURCE_NOT_FOUND"


class SourceForbidden(UnitError):
    """The storage refused access to the object."""

    code = "SOURCE_FORBIDDEN"


class FetchNotAllowed(UnitError):
    """The URL or path is outside what the configuration allows ingestd to read."""

    code = "FETCH_NOT_ALLOWED"


class SourceTimeout(TransientUnitError):
    """Reading the source took longer than the configured timeout."""

    code = "TIMEOUT"


class SourceTooLarge(UnitError):
    """The blob or file is larger than the configured download limit."""

    code = "SOURCE_TOO_LARGE"


class DuplicateBlob(UnitError):
    """The same blob URL was given twice in one request; only its first copy is loaded."""

    code = "DUPLICATE_BLOB"


class QueryError(UnitError):
    """The source database rejected or failed the query."""

    code = "QUERY_ERROR"


class QueryConstructionError(UnitError):
    """The query or path template could not be rendered for the day."""

    code = "QUERY_CONSTRUCTION_ERROR"


class EmptySource(UnitError):
    """The blob or file has no bytes at all (only an error where data is required)."""

    code = "EMPTY_SOURCE"


class WrongFormat(UnitError):
    """The content does not match the declared or detected format."""

    code = "WRONG_FORMAT"


class CorruptCompression(UnitError):
    """A compressed stream or archive is truncated or corrupt."""

    code = "CORRUPT_COMPRESSION"


class DecompressionLimit(UnitError):
    """A compressed input expands past INGESTD_MAX_DECOMPRESSED_BYTES or
    INGESTD_MAX_COMPRESSION_RATIO (a decompression bomb, or a file too large to load)."""

    code = "DECOMPRESSION_LIMIT"


class TooManyColumns(UnitError):
    """An input's records or the target table have more columns than a load may hold
    (INGESTD_MAX_COLUMNS, or what INGESTD_MEMORY_LIMIT allows): refused before reading."""

    code = "TOO_MANY_COLUMNS"


class EmptyArchive(UnitError):
    """A zip archive holds no member that matches the name pattern."""

    code = "EMPTY_ARCHIVE"


class InvalidEncoding(UnitError):
    """Bytes that are not valid in the declared text encoding."""

    code = "INVALID_ENCODING"


class FieldTooLarge(UnitError):
    """A single field or record exceeds the reader's maximum size."""

    code = "FIELD_TOO_LARGE"


class FormatNotSupported(UnitError):
    """A format or compression ingestd cannot read."""

    code = "FORMAT_NOT_SUPPORTED"


class MalformedRecords(UnitError):
    """The file's structure is broken beyond single bad rows (e.g. an unclosed quote at EOF)."""

    code = "MALFORMED_RECORDS"


class MappingMissing(UnitError):
    """A format that needs a mapping (JSON, Avro) was given none."""

    code = "MAPPING_MISSING"


class MappingInvalid(UnitError):
    """The mapping cannot be parsed or names columns the table does not have."""

    code = "MAPPING_INVALID"


class MappingInconsistent(UnitError):
    """The mapping refers to source columns the file does not have."""

    code = "MAPPING_INCONSISTENT"


class TableNotFound(UnitError):
    """The target table does not exist."""

    code = "TABLE_NOT_FOUND"


class ErrorLimitExceeded(UnitError):
    """The file's bad rows passed the error policy's limit and the policy aborts the unit."""

    code = "ERROR_LIMIT_EXCEEDED"


class AccountingMismatch(UnitError):
    """read != inserted + updated + rejected + errors: the unit refuses to succeed."""

    code = "ACCOUNTING_MISMATCH"


class DestinationError(TransientUnitError):
    """Writing to the destination failed in a way a retry may fix."""

    code = "DESTINATION_ERROR"


class DestinationBusy(TransientUnitError):
    """The destination is locked by another process."""

    code = "DESTINATION_BUSY"


class DestinationRefused(UnitError):
    """The destination refused the connection or the write for a reason a retry cannot fix:
    the credentials, a missing database, a missing privilege, a constraint on the table."""

    code = "DESTINATION_REFUSED"


class Canceled(UnitError):
    """The unit or its run was canceled while it ran."""

    code = "CANCELED"


class InternalError(UnitError):
    """A bug: an exception nobody translated. Reported with its type, never its traceback."""

    code = "INTERNAL_ERROR"


UNIT_ERRORS: tuple[type[UnitError], ...] = (
    AuthenticationError,
    ConnectionFailure,
    ConnectionConfigError,
    SourceNotFound,
    SourceForbidden,
    FetchNotAllowed,
    SourceTimeout,
    SourceTooLarge,
    DuplicateBlob,
    QueryError,
    QueryConstructionError,
    EmptySource,
    WrongFormat,
    CorruptCompression,
    DecompressionLimit,
    TooManyColumns,
    EmptyArchive,
    InvalidEncoding,
    FieldTooLarge,
    FormatNotSupported,
    MalformedRecords,
    MappingMissing,
    MappingInvalid,
    MappingInconsistent,
    TableNotFound,
    ErrorLimitExceeded,
    AccountingMismatch,
    DestinationError,
    DestinationBusy,
    DestinationRefused,
    Canceled,
    InternalError,
)
"""Every unit error class; the dialect mappings in ``domain.error_codes`` cover each one."""

UNIT_ERROR_BY_CODE: dict[str, type[UnitError]] = {cls.code: cls for cls in UNIT_ERRORS}


def failure_class_of(code: str) -> FailureClass:
    """The failure class recorded for a stored error code (unknown codes are Permanent)."""
    cls = UNIT_ERROR_BY_CODE.get(code)
    return cls.failure_class if cls is not None else FailureClass.PERMANENT
