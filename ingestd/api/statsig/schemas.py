"""Wire models of the Statsig Console API ingestion endpoints (API-SURFACE §1).

Field names and casing are the vendor's. Request models refuse unknown fields, except the
documented ingestd extensions (``api_triggered`` on sources; connection bodies for the
connection types ingestd adds). Connection bodies are the domain's typed bodies
(``domain.connections``), which accept the vendor's Databricks fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ingestd.domain.connections import BODIES

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
    "s3": "s3",
    "adls": "adls",
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


class ScheduleUpdate(_Strict):
    dataset: str
    scheduled_hour_pst: float = Field(default=10, ge=0, le=23)


class MarkDataReady(BaseModel):
    # §1.4 T: the vendor example is loose (a string for `datestamps`); accept its shapes.
    model_config = ConfigDict(extra="ignore")
    datestamps: str | list[str]
    type: Literal["metrics", "events"]
    sources: list[str] | None = None


def connection_bodies_openapi() -> dict[str, Any]:
    """The request body of ``POST /console/v1/ingestion/connection/{type}`` for /openapi.json:
    one of the typed bodies (``domain.connections``), the one of the path's type. The route
    takes a JSON object and validates it against that body itself, since the type is in the
    path, not in the body."""
    bodies = []
    for connection_type, kind in CONNECTION_KIND_OF_TYPE.items():
        if connection_type == "databricks":
            continue  # its own route, declared with its body
        schema = BODIES[kind].model_json_schema(by_alias=True)
        schema["title"] = f"{connection_type} connection"
        schema["description"] = (
            f"The body of POST /console/v1/ingestion/connection/{connection_type}. "
            + (schema.get("description") or "")
        ).strip()
        bodies.append(schema)
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"oneOf": bodies}}},
        }
    }


def single(message: str, data: Any) -> dict[str, Any]:
    """``SingleDataResponse`` (§1.1)."""
    return {"message": message, "data": data}
