"""Wire models of the Amperity dialect (API-SURFACE §2; the vendor OpenAPI 2024-04-01).

Field names are the vendor's. Response models list exactly the schema's properties (several
schemas forbid any other); optional properties are left out when unset, never sent as null.
Request bodies refuse unknown fields (``WorkflowRunRequest`` is ``additionalProperties: false``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- ingest jobs (§2.3, §2.4) ------------------------------------------------------------------


class IngestFileDetails(BaseModel):
    file_id: str
    name: str | None = None
    read: int
    errors: int


class IngestFeedDetails(BaseModel):
    feed_id: str
    job_id: str
    table_name: str
    state: str
    read: int
    errors: int
    rejected: int
    inserted: int
    updated: int
    started_at: str
    ended_at: str
    files: list[IngestFileDetails]


class IngestJobDetails(BaseModel):
    id: str
    workflow_id: str
    tables: list[IngestFeedDetails]


class IngestJobDetailsList(BaseModel):
    data: list[IngestJobDetails]
    next_token: str | None = None
    total: int | None = None


# -- workflows (§2.5) --------------------------------------------------------------------------


class WorkflowError(BaseModel):
    type: str
    message: str
    attribution: Literal["customer", "platform"] | None = None


class WorkflowTaskInstance(BaseModel):
    id: str
    state: str
    tenant: str
    created_at: str | None = None
    ended_at: str | None = None
    label: str | None = None
    state_changed_at: str | None = None
    task_definition_type: str | None = None
    workflow_id: str | None = None
    error: WorkflowError | None = None


class Workflow(BaseModel):
    id: str
    state: str
    type: str
    name: str
    tenant: str
    created_at: str
    ended_at: str | None = None
    task_instances: list[WorkflowTaskInstance] | None = None
    error: WorkflowError | None = None


class WorkflowList(BaseModel):
    data: list[Workflow]
    next_token: str | None = None
    total: int | None = None


class WorkflowRunRequest(_Strict):
    """Start a workflow: here, a feed's ingestion (``config_id`` is its ``df-`` feed id)."""

    config_id: str = Field(min_length=1, max_length=200)
    range_from: str | None = None
    range_to: str | None = None
    run_mode: Literal["source", "refresh", "full"] | None = None


# -- token (§2.1) and errors -------------------------------------------------------------------


class TokenResponse(BaseModel):
    access_token: str
    expires_in: int
    token_type: str


class ErrorBody(BaseModel):
    """§2.1: ``status`` and ``message``; ``request_id`` as the responses page documents."""

    status: int
    message: str
    request_id: str | None = None
