"""SQL of the Kusto notification queues (``kusto_queue_messages``) and of the blobs queued
through the ready-for-aggregation queue (``kusto_queued_blobs``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, select, update

from ingestd.domain.kusto_storage import (
    BlobOutcome,
    QueuedBlob,
    QueueMessage,
    ReportLevel,
    ReportMethod,
)
from ingestd.domain.states import TERMINAL_UNIT_STATES
from ingestd.store.database import Store
from ingestd.store.schema import KustoQueuedBlob, KustoQueueMessage, Unit


def _message(row: KustoQueueMessage) -> QueueMessage:
    return QueueMessage(
        row.id,
        row.content,
        row.inserted_at,
        row.expires_at,
        row.visible_at,
        row.pop_receipt,
        row.dequeue_count,
    )


def put_message(
    store: Store, project_id: int, queue: str, content: str, *, now: datetime, ttl: timedelta
) -> QueueMessage:
    row = KustoQueueMessage(
        id=str(uuid.uuid4()),
        project_id=project_id,
        queue=queue,
        content=content,
        inserted_at=now,
        expires_at=now + ttl,
        visible_at=now,
        pop_receipt=str(uuid.uuid4()),
        dequeue_count=0,
    )
    with store.write() as session:
        session.add(row)
    return _message(row)


def _visible(project_id: int, queue: str, count: int, now: datetime) -> Select[KustoQueueMessage]:
    """The first ``count`` messages of the queue visible and unexpired at ``now``, oldest
    first: what Get Messages takes and Peek Messages shows."""
    return (
        select(KustoQueueMessage)
        .where(
            KustoQueueMessage.project_id == project_id,
            KustoQueueMessage.queue == queue,
            KustoQueueMessage.visible_at <= now,
            KustoQueueMessage.expires_at > now,
        )
        .order_by(KustoQueueMessage.inserted_at, KustoQueueMessage.id)
        .limit(count)
    )


def receive(
    store: Store, project_id: int, queue: str, count: int, *, now: datetime, hide_for: timedelta
) -> list[QueueMessage]:
    """Up to ``count`` visible messages, oldest first, hidden for ``hide_for`` with a new pop
    receipt each (Azure's Get Messages)."""
    with store.write() as session:
        rows = session.scalars(
            _visible(project_id, queue, count, now).with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.visible_at = now + hide_for
            row.pop_receipt = str(uuid.uuid4())
            row.dequeue_count += 1
        return [_message(row) for row in rows]


def peek(
    store: Store, project_id: int, queue: str, count: int, *, now: datetime
) -> list[QueueMessage]:
    with store.read() as session:
        rows = session.scalars(_visible(project_id, queue, count, now)).all()
        return [_message(row) for row in rows]


def delete_message(
    store: Store, project_id: int, queue: str, message_id: str, pop_receipt: str
) -> bool:
    """Delete the message if ``pop_receipt`` is its latest; False if there is no such one."""
    with store.write() as session:
        result = session.execute(
            delete(KustoQueueMessage).where(
                KustoQueueMessage.project_id == project_id,
                KustoQueueMessage.queue == queue,
                KustoQueueMessage.id == message_id,
                KustoQueueMessage.pop_receipt == pop_receipt,
            )
        )
        return bool(getattr(result, "rowcount", 0))


def clear(store: Store, project_id: int, queue: str) -> None:
    with store.write() as session:
        session.execute(
            delete(KustoQueueMessage).where(
                KustoQueueMessage.project_id == project_id, KustoQueueMessage.queue == queue
            )
        )


def drop_expired(store: Store, *, now: datetime) -> int:
    with store.write() as session:
        result = session.execute(
            delete(KustoQueueMessage).where(KustoQueueMessage.expires_at <= now)
        )
        return int(getattr(result, "rowcount", 0) or 0)


# -- blobs queued through the ready-for-aggregation queue ---------------------------------------


def record_blobs(store: Store, blobs: Sequence[QueuedBlob]) -> None:
    with store.write() as session:
        for blob in blobs:
            session.add(
                KustoQueuedBlob(
                    unit_id=blob.unit_id,
                    project_id=blob.project_id,
                    operation_id=blob.operation_id,
                    database=blob.database,
                    table_name=blob.table,
                    source_id=blob.source_id,
                    source_path=blob.source_path,
                    report_level=blob.report_level.value,
                    upload=blob.upload,
                    reported=False,
                    report_method=blob.report_method.value,
                    status_partition_key=blob.status_key[0] if blob.status_key else None,
                    status_row_key=blob.status_key[1] if blob.status_key else None,
                )
            )


def ended_unreported(
    store: Store, project_id: int | None = None
) -> list[tuple[QueuedBlob, BlobOutcome]]:
    """Queued blobs whose unit has ended and whose notification is not written yet."""
    terminal = [s.value for s in TERMINAL_UNIT_STATES]
    query = (
        select(KustoQueuedBlob, Unit)
        .join(Unit, Unit.id == KustoQueuedBlob.unit_id)
        .where(KustoQueuedBlob.reported.is_(False), Unit.state.in_(terminal))
        .order_by(Unit.ended_at, Unit.id)
    )
    if project_id is not None:
        query = query.where(KustoQueuedBlob.project_id == project_id)
    with store.read() as session:
        return [
            (
                QueuedBlob(
                    row.unit_id,
                    row.project_id,
                    row.operation_id,
                    row.database,
                    row.table_name,
                    row.source_id,
                    row.source_path,
                    ReportLevel(row.report_level),
                    row.upload,
                    ReportMethod(row.report_method),
                    (row.status_partition_key, row.status_row_key)
                    if row.status_partition_key is not None and row.status_row_key is not None
                    else None,
                ),
                BlobOutcome(
                    unit.state,
                    unit.error_code,
                    unit.error_message,
                    unit.failure_status,
                    unit.ended_at,
                ),
            )
            for row, unit in session.execute(query).tuples()
        ]


def mark_reported(store: Store, unit_id: str) -> bool:
    """Claim the report of one blob; False if another process claimed it first."""
    with store.write() as session:
        result = session.execute(
            update(KustoQueuedBlob)
            .where(KustoQueuedBlob.unit_id == unit_id, KustoQueuedBlob.reported.is_(False))
            .values(reported=True)
        )
        return bool(getattr(result, "rowcount", 0))


def uploads_in_use(store: Store, project_id: int) -> set[str]:
    """Uploads of the project that a unit that has not ended may still read."""
    terminal = [s.value for s in TERMINAL_UNIT_STATES]
    with store.read() as session:
        rows = session.scalars(
            select(KustoQueuedBlob.upload)
            .join(Unit, Unit.id == KustoQueuedBlob.unit_id)
            .where(
                KustoQueuedBlob.project_id == project_id,
                KustoQueuedBlob.upload.is_not(None),
                Unit.state.not_in(terminal),
            )
        )
        return {r for r in rows if r is not None}
