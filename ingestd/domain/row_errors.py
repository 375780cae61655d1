"""Stable codes for rows that are quarantined instead of loaded."""

from __future__ import annotations

from enum import StrEnum


class RowError(StrEnum):
    WRONG_NUMBER_OF_FIELDS = "WRONG_NUMBER_OF_FIELDS"
    UNCLOSED_QUOTE = "UNCLOSED_QUOTE"
    INVALID_ENCODING = "INVALID_ENCODING"
    RECORD_TOO_LARGE = "RECORD_TOO_LARGE"
    MALFORMED_JSON = "MALFORMED_JSON"
    NOT_AN_OBJECT = "NOT_AN_OBJECT"
    UNPARSEABLE_RECORD = "UNPARSEABLE_RECORD"
    MISSING_REQUIRED_FIELD = "MISSING_REQUIRED_FIELD"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    INVALID_TIMESTAMP = "INVALID_TIMESTAMP"
    VALUE_TOO_LONG = "VALUE_TOO_LONG"
    RULE_VIOLATION = "RULE_VIOLATION"
    FILE_SKIPPED = "FILE_SKIPPED"
    """A good row of a file that the error policy skipped; kept so it can be replayed."""


# DuckDB's CSV reject `error_type` values (read_csv store_rejects) -> our codes.
CSV_REJECT_CODES: dict[str, RowError] = {
    "MISSING COLUMNS": RowError.WRONG_NUMBER_OF_FIELDS,
    "TOO MANY COLUMNS": RowError.WRONG_NUMBER_OF_FIELDS,
    "UNQUOTED VALUE": RowError.UNCLOSED_QUOTE,
    "INVALID ENCODING": RowError.INVALID_ENCODING,
    "INVALID UNICODE": RowError.INVALID_ENCODING,
    "LINE SIZE OVER MAXIMUM": RowError.RECORD_TOO_LARGE,
    "CAST": RowError.TYPE_MISMATCH,
}

# The same, for NDJSON read line by line: any other refusal means the line is not JSON.
JSON_LINE_REJECT_CODES: dict[str, RowError] = {
    "INVALID ENCODING": RowError.INVALID_ENCODING,
    "INVALID UNICODE": RowError.INVALID_ENCODING,
    "LINE SIZE OVER MAXIMUM": RowError.RECORD_TOO_LARGE,
}
