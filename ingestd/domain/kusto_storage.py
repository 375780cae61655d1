"""The Azure Storage resources ingestd serves to Microsoft's Kusto ingest SDKs (pure values).

``.get ingestion resources`` names, per project, one temporary blob container the SDK uploads
to, the ready-for-aggregation queue it posts ingestion messages to, the success and failure
notification queues and the status table. ingestd serves each of them itself under
``/_storage/{service}/{project}/{resource}`` (docs/kusto-sdk.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class StorageService(StrEnum):
    BLOB = "blob"
    QUEUE = "queue"
    TABLE = "table"


class Resource(StrEnum):
    """The resources a project has; the value is the container, queue or table name."""

    TEMP_STORAGE = "ingestd-tempstorage"
    READY_QUEUE = "readyforaggregation-secured"
    SUCCESS_QUEUE = "successfulingestions"
    FAILURE_QUEUE = "failedingestions"
    STATUS_TABLE = "ingestionsstatus"

    @property
    def service(self) -> StorageService:
        if self is Resource.TEMP_STORAGE:
            return StorageService.BLOB
        if self is Resource.STATUS_TABLE:
            return StorageService.TABLE
        return StorageService.QUEUE

    @property
    def type_name(self) -> str:
        """``ResourceTypeName`` in the ``.get ingestion resources`` result."""
        return _TYPE_NAMES[self]

    @property
    def permissions(self) -> str:
        """What a SAS for it allows, in Azure's letters: r read, a add, c create, w write,
        p process (get and delete messages), u update."""
        return _PERMISSIONS[self]


_TYPE_NAMES = {
    Resource.TEMP_STORAGE: "TempStorage",
    Resource.READY_QUEUE: "SecuredReadyForAggregationQueue",
    Resource.SUCCESS_QUEUE: "SuccessfulIngestionsQueue",
    Resource.FAILURE_QUEUE: "FailedIngestionsQueue",
    Resource.STATUS_TABLE: "IngestionsStatusTable",
}
# The SDK only uploads to the container (it never lists or reads it back), only adds to the
# ready queue and only reads and deletes notifications: a SAS allows no more than that.
_PERMISSIONS = {
    Resource.TEMP_STORAGE: "rcw",
    Resource.READY_QUEUE: "a",
    Resource.SUCCESS_QUEUE: "rp",
    Resource.FAILURE_QUEUE: "rp",
    # The status table: the SDK inserts its entity (a), reads it back (r), and ingestd
    # updates it (u); nothing may delete or list another's.
    Resource.STATUS_TABLE: "rau",
}

NOTIFICATION_QUEUES = frozenset({Resource.SUCCESS_QUEUE, Resource.FAILURE_QUEUE})


def resource_named(service: StorageService, name: str) -> Resource | None:
    """The resource ``name`` of ``service``, or None if ingestd serves no such thing."""
    for resource in Resource:
        if resource.value == name and resource.service is service:
            return resource
    return None


@dataclass(frozen=True)
class QueueMessage:
    """One message of a notification queue, as Azure's Queue service describes it."""

    id: str
    content: str
    """The message text (the queue API sends it base64-encoded, as the SDK decodes it)."""
    inserted_at: datetime
    expires_at: datetime
    visible_at: datetime
    pop_receipt: str
    dequeue_count: int


class ReportLevel(StrEnum):
    """``ReportLevel`` of an ingestion message (the SDK's ``ReportLevel`` values 0, 1, 2)."""

    FAILURES_ONLY = "0"
    NONE = "1"
    ALL = "2"


class ReportMethod(StrEnum):
    """``ReportMethod`` of an ingestion message: where its outcome is reported (API-SURFACE
    §3.7): the notification queues, the status table, or both."""

    QUEUE = "0"
    TABLE = "1"
    QUEUE_AND_TABLE = "2"

    @property
    def to_queue(self) -> bool:
        return self is not ReportMethod.TABLE

    @property
    def to_table(self) -> bool:
        return self is not ReportMethod.QUEUE


EntityValue = str | int | float | bool | None
"""A property value of a status-table entity, as JSON carries it (an ``@odata.type``
annotation is a property of its own, e.g. ``"UpdatedOn@odata.type": "Edm.DateTime"``)."""


@dataclass(frozen=True)
class StatusEntity:
    """One entity of a project's status table (Azure Table: keyed by PartitionKey, RowKey)."""

    partition_key: str
    row_key: str
    properties: Mapping[str, EntityValue] = field(default_factory=dict)
    etag: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class QueuedBlob:
    """A blob that arrived through the ready-for-aggregation queue: what to report, where,
    once its unit ends, and the upload to remove afterwards."""

    unit_id: str
    project_id: int
    operation_id: str
    database: str
    table: str
    source_id: str
    source_path: str
    """The blob URL without its SAS (what notifications show)."""
    report_level: ReportLevel
    upload: str | None
    """Path of ingestd's own copy under ``<data dir>/kusto-uploads``, if the SDK uploaded it."""
    report_method: ReportMethod = ReportMethod.QUEUE
    status_key: tuple[str, str] | None = None
    """(PartitionKey, RowKey) of the status-table entity the outcome updates, if any."""


@dataclass(frozen=True)
class BlobOutcome:
    """How the unit of a queued blob ended."""

    state: str
    error_code: str | None
    error_message: str | None
    failure_status: str | None
    ended_at: datetime | None
