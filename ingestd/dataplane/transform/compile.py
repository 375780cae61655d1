"""Compile a mapping onto a table into one DuckDB SELECT over a file's scan.

The SELECT yields, per source record and in file order: the file's index, every table column
(coerced), ``_err`` (NULL for a good row; else ``CODE<US>column<US>message`` for the first rule
the row breaks) and ``_raw`` (the source record as JSON, only for bad rows). Everything runs
vectorised inside DuckDB: no Python objects per row.
"""

from __future__ import annotations

from collections.abc import Mapping as TypingMapping
from dataclasses import dataclass

from ingestd.dataplane.transform.coerce import Coercion, coerce, sql_literal
from ingestd.domain.mapping import FieldMapping, Mapping, RefKind, SourceRef, Transform
from ingestd.domain.names import quote
from ingestd.domain.row_errors import RowError
from ingestd.domain.tables import ColumnType, TableSpec
from ingestd.errors import MappingInconsistent, MappingInvalid

SEP = "\x1f"
"""Separates code, column and message inside ``_err``."""

_UNIX_DIVISORS = {
    Transform.FROM_UNIX_SECONDS: 1,
    Transform.FROM_UNIX_MILLISECONDS: 1_000,
    Transform.FROM_UNIX_MICROSECONDS: 1_000_000,
    Transform.FROM_UNIX_NANOSECONDS: 1_000_000_000,
}


@dataclass(frozen=True)
class SourceShape:
    """What a scan offers: its columns in order with their DuckDB types."""

    columns: tuple[tuple[str, str], ...]
    file_name: str
    json_paths: bool = False
    """JSON sources: nested paths are read with json_extract_string from a JSON column."""

    @property
    def types(self) -> TypingMapping[str, str]:
        return dict(self.columns)


def json_path(keys: tuple[str, ...]) -> str:
    """A DuckDB JSON path to ``keys``, each quoted (keys may hold dots, quotes, spaces)."""
    quoted = (k.replace("\\", "\\\\").replace('"', '\\"') for k in keys)
    return "$" + "".join(f'."{k}"' for k in quoted)


def _error(code: RowError, column: str, message_sql: str) -> str:
    return f"{sql_literal(code.value + SEP + column + SEP)} || {message_sql}"


def _reference(ref: SourceRef, shape: SourceShape) -> tuple[str, str]:
    """SQL expression and DuckDB type of one source reference."""
    types = shape.types
    match ref.kind:
        case RefKind.CONST:
            return sql_literal(str(ref.value)), "VARCHAR"
        case RefKind.SOURCE_LOCATION:
            return sql_literal(shape.file_name), "VARCHAR"
        case RefKind.ORDINAL:
            index = int(ref.value or 0)
            if not 0 <= index < len(shape.columns):
                raise MappingInconsistent(
                    f"{shape.file_name}: the mapping reads field {index} (from 0), but records "
                    f"have {len(shape.columns)} fields",
                    hint="check the delimiter and the mapping's ordinals",
                )
            name, sql_type = shape.columns[index]
            return f"s.{quote(name)}", sql_type
        case RefKind.COLUMN:
            name = str(ref.value)
            if name not in types:
                raise MappingInconsistent(
                    f"{shape.file_name}: the mapping reads column {name!r}, which the file does "
                    f"not have (it has {', '.join(repr(c) for c in types) or 'no columns'})",
                    hint="check the header, the delimiter and the mapping",
                )
            return f"s.{quote(name)}", types[name]
        case RefKind.PATH:
            keys = ref.path_keys()
            if keys[0] not in types:
                # JSON records without the key read as NULL (the scan asked for it); other
                # formats must have the column.
                raise MappingInconsistent(
                    f"{shape.file_name}: the path {ref.value} needs field {keys[0]!r}",
                    hint="check the mapping's paths",
                )
            head = f"s.{quote(keys[0])}"
            if len(keys) == 1:
                return head, types[keys[0]]
            if shape.json_paths:
                rest = json_path(keys[1:])
                return f"json_extract_string({head}, {sql_literal(rest)})", "VARCHAR"
            return head + "".join(f".{quote(k)}" for k in keys[1:]), "VARCHAR"
        case _:
            raise MappingInvalid(f"{ref.describe()} cannot be used in this mapping")


def _field_value(
    field: FieldMapping | None, target_type: ColumnType, shape: SourceShape
) -> Coercion:
    if field is None:
        return Coercion("NULL", None)
    if field.parts:
        pairs = ", ".join(
            f"{sql_literal(key)}, CAST({_reference(ref, shape)[0]} AS VARCHAR)"
            for key, ref in field.parts
        )
        return Coercion(f"json_object({pairs})", None)
    assert field.source is not None
    expr, source_type = _reference(field.source, shape)
    if field.transform is not None:
        if target_type not in (ColumnType.TIMESTAMP, ColumnType.EPOCH_SECONDS):
            raise MappingInvalid(
                f"{field.transform.value} gives a point in time, but column {field.target} is "
                f"{target_type.value}",
                hint="map it to a timestamp or epoch_seconds column",
            )
        divisor = _UNIX_DIVISORS[field.transform]
        number = f"TRY_CAST({expr} AS DOUBLE)"
        seconds = f"{number} / {divisor}"
        # TRY everywhere: a number out of the timestamp range (1e30, inf) is a bad row, not a
        # conversion error that fails the whole file.
        if target_type is ColumnType.EPOCH_SECONDS:
            value = f"TRY_CAST({seconds} AS BIGINT)"
            return Coercion(
                value,
                f"{expr} IS NOT NULL AND ({value} IS NULL OR {seconds} <> floor({seconds}))",
                RowError.INVALID_TIMESTAMP,
            )
        value = f"TRY(make_timestamp(TRY_CAST(round({number} * 1000000 / {divisor}) AS BIGINT)))"
        return Coercion(
            value, f"{expr} IS NOT NULL AND {value} IS NULL", RowError.INVALID_TIMESTAMP
        )
    return coerce(expr, source_type, target_type)


def _raw_source(field: FieldMapping | None, shape: SourceShape) -> str | None:
    if field is None or field.parts or field.source is None:
        return None
    if field.source.kind in (RefKind.CONST, RefKind.SOURCE_LOCATION):
        return None
    return _reference(field.source, shape)[0]


def compile_select(
    table: TableSpec,
    mapping: Mapping,
    shape: SourceShape,
    *,
    file_index: int,
    scan_sql: str,
    file_sql: str | None = None,
) -> str:
    """The staging SELECT for one file; see the module docstring for its columns. A scan of
    several files gives ``file_sql``, an expression over its row ``s`` that is the row's file
    index (then ``file_index`` is not used)."""
    mapping.check_against(table)
    inner: list[str] = [] if file_sql is None else [f"{file_sql} AS _fi"]
    outer: list[str] = []
    type_errors: list[str] = []
    rules: list[str] = []
    for index, column in enumerate(table.columns):
        field = mapping.for_target(column.name)
        coercion = _field_value(field, column.type, shape)
        inner.append(f"{coercion.value} AS _v{index}")
        outer.append(f"_v{index} AS {quote(column.name)}")
        raw = _raw_source(field, shape)
        if coercion.fails is not None:
            shown = f"left(CAST({raw} AS VARCHAR), 80)" if raw else "'?'"
            message = f"'value ' || {shown} || ' is not a valid {column.type.value}'"
            inner.append(
                f"CASE WHEN {coercion.fails} THEN "
                f"{_error(coercion.code, column.name, message)} END AS _t{index}"
            )
            type_errors.append(f"_t{index}")
    position = {column.name: index for index, column in enumerate(table.columns)}
    for index, column in enumerate(table.columns):
        if not column.nullable or column.name in table.primary_key:
            missing = f"_v{index} IS NULL"
            if column.type is ColumnType.STRING:
                missing += f" OR _v{index} = ''"
            rules.append(
                f"WHEN {missing} THEN "
                + _error(
                    RowError.MISSING_REQUIRED_FIELD,
                    column.name,
                    sql_literal(f"required field {column.name} is missing or empty"),
                )
            )
        if column.max_length is not None:
            rules.append(
                f"WHEN length(_v{index}) > {column.max_length} THEN "
                + _error(
                    RowError.VALUE_TOO_LONG,
                    column.name,
                    f"{sql_literal(column.name + ' has ')} || length(_v{index}) || "
                    + sql_literal(f" characters; the limit is {column.max_length}"),
                )
            )
    if table.require_one_of:
        groups = " OR ".join(
            "(" + " AND ".join(f"_v{position[c]} IS NOT NULL" for c in group) + ")"
            for group in table.require_one_of
        )
        said = " or ".join(" and ".join(group) for group in table.require_one_of)
        rules.append(
            f"WHEN NOT ({groups}) THEN "
            + _error(
                RowError.RULE_VIOLATION, table.require_one_of[0][0], sql_literal(f"needs {said}")
            )
        )
    candidates = [*type_errors, *([f"CASE {' '.join(rules)} END"] if rules else [])]
    if not candidates:
        err = "CAST(NULL AS VARCHAR)"
    elif len(candidates) == 1:
        err = candidates[0]
    else:
        err = f"COALESCE({', '.join(candidates)})"
    file_column = str(file_index) if file_sql is None else "_fi"
    return (
        f"SELECT {file_column} AS _file, {', '.join(outer)}, {err} AS _err, "
        f"CASE WHEN _err IS NOT NULL THEN CAST(to_json(_src) AS VARCHAR) END AS _raw "
        f"FROM (SELECT {', '.join(inner)}, s AS _src FROM {scan_sql} AS s)"
    )
