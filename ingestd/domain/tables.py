"""Tables: a namespace, a name, typed columns, an optional primary key and row rules."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from ingestd.domain.names import check_identifier
from ingestd.domain.physical_names import physical_schema
from ingestd.errors import InvalidInput


class ColumnType(StrEnum):
    """Column types a table may declare. Values are what users write."""

    STRING = "string"
    INT64 = "int64"
    FLOAT64 = "float64"
    BOOL = "bool"
    DATE = "date"
    TIMESTAMP = "timestamp"
    JSON = "json"
    EPOCH_SECONDS = "epoch_seconds"
    """Stored as a 64-bit integer; accepts integers or ISO-8601 text (Statsig timestamps)."""


# Aliases that users (and Kusto `.create table` commands) commonly write.
_TYPE_ALIASES = {
    "str": ColumnType.STRING,
    "text": ColumnType.STRING,
    "varchar": ColumnType.STRING,
    "int": ColumnType.INT64,
    "long": ColumnType.INT64,
    "bigint": ColumnType.INT64,
    "integer": ColumnType.INT64,
    "real": ColumnType.FLOAT64,
    "double": ColumnType.FLOAT64,
    "float": ColumnType.FLOAT64,
    "boolean": ColumnType.BOOL,
    "datetime": ColumnType.TIMESTAMP,
    "dynamic": ColumnType.JSON,
}


def parse_column_type(value: str) -> ColumnType:
    """Read a type name (case-insensitive, with common aliases) or raise ``InvalidInput``."""
    lowered = value.strip().lower()
    if lowered in _TYPE_ALIASES:
        return _TYPE_ALIASES[lowered]
    try:
        return ColumnType(lowered)
    except ValueError:
        known = ", ".join(t.value for t in ColumnType)
        raise InvalidInput(f"unknown column type {value!r}", hint=f"use one of {known}") from None


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = True
    max_length: int | None = None
    """For string columns: longer values are quarantined, never truncated."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type.value}
        if not self.nullable:
            out["nullable"] = False
        if self.max_length is not None:
            out["max_length"] = self.max_length
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Column:
        unknown = set(raw) - {"name", "type", "nullable", "max_length"}
        if unknown:
            raise InvalidInput(f"column definition has unknown fields {sorted(unknown)}")
        if "name" not in raw or "type" not in raw:
            raise InvalidInput(f"column definition {raw!r} needs 'name' and 'type'")
        max_length = raw.get("max_length")
        if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
            raise InvalidInput(f"column {raw['name']!r}: max_length must be a positive integer")
        return cls(
            name=check_identifier(str(raw["name"]), what="column"),
            type=parse_column_type(str(raw["type"])),
            nullable=bool(raw.get("nullable", True)),
            max_length=max_length,
        )


@dataclass(frozen=True)
class TableSpec:
    """What a destination table holds. ``require_one_of`` lists groups of columns of which at
    least one group must be entirely non-null (e.g. a metric value, or numerator and
    denominator).

    ``project`` is the name of the project the table belongs to: a destination names the table
    ``physical_schema(project, namespace).name`` (docs/security/data-per-project.md), so two
    projects' tables of one name never share rows. It is None only for a table not yet placed
    in a project (a Statsig dataset's schema, a definition a user typed); the catalog stamps the
    project on every table it returns, and a destination refuses a table without one.
    """

    namespace: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    require_one_of: tuple[tuple[str, ...], ...] = field(default=())
    project: str | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        check_identifier(self.namespace, what="namespace")
        check_identifier(self.name, what="table")
        if self.project is not None:
            physical_schema(self.project, self.namespace)  # refuses a name it cannot place
        if not self.columns:
            raise InvalidInput(f"table {self.qualified_name} needs at least one column")
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidInput(f"table {self.qualified_name} repeats columns {duplicates}")
        for key in self.primary_key:
            if key not in names:
                raise InvalidInput(
                    f"primary key column {key!r} is not a column of {self.qualified_name}"
                )
        for group in self.require_one_of:
            for name in group:
                if name not in names:
                    raise InvalidInput(f"rule names unknown column {name!r}")

    @property
    def qualified_name(self) -> str:
        return f"{self.namespace}.{self.name}"

    def in_project(self, project: str) -> TableSpec:
        """This table, placed in ``project``."""
        return replace(self, project=project)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise InvalidInput(f"table {self.qualified_name} has no column {name!r}")

    def has_column(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)

    def to_dict(self) -> dict[str, Any]:
        """The stored form of the table's definition (without its namespace, name, project)."""
        out: dict[str, Any] = {"columns": [c.to_dict() for c in self.columns]}
        if self.primary_key:
            out["primary_key"] = list(self.primary_key)
        if self.require_one_of:
            out["require_one_of"] = [list(g) for g in self.require_one_of]
        return out

    @classmethod
    def from_dict(cls, namespace: str, name: str, spec: dict[str, Any]) -> TableSpec:
        """The table ``namespace.name`` defined by ``spec`` (as ``to_dict`` writes it)."""
        columns = spec.get("columns")
        if not isinstance(columns, list):
            raise InvalidInput("a table needs 'columns': a list of {name, type}")
        return cls(
            namespace,
            name,
            tuple(Column.from_dict(c) for c in columns),
            tuple(spec.get("primary_key") or ()),
            tuple(tuple(g) for g in spec.get("require_one_of") or ()),
        )


def split_table_name(qualified: str) -> tuple[str, str]:
    """``namespace.name`` as its checked (namespace, name)."""
    namespace, _, name = qualified.rpartition(".")
    if not namespace:
        raise InvalidInput(
            f"table {qualified!r} needs a namespace", hint="write it as namespace.name"
        )
    return check_identifier(namespace, what="namespace"), check_identifier(name, what="table")
