"""SQL (DuckDB) expressions that coerce a source value to a column type, never lossily.

``coerce`` returns the converted value and a predicate that is true where the source value was
present but could not be converted exactly; such rows are quarantined, not loaded. Examples of
what fails: ``'1.5'`` into int64 (a plain cast would round), ``'2024-01-01 10:00'`` into date (a
cast would drop the time), ``'1e400'`` into float64 (a cast would give infinity).
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestd.domain.row_errors import RowError
from ingestd.domain.tables import ColumnType

TEXT_TYPES = frozenset({"VARCHAR", "JSON"})
NUMERIC_TYPES = frozenset(
    {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "FLOAT",
        "DOUBLE",
    }
)
_NON_FINITE_TEXT = "('nan', 'inf', '+inf', '-inf', 'infinity', '+infinity', '-infinity')"
_INTEGER_TEXT = r"'[+-]?[0-9]+(\.0*)?'"
"""Integers as text, with at most a zero fraction. DuckDB's cast would also take '1e3' and
'0x10', and rounds '9007199254740993.5' (past a double's precision) to a whole number."""
_CALENDAR_TEXT = "'^[0-9]{4}[-/]'"
"""Dates and timestamps as text start with a four-digit year. DuckDB's cast would also take
'24-01-01' (the year 24), 'epoch' and 'infinity'."""

SQL_TYPES: dict[ColumnType, str] = {
    ColumnType.STRING: "VARCHAR",
    ColumnType.INT64: "BIGINT",
    ColumnType.FLOAT64: "DOUBLE",
    ColumnType.BOOL: "BOOLEAN",
    ColumnType.DATE: "DATE",
    ColumnType.TIMESTAMP: "TIMESTAMP",
    ColumnType.JSON: "JSON",
    ColumnType.EPOCH_SECONDS: "BIGINT",
}


@dataclass(frozen=True)
class Coercion:
    value: str
    """SQL expression of the converted value."""
    fails: str | None
    """SQL predicate: the source had a value that did not convert exactly (None: cannot fail)."""
    code: RowError = RowError.TYPE_MISMATCH


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_numeric(source_type: str) -> bool:
    return source_type in NUMERIC_TYPES or source_type.startswith("DECIMAL")


def coerce(expr: str, source_type: str, target: ColumnType) -> Coercion:
    """Convert ``expr`` (of DuckDB type ``source_type``) to ``target`` without loss."""
    source_type = source_type.upper()
    if source_type == "JSON" and target is not ColumnType.JSON:
        # A JSON value feeding a scalar column: unwrap strings ("a" -> a), keep numbers' text.
        expr, source_type = f"json_extract_string({expr}, '$')", "VARCHAR"
    text = source_type in TEXT_TYPES
    if target is ColumnType.STRING:
        return Coercion(expr if text else f"CAST({expr} AS VARCHAR)", None)
    if text:
        # Blank text in a typed column is a missing value, not a malformed one (CSV readers
        # and JSON exports write "" for NULL); required columns still refuse it.
        expr = f"NULLIF(trim({expr}), '')"
    present = f"{expr} IS NOT NULL"
    match target:
        case ColumnType.INT64:
            return _integer(expr, text, source_type)
        case ColumnType.FLOAT64:
            value = f"TRY_CAST({expr} AS DOUBLE)"
            if text:
                finite_or_said_so = f"(isfinite({value}) OR lower({expr}) IN {_NON_FINITE_TEXT})"
                return Coercion(
                    value, f"{present} AND ({value} IS NULL OR NOT {finite_or_said_so})"
                )
            return Coercion(value, f"{present} AND {value} IS NULL")
        case ColumnType.BOOL:
            value = f"TRY_CAST({expr} AS BOOLEAN)"
            if _is_numeric(source_type):
                # A cast makes any non-zero number true; only 0 and 1 are booleans.
                return Coercion(value, f"{present} AND {expr} NOT IN (0, 1)")
            return Coercion(value, f"{present} AND {value} IS NULL")
        case ColumnType.DATE:
            value = f"TRY_CAST({expr} AS DATE)"
            # A value with a time of day is not a date: casting would drop the time.
            exact = f"TRY_CAST({expr} AS TIMESTAMP) = {value}"
            if text:
                calendar = f"regexp_matches({expr}, {_CALENDAR_TEXT})"
                return Coercion(
                    value, f"{present} AND ({value} IS NULL OR NOT ({exact} AND {calendar}))"
                )
            if source_type.startswith("TIMESTAMP"):
                return Coercion(value, f"{present} AND ({value} IS NULL OR NOT ({exact}))")
            return Coercion(value, f"{present} AND {value} IS NULL")
        case ColumnType.TIMESTAMP:
            if text or source_type == "TIMESTAMP WITH TIME ZONE":
                # Offsets are honoured and converted to UTC (the session time zone is UTC).
                value = f"CAST(TRY_CAST({expr} AS TIMESTAMPTZ) AS TIMESTAMP)"
            else:
                value = f"TRY_CAST({expr} AS TIMESTAMP)"
            fails = f"{value} IS NULL"
            if text:
                fails += f" OR NOT regexp_matches({expr}, {_CALENDAR_TEXT})"
            return Coercion(value, f"{present} AND ({fails})", RowError.INVALID_TIMESTAMP)
        case ColumnType.JSON:
            if text:
                # TRY_CAST: CAST raises on the first invalid document and fails the file.
                value = f"TRY_CAST({expr} AS JSON)"
                return Coercion(value, f"{present} AND {value} IS NULL")
            return Coercion(f"CAST(to_json({expr}) AS JSON)", None)
        case ColumnType.EPOCH_SECONDS:
            return _epoch_seconds(expr, text, source_type)
    raise AssertionError(f"unhandled column type {target}")  # pragma: no cover


def _integer(expr: str, text: bool, source_type: str) -> Coercion:
    value = f"TRY_CAST({expr} AS BIGINT)"
    present = f"{expr} IS NOT NULL"
    if text:
        # '1.5' would cast to 2: only integer text converts.
        integral = f"regexp_full_match({expr}, {_INTEGER_TEXT})"
        return Coercion(value, f"{present} AND ({value} IS NULL OR NOT {integral})")
    if _is_numeric(source_type):
        return Coercion(value, f"{present} AND ({value} IS NULL OR {value} <> {expr})")
    return Coercion(value, f"{present} AND {value} IS NULL")


def _epoch_seconds(expr: str, text: bool, source_type: str) -> Coercion:
    present = f"{expr} IS NOT NULL"
    if source_type.startswith("TIMESTAMP") or source_type == "DATE":
        micros = f"epoch_us(CAST({expr} AS TIMESTAMPTZ))"
        value = f"({micros} // 1000000)"
        return Coercion(value, f"{present} AND {micros} % 1000000 <> 0", RowError.INVALID_TIMESTAMP)
    integer = _integer(expr, text, source_type)
    if not text:
        return Coercion(integer.value, integer.fails, RowError.INVALID_TIMESTAMP)
    # Text: whole seconds, or an ISO-8601 timestamp without a fraction of a second.
    micros = f"epoch_us(TRY_CAST({expr} AS TIMESTAMPTZ))"
    number_ok = f"NOT ({integer.fails})"
    calendar = f"regexp_matches({expr}, {_CALENDAR_TEXT})"
    value = (
        f"CASE WHEN {integer.value} IS NOT NULL AND {number_ok} THEN {integer.value} "
        f"WHEN {calendar} AND {micros} % 1000000 = 0 THEN {micros} // 1000000 END"
    )
    return Coercion(value, f"{present} AND ({value}) IS NULL", RowError.INVALID_TIMESTAMP)
