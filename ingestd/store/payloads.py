"""SQL of the payloads the API accepts (``stored_payloads``, ``payload_chunks``): bytes kept in
the metadata database in chunks, so that whichever machine runs a unit reads them from there.

Contract:

* ``writing`` begins a payload, stores each full ``CHUNK_BYTES`` chunk in its own short
  transaction (an upload never holds the database's write lock while it waits for the
  network), and on a clean exit stores the rest and flips ``complete`` in one transaction that
  also drops the complete payloads it replaces. On any exception it drops what it wrote; a
  crash leaves an incomplete payload no reader sees, which ``sweep`` removes later.
* A payload is one project's: every lookup names the project, and nothing reads across.
* ``chunks`` yields a complete payload's bytes in order, one chunk per query (memory stays
  bounded), and raises ``NotFound`` if the payload went while it was read (replaced, swept).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ingestd.domain.states import TERMINAL_UNIT_STATES
from ingestd.errors import NotFound
from ingestd.store.database import Store
from ingestd.store.schema import PayloadChunk, StoredPayload, Unit

log = logging.getLogger("ingestd.store")

CHUNK_BYTES = 1 << 20
"""A chunk's size: big enough that a GiB is a thousand rows, small enough for any driver."""


@dataclass(frozen=True)
class PayloadKey:
    """What names a payload: its project, what it is (``kind``), its name, and for one
    uncommitted block of it the block's key (empty for the payload itself)."""

    project_id: int
    kind: str
    name: str
    block: str = ""


@dataclass(frozen=True)
class PayloadInfo:
    id: int
    size: int
    written_at: datetime


class PayloadWriter:
    """Buffers what it is given and stores it chunk by chunk (see ``writing``)."""

    def __init__(self, store: Store, payload_id: int) -> None:
        self._store = store
        self._payload_id = payload_id
        self._buffer = bytearray()
        self._next_seq = 0
        self.size = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= CHUNK_BYTES:
            self._store_chunk(bytes(self._buffer[:CHUNK_BYTES]))
            del self._buffer[:CHUNK_BYTES]

    def _finish(self) -> None:
        if self._buffer:
            self._store_chunk(bytes(self._buffer))
            self._buffer.clear()

    def _store_chunk(self, data: bytes) -> None:
        with self._store.write() as session:
            session.add(PayloadChunk(payload_id=self._payload_id, seq=self._next_seq, data=data))
        self._next_seq += 1


@contextmanager
def writing(
    store: Store, key: PayloadKey, *, now: Callable[[], datetime]
) -> Iterator[PayloadWriter]:
    """Write payload ``key``; it becomes visible (replacing any before it) once the block
    exits without an exception, and never otherwise."""
    with store.write() as session:
        row = StoredPayload(
            project_id=key.project_id,
            kind=key.kind,
            name=key.name,
            block=key.block,
            size=0,
            complete=False,
            written_at=now(),
        )
        session.add(row)
        session.flush()
        payload_id = row.id
    writer = PayloadWriter(store, payload_id)
    try:
        yield writer
        writer._finish()
        with store.write() as session:
            replaced = session.scalars(_complete_ids(key)).all()
            _delete_ids(session, list(replaced))
            session.execute(
                update(StoredPayload)
                .where(StoredPayload.id == payload_id)
                .values(complete=True, size=writer.size, written_at=now())
            )
    except BaseException:
        _discard(store, payload_id)
        raise


def _discard(store: Store, payload_id: int) -> None:
    try:
        with store.write() as session:
            _delete_ids(session, [payload_id])
    except SQLAlchemyError as exc:  # the sweep removes it later; the first error matters
        log.warning("could not drop incomplete payload %s: %s", payload_id, exc)


def _complete_ids(key: PayloadKey) -> Select[int]:
    return select(StoredPayload.id).where(
        StoredPayload.project_id == key.project_id,
        StoredPayload.kind == key.kind,
        StoredPayload.name == key.name,
        StoredPayload.block == key.block,
        StoredPayload.complete.is_(True),
    )


def _delete_ids(session: Session, ids: list[int]) -> None:
    if ids:
        session.execute(delete(PayloadChunk).where(PayloadChunk.payload_id.in_(ids)))
        session.execute(delete(StoredPayload).where(StoredPayload.id.in_(ids)))


def find(store: Store, key: PayloadKey) -> PayloadInfo | None:
    """The complete payload ``key`` names (the latest, should two writers have raced)."""
    with store.read() as session:
        row = session.execute(
            select(StoredPayload.id, StoredPayload.size, StoredPayload.written_at)
            .where(StoredPayload.id.in_(_complete_ids(key).scalar_subquery()))
            .order_by(StoredPayload.id.desc())
            .limit(1)
        ).first()
    return None if row is None else PayloadInfo(row.id, row.size, row.written_at)


def chunks(store: Store, payload: PayloadInfo, shown: str) -> Iterator[bytes]:
    """The payload's bytes in order; ``NotFound`` if it is gone before the last one."""
    seq, read = -1, 0
    while True:
        with store.read() as session:
            row = session.execute(
                select(PayloadChunk.seq, PayloadChunk.data)
                .where(PayloadChunk.payload_id == payload.id, PayloadChunk.seq > seq)
                .order_by(PayloadChunk.seq)
                .limit(1)
            ).first()
        if row is None:
            break
        seq = row.seq
        read += len(row.data)
        yield bytes(row.data)
    if read != payload.size:
        raise NotFound(f"{shown} was removed or replaced while it was read")


def delete_payload(store: Store, key: PayloadKey) -> None:
    """Drop payload ``key`` (complete or not)."""
    with store.write() as session:
        ids = session.scalars(
            select(StoredPayload.id).where(
                StoredPayload.project_id == key.project_id,
                StoredPayload.kind == key.kind,
                StoredPayload.name == key.name,
                StoredPayload.block == key.block,
            )
        ).all()
        _delete_ids(session, list(ids))


def delete_blocks(store: Store, project_id: int, kind: str, name: str) -> None:
    """Drop every uncommitted block of payload ``name``."""
    with store.write() as session:
        ids = session.scalars(
            select(StoredPayload.id).where(
                StoredPayload.project_id == project_id,
                StoredPayload.kind == kind,
                StoredPayload.name == name,
                StoredPayload.block != "",
            )
        ).all()
        _delete_ids(session, list(ids))


def sweep(store: Store, project_id: int, kind: str, *, older_than: datetime, keep: set[str]) -> int:
    """Drop the project's payloads of ``kind`` last written before ``older_than``, except the
    complete ones named in ``keep``; blocks and incomplete payloads (an upload that died) go
    too. Returns how many complete payloads went."""
    with store.write() as session:
        rows = session.execute(
            select(
                StoredPayload.id, StoredPayload.name, StoredPayload.block, StoredPayload.complete
            ).where(
                StoredPayload.project_id == project_id,
                StoredPayload.kind == kind,
                StoredPayload.written_at < older_than,
            )
        ).all()
        whole = [r for r in rows if r.complete and not r.block]
        gone = [r.id for r in whole if r.name not in keep]
        debris = [r.id for r in rows if not (r.complete and not r.block)]
        _delete_ids(session, gone + debris)
    return len(gone)


def drop_of_ended_units(store: Store, kind: str, *, keep: str) -> int:
    """Drop the payloads of ``kind`` that are named by a unit id, once that unit has ended
    (or is gone), except the one of unit ``keep``; returns how many went."""
    terminal = {s.value for s in TERMINAL_UNIT_STATES}
    with store.write() as session:
        rows = session.execute(
            select(StoredPayload.id, Unit.state)
            .outerjoin(Unit, Unit.id == StoredPayload.name)
            .where(StoredPayload.kind == kind, StoredPayload.name != keep)
        ).all()
        ended = [r.id for r in rows if r.state is None or r.state in terminal]
        _delete_ids(session, ended)
    return len(ended)


def project_ids(store: Store, kind: str) -> list[int]:
    """Projects that hold payloads of ``kind``."""
    with store.read() as session:
        return sorted(
            session.scalars(
                select(StoredPayload.project_id).where(StoredPayload.kind == kind).distinct()
            )
        )


__all__ = [
    "CHUNK_BYTES",
    "PayloadInfo",
    "PayloadKey",
    "PayloadWriter",
    "chunks",
    "delete_blocks",
    "delete_payload",
    "drop_of_ended_units",
    "find",
    "project_ids",
    "sweep",
    "writing",
]
