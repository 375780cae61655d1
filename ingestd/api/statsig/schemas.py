"""Wire models of the Statsig Console API ingestion endpoints (API-SURFACE §1).

Field names and casing are the vendor's. Request models refuse unknown fields, except the
documented ingestd extensions (``api_triggered`` on sources; connection bodies for the
connection types ingestd adds).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# §1.3: the vendor's connector types, then ingestd's own (a documented extension).
VENDOR_TYPES = (
    "redshift",
    "bigquery-v2",
    "snowflake-v2",
    "databricks",
    "azure-synapse",
    "s3",
    "athena",
    "adls",
)
INGESTD_TYPES = ("postgres", "mysql", "sqlite", "duckdb", "file")
CONNECTION_TYPES = VENDOR_TYPES + INGESTD_TYPES
# Connection kinds ingestd can read today; the others are accepted on the wire and answered
# "Ingestion of type X not found." until a connection of that kind exists.
CONNECTION_KIND_OF_TYPE = {
    "redshift": "redshift",
    "postgres": "postgres",
    "duckdb": "duckdb",
    "sqlite": "sqlite",
    "file": "file",
    "mysql": "mysql",
    "snowflake-v2": "snowflake",
    "bigquery-v2": "bigquery",
    "databricks": "databricks",
    "athena": "athena",
    "azure-synapse": "synapse",
}
DATASETS = (
    "Events",
    "Metrics",
    "Exposures",
    "export_exposures",
    "export_events",
    "entity_properties",
    "events",
    "metrics",
    "exposures",
)

ConnectionType = Literal[
    "redshift",
    "bigquery-v2",
    "snowflake-v2",
    "databricks",
    "azure-synapse",
    "s3",
    "athena",
    "adls",
    "postgres",
    "mysql",
    "sqlite",
    "duckdb",
    "file",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceCreate(_Strict):
    dataset: str
    type: ConnectionType
    source_name: str = Field(min_length=1, max_length=128)
    query: str | None = None
    column_mapping: dict[str, Any] | None = None
    use_delta_sharing: Literal[True] | None = None
    share: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    table: str | None = None
    enabled: bool | None = None
    api_triggered: bool | None = None
    """ingestd extension: load only when mark_data_ready_dwh says the data is ready."""


class SourceUpdate(_Strict):
    dataset: str
    type: ConnectionType
    source_name: str | None = None
    query: str | None = None
    column_mapping: dict[str, Any] | None = None
    share: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    table: str | None = None
    enabled: bool | None = None
    api_triggered: bool | None = None


class Backfill(_Strict):
    datestamp_start: str
    datestamp_end: str
    type: ConnectionType
    dataset: str
    source: str | list[str] | None = None


class DatabricksConnection(_Strict):
    token: str
    host: str
    path: str
    deltaSharingCredentials: str | None = None
    verified: bool | None = None


class ScheduleUpdate(_Strict):
    dataset: str
    scheduled_hour_pst: float = Field(default=10, ge=0, le=23)


class MarkDataReady(BaseModel):
    # §1.4 T: the vendor example is loose (a string for `datestamps`); accept its shapes.
    model_config = ConfigDict(extra="ignore")
    datestamps: str | list[str]
    type: Literal["metrics", "events"]
    sources: list[str] | None = None


def single(message: str, data: Any) -> dict[str, Any]:
    """``SingleDataResponse`` (§1.1)."""
    return {"message": message, "data": data}
