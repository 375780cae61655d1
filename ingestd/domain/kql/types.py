"""The one Kusto type map: KQL scalar types, the KQL type of each ingestd column type (query
results, ``.show table`` schemas), their .NET names, and the ingestd column type of each KQL
type a ``.create table`` may name."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ingestd.domain.tables import ColumnType, parse_column_type
from ingestd.errors import NotSupported


class KqlType(StrEnum):
    STRING = "string"
    LONG = "long"
    REAL = "real"
    BOOL = "bool"
    DATETIME = "datetime"
    DYNAMIC = "dynamic"

    @property
    def numeric(self) -> bool:
        return self in (KqlType.LONG, KqlType.REAL)

    @property
    def dotnet(self) -> str:
        """The .NET type name schemas show (``.show table ... cslschema``'s ``Type``)."""
        return _DOTNET_TYPES[self]


_DOTNET_TYPES: dict[KqlType, str] = {
    KqlType.STRING: "System.String",
    KqlType.LONG: "System.Int64",
    KqlType.REAL: "System.Double",
    KqlType.BOOL: "System.Boolean",
    KqlType.DATETIME: "System.DateTime",
    KqlType.DYNAMIC: "System.Object",
}


KQL_TYPES: dict[ColumnType, KqlType] = {
    ColumnType.STRING: KqlType.STRING,
    ColumnType.INT64: KqlType.LONG,
    ColumnType.FLOAT64: KqlType.REAL,
    ColumnType.BOOL: KqlType.BOOL,
    ColumnType.DATE: KqlType.DATETIME,
    ColumnType.TIMESTAMP: KqlType.DATETIME,
    ColumnType.JSON: KqlType.DYNAMIC,
    ColumnType.EPOCH_SECONDS: KqlType.LONG,
}
"""What each ingestd column type is in KQL: query results and management schemas alike."""

V1_DATA_TYPES: dict[str, str] = {
    "string": "String",
    "long": "Int64",
    "int": "Int32",
    "real": "Double",
    "bool": "Boolean",
    "datetime": "DateTime",
    "dynamic": "Object",
    "guid": "Guid",
}
"""The v1 table ``DataType`` of each column type a v1 response table may have."""

_UNSUPPORTED_TYPES = frozenset({"timespan", "time", "decimal"})


def column_type_of(name: str) -> ColumnType:
    """The ingestd column type of KQL type ``name`` (``.create table``): ``guid`` is kept as
    a string; ``timespan`` and ``decimal`` are refused (ingestd has no exact type for them)."""
    lowered = name.lower()
    if lowered in ("guid", "uniqueid"):
        return ColumnType.STRING
    if lowered in _UNSUPPORTED_TYPES:
        raise NotSupported(
            f"column type {name!r} is not supported by ingestd",
            hint="use string, long, int, real, double, bool, datetime, dynamic or guid",
        )
    return parse_column_type(lowered)


@dataclass(frozen=True)
class ResultColumn:
    name: str
    type: KqlType
