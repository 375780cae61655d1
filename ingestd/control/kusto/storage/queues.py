"""The queues ingestd serves to the Kusto ingest SDKs.

* Ready-for-aggregation: a posted ingestion message becomes a queued-ingestion operation of
  one blob, exactly as ``POST /v1/rest/ingestion/queued`` makes one (``control.kusto.queued``):
  same properties, same checks, same units, visible wherever operations are. A blob the SDK
  uploaded to the project's temporary container is read in place from ingestd's own storage;
  any other blob URL is fetched through the project's connections and the egress policy.
  A message the service would accept but whose ingestion cannot start (no such table, an
  unknown mapping, ...) is answered like the service does: with a failure notification.
* Success and failure notifications: when the unit of a queued blob ends, a message in the
  JSON of the SDK's ``SuccessMessage`` / ``FailureMessage`` goes to the project's queue, if the
  message's ``ReportLevel`` asks for it. Notifications are written by the scheduler's tick and
  before any read of a notification queue, each once (a claim in ``kusto_queued_blobs``).
* Retention (docs/kusto-sdk.md): an upload is deleted once the ingestion that read it
  succeeded; any other upload is deleted ``retention`` after it was written. Notifications
  expire after seven days, as the SDK's queues do.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, unquote, urlsplit

from ingestd.control.kusto.queued import BlobRef, IngestionProperties, QueuedIngestion
from ingestd.control.kusto.retained_blobs import RetainedBlobs
from ingestd.control.kusto.storage.resources import resource_path
from ingestd.control.kusto.storage.sas import Signer, StorageAuthFailed
from ingestd.control.kusto.storage.status_reports import (
    failure_of,
    outcome_properties,
    unit_properties,
)
from ingestd.control.kusto.storage.status_table import StatusTable, check_keys
from ingestd.control.kusto.storage.uploads import KustoUploads
from ingestd.dataplane.blobs.blob_urls import redact
from ingestd.domain.error_codes import kusto_request_code
from ingestd.domain.kusto_storage import (
    BlobOutcome,
    QueuedBlob,
    QueueMessage,
    ReportLevel,
    ReportMethod,
    Resource,
)
from ingestd.domain.states import UnitState
from ingestd.errors import IngestdError, InvalidInput, NotFound
from ingestd.store import kusto_queues
from ingestd.store.database import Store

log = logging.getLogger("ingestd.kusto")

MESSAGE_TTL = timedelta(days=7)
"""Azure Queue's default time-to-live of a message."""


@dataclass(frozen=True)
class IngestionMessage:
    """An ingestion message of the SDK, its properties already validated."""

    blob_url: str
    database: str
    table: str
    source_id: str
    raw_size: int | None
    report_level: ReportLevel
    properties: IngestionProperties | None
    """None when they were refused (``refusal``)."""
    refusal: InvalidInput | None
    authorization_context: object
    report_method: ReportMethod = ReportMethod.QUEUE
    status_in_table: StatusInTable | None = None


@dataclass(frozen=True)
class StatusInTable:
    """``IngestionStatusInTable`` of a message: the entity its outcome updates."""

    table_url: str
    """``TableConnectionString``: the status table's URL with its SAS."""
    partition_key: str
    row_key: str


def _timestamp(value: datetime | None) -> str:
    return (value or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


class KustoQueues:
    def __init__(
        self,
        store: Store,
        queued: QueuedIngestion,
        signer: Signer,
        uploads: KustoUploads,
        *,
        project_names: Callable[[int], str],
        retention: timedelta,
        status_table: StatusTable | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.status_table = status_table or StatusTable(store, clock=clock)
        self.store = store
        self.queued = queued
        self.signer = signer
        self.uploads = uploads
        self.project_names = project_names
        self.retention = retention
        self.clock = clock

    # -- the ready-for-aggregation queue ------------------------------------------------------

    def ingest(self, project_id: int, message: IngestionMessage) -> QueueMessage:
        """Queue the message's blob as an operation; a blob of the temporary container must
        be this project's. Raises ``StorageAuthFailed`` for another project's token or blob.
        Returns the message as the queue took it (its id is the operation's first unit, or a
        fresh one when the ingestion was refused)."""
        self.signer.check_identity_token(message.authorization_context, project_id)
        now = self.clock()
        upload = self._own_upload(project_id, message.blob_url)
        status_key = self._own_status_entity(project_id, message)
        shown = redact(message.blob_url).partition("?")[0]
        try:
            if message.refusal is not None:
                raise message.refusal
            assert message.properties is not None
            # Tracked: the OperationId of its notification works with the REST status
            # endpoint and .show queued ingestion operations.
            properties = replace(message.properties, tracking=True)
            operation = self.queued.submit(
                project_id,
                message.database,
                message.table,
                [BlobRef(message.blob_url, message.source_id, message.raw_size, upload=upload)],
                properties,
                client_request_id=f"KIC.queue;{message.source_id}",
                origin="queue",
            )
        except IngestdError as exc:
            if exc.http_status >= 500:
                raise
            log.info("ingestion message %s refused: %s", message.source_id, exc)
            code = kusto_request_code(exc.code, exc.http_status)
            if status_key is not None:
                self.status_table.report(
                    project_id,
                    status_key,
                    outcome_properties(
                        "Failed", "", "", now, failure=(code, "Permanent", exc.message)
                    ),
                )
            if message.report_level is not ReportLevel.NONE and message.report_method.to_queue:
                self._notify_failure(
                    project_id,
                    message.database,
                    message.table,
                    message.source_id,
                    shown,
                    operation_id="",
                    code=code,
                    details=exc.message,
                    status="Permanent",
                )
            return QueueMessage(str(uuid.uuid4()), "", now, now + MESSAGE_TTL, now, "", 0)
        unit = operation.run.units[0]
        kusto_queues.record_blobs(
            self.store,
            [
                QueuedBlob(
                    unit.id,
                    project_id,
                    operation.id,
                    message.database,
                    message.table,
                    message.source_id,
                    shown,
                    message.report_level,
                    upload,
                    message.report_method,
                    status_key,
                )
            ],
        )
        return QueueMessage(unit.id, "", now, now + MESSAGE_TTL, now, str(uuid.uuid4()), 0)

    def _own_upload(self, project_id: int, url: str) -> str | None:
        """The stored name of the upload ``url`` names, if it is a blob of ingestd's own
        temporary storage signed by this server; None for any other URL."""
        parts = urlsplit(url)
        segments = unquote(parts.path).split("/")
        # "", "_storage", "blob", project, container, name
        if len(segments) != 6 or segments[1:3] != ["_storage", "blob"]:
            return None
        if segments[4] != Resource.TEMP_STORAGE.value:
            return None
        query = dict(parse_qsl(parts.query))
        if "si" not in query or "sig" not in query:
            return None
        owner = self.project_names(project_id)
        expected = resource_path(owner, Resource.TEMP_STORAGE)
        if "/".join(segments[:5]) != expected:
            raise StorageAuthFailed()  # another project's container
        self.signer.check(query, project_id, Resource.TEMP_STORAGE, "r")
        return self.uploads.relative(project_id, segments[5])

    def _own_status_entity(
        self, project_id: int, message: IngestionMessage
    ) -> tuple[str, str] | None:
        """The (PartitionKey, RowKey) the message's outcome updates, if it reports to the
        table; the table must be this project's, under a SAS of this server."""
        wanted = message.status_in_table
        if wanted is None or not message.report_method.to_table:
            return None
        parts = urlsplit(wanted.table_url)
        expected = resource_path(self.project_names(project_id), Resource.STATUS_TABLE)
        if unquote(parts.path).rstrip("/") != expected:
            raise StorageAuthFailed()  # another project's table, or not ingestd's
        self.signer.check(dict(parse_qsl(parts.query)), project_id, Resource.STATUS_TABLE, "u")
        check_keys(wanted.partition_key, wanted.row_key)
        return wanted.partition_key, wanted.row_key

    # -- notification queues ------------------------------------------------------------------

    def receive(
        self, project_id: int, resource: Resource, count: int, hide_for: timedelta
    ) -> list[QueueMessage]:
        self.publish(project_id)
        return kusto_queues.receive(
            self.store, project_id, resource.value, count, now=self.clock(), hide_for=hide_for
        )

    def peek(self, project_id: int, resource: Resource, count: int) -> list[QueueMessage]:
        self.publish(project_id)
        return kusto_queues.peek(self.store, project_id, resource.value, count, now=self.clock())

    def delete(self, project_id: int, resource: Resource, message_id: str, receipt: str) -> None:
        if not kusto_queues.delete_message(
            self.store, project_id, resource.value, message_id, receipt
        ):
            raise NotFound(
                f"message {message_id!r} is not in the queue, or the pop receipt is not its latest",
                hint="receive the message again and delete it with the new pop receipt",
            )

    def clear(self, project_id: int, resource: Resource) -> None:
        kusto_queues.clear(self.store, project_id, resource.value)

    def publish(self, project_id: int | None = None) -> int:
        """Write the notifications of queued blobs whose unit has ended; delete the uploads
        of those that succeeded. Returns how many blobs were handled."""
        handled = 0
        for blob, outcome in kusto_queues.ended_unreported(self.store, project_id):
            if not kusto_queues.mark_reported(self.store, blob.unit_id):
                continue  # another process handles it
            handled += 1
            succeeded = outcome.state in (UnitState.SUCCEEDED.value, UnitState.SKIPPED.value)
            if blob.status_key is not None:
                self.status_table.report(
                    blob.project_id,
                    blob.status_key,
                    unit_properties(blob, outcome, succeeded, self.clock()),
                )
            to_queue = blob.report_method.to_queue
            if to_queue and succeeded and blob.report_level is ReportLevel.ALL:
                self._notify_success(blob, outcome)
            elif to_queue and not succeeded and blob.report_level is not ReportLevel.NONE:
                self._notify_unit_failure(blob, outcome)
            if succeeded and blob.upload is not None:
                self.uploads.delete(blob.upload)
        return handled

    def _put(self, project_id: int, resource: Resource, body: dict[str, object]) -> None:
        kusto_queues.put_message(
            self.store,
            project_id,
            resource.value,
            json.dumps(body),
            now=self.clock(),
            ttl=MESSAGE_TTL,
        )

    def _notify_success(self, blob: QueuedBlob, outcome: BlobOutcome) -> None:
        self._put(
            blob.project_id,
            Resource.SUCCESS_QUEUE,
            {
                "OperationId": blob.operation_id,
                "Database": blob.database,
                "Table": blob.table,
                "IngestionSourceId": blob.source_id,
                "IngestionSourcePath": blob.source_path,
                "RootActivityId": blob.unit_id,
                "SucceededOn": _timestamp(outcome.ended_at),
            },
        )

    def _notify_unit_failure(self, blob: QueuedBlob, outcome: BlobOutcome) -> None:
        code, status = failure_of(outcome)
        self._notify_failure(
            blob.project_id,
            blob.database,
            blob.table,
            blob.source_id,
            blob.source_path,
            operation_id=blob.operation_id,
            code=code,
            details=outcome.error_message or "",
            status=status,
            root=blob.unit_id,
            at=outcome.ended_at,
        )

    def _notify_failure(
        self,
        project_id: int,
        database: str,
        table: str,
        source_id: str,
        source_path: str,
        *,
        operation_id: str,
        code: str,
        details: str,
        status: str,
        root: str = "",
        at: datetime | None = None,
    ) -> None:
        self._put(
            project_id,
            Resource.FAILURE_QUEUE,
            {
                "OperationId": operation_id,
                "Database": database,
                "Table": table,
                "IngestionSourceId": source_id,
                "IngestionSourcePath": source_path,
                "RootActivityId": root,
                "FailedOn": _timestamp(at or self.clock()),
                "Details": details,
                "ErrorCode": code,
                "FailureStatus": status,
                "OriginatesFromUpdatePolicy": False,
                "ShouldRetry": status == "Transient",
            },
        )

    # -- retention ----------------------------------------------------------------------------

    def sweep(self) -> int:
        """Drop expired notifications, the retained copies of ``deleteAfterDownload`` blobs
        whose unit has ended, and uploads older than the retention that no unit still needs;
        returns how many uploads went."""
        now = self.clock()
        kusto_queues.drop_expired(self.store, now=now)
        RetainedBlobs(self.store).sweep(keep="")
        removed = 0
        for project_id in self.uploads.project_ids():
            keep = kusto_queues.uploads_in_use(self.store, project_id)
            removed += self.uploads.sweep(project_id, older_than=now - self.retention, keep=keep)
        return removed
