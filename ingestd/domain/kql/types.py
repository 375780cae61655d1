"""KQL scalar types of query results, and the KQL type of each ingestd column type."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ingestd.domain.tables import ColumnType


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
"""The same map as the management commands' schemas (api/kusto/wire.py)."""


@dataclass(frozen=True)
class ResultColumn:
    name: str
    type: KqlType
