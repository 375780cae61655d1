"""SQL of streamed records (``stream_records``): accepted one by one, pending until a flush
gives a batch of them to a run, read back by the worker that loads that batch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from ingestd.store.database import Store
from ingestd.store.schema import StreamRecord


@dataclass(frozen=True)
class PendingStream:
    """A stream with records no run holds yet."""

    project_id: int
    stream_id: str
    count: int
    oldest: datetime


def _pending(project_id: int, stream_id: str) -> Any:
    return (
        StreamRecord.project_id == project_id,
        StreamRecord.stream_id == stream_id,
        StreamRecord.run_id.is_(None),
    )


def add(
    store: Store, project_id: int, stream_id: str, payload: str, *, received_at: datetime
) -> tuple[int, int]:
    """Commit one record; returns its id and how many of the stream's records are pending."""
    with store.write() as session:
        record = StreamRecord(
            project_id=project_id, stream_id=stream_id, payload=payload, received_at=received_at
        )
        session.add(record)
        session.flush()
        pending = session.scalar(select(func.count()).where(*_pending(project_id, stream_id)))
        return record.id, pending or 0


def pending_count(store: Store, project_id: int, stream_id: str) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).where(*_pending(project_id, stream_id))) or 0


def pending_streams(store: Store) -> list[PendingStream]:
    with store.read() as session:
        rows = session.execute(
            select(
                StreamRecord.project_id,
                StreamRecord.stream_id,
                func.count(),
                func.min(StreamRecord.received_at),
            )
            .where(StreamRecord.run_id.is_(None))
            .group_by(StreamRecord.project_id, StreamRecord.stream_id)
        ).all()
    return [PendingStream(p, s, count, oldest) for p, s, count, oldest in rows]


def last_pending(store: Store, project_id: int, stream_id: str) -> int | None:
    with store.read() as session:
        return session.scalar(
            select(func.max(StreamRecord.id)).where(*_pending(project_id, stream_id))
        )


def first_pending(store: Store, project_id: int, stream_id: str, *, up_to: int) -> int | None:
    with store.read() as session:
        return session.scalar(
            select(func.min(StreamRecord.id)).where(
                *_pending(project_id, stream_id), StreamRecord.id <= up_to
            )
        )


def pending_batch(
    store: Store,
    project_id: int,
    stream_id: str,
    first: int,
    last: int,
    *,
    max_records: int,
    max_chars: int,
) -> list[int]:
    """Ids of the pending records ``first..last``, in order, as many as fit in ``max_records``
    records and (counting a newline after each) about ``max_chars`` characters."""
    ids: list[int] = []
    size = 0
    with store.read(streaming=True) as session:
        rows = session.execute(
            select(StreamRecord.id, func.length(StreamRecord.payload))
            .where(*_pending(project_id, stream_id), StreamRecord.id.between(first, last))
            .order_by(StreamRecord.id)
            .limit(max_records)
            .execution_options(yield_per=1000)
        )
        for record_id, length in rows:
            ids.append(record_id)
            size += int(length) + 1
            if size >= max_chars:
                break
    return ids


def mark(
    store: Store, project_id: int, stream_id: str, ranges: Sequence[Sequence[int]], run_id: str
) -> None:
    """Give the records of ``ranges`` (inclusive) still pending to the run."""
    with store.write() as session:
        for lo, hi in ranges:
            session.execute(
                update(StreamRecord)
                .where(*_pending(project_id, stream_id), StreamRecord.id.between(int(lo), int(hi)))
                .values(run_id=run_id)
            )


def batch_payloads(
    store: Store, project_id: int, stream_id: str, ranges: Sequence[tuple[int, int]]
) -> Iterator[str]:
    """The payloads of the stream's records in ``ranges`` (sorted inclusive ranges), in id
    order, read in bounded pages. One query spans the ranges; ids between them (another
    run's records) are skipped here, so a batch of many ranges is still one query."""
    if not ranges:
        return
    with store.read(streaming=True) as session:
        rows = session.execute(
            select(StreamRecord.id, StreamRecord.payload)
            .where(
                StreamRecord.project_id == project_id,
                StreamRecord.stream_id == stream_id,
                StreamRecord.id.between(ranges[0][0], ranges[-1][1]),
            )
            .order_by(StreamRecord.id)
            .execution_options(yield_per=500)
        )
        at = 0
        for record_id, payload in rows:
            while at < len(ranges) and ranges[at][1] < record_id:
                at += 1
            if at == len(ranges):
                break
            if ranges[at][0] <= record_id:
                yield payload


__all__ = [
    "PendingStream",
    "add",
    "batch_payloads",
    "first_pending",
    "last_pending",
    "mark",
    "pending_batch",
    "pending_count",
    "pending_streams",
]
