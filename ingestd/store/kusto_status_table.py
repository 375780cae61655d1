"""SQL of the Kusto status table (``kusto_status_entities``): one project's entities, keyed by
PartitionKey and RowKey, written under an ETag (Azure Table's optimistic concurrency)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ingestd.domain.kusto_storage import EntityValue, StatusEntity
from ingestd.store.database import Store
from ingestd.store.schema import KustoStatusEntity

WriteOutcome = Literal["written", "missing", "etag_mismatch"]


def _entity(row: KustoStatusEntity) -> StatusEntity:
    properties: dict[str, EntityValue] = json.loads(row.properties)
    return StatusEntity(row.partition_key, row.row_key, properties, row.etag, row.updated_at)


def insert(store: Store, project_id: int, entity: StatusEntity, *, now: datetime) -> bool:
    """Insert the entity; False if one with its keys exists already."""
    try:
        with store.write() as session:
            session.add(
                KustoStatusEntity(
                    project_id=project_id,
                    partition_key=entity.partition_key,
                    row_key=entity.row_key,
                    properties=json.dumps(dict(entity.properties)),
                    etag=uuid.uuid4().hex,
                    updated_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


def get(store: Store, project_id: int, partition_key: str, row_key: str) -> StatusEntity | None:
    with store.read() as session:
        row = session.get(KustoStatusEntity, (project_id, partition_key, row_key))
        return None if row is None else _entity(row)


def query(
    store: Store,
    project_id: int,
    *,
    partition_key: str | None = None,
    row_key: str | None = None,
    limit: int = 1000,
) -> list[StatusEntity]:
    """The project's entities with these keys (any when None), in key order."""
    statement = select(KustoStatusEntity).where(KustoStatusEntity.project_id == project_id)
    if partition_key is not None:
        statement = statement.where(KustoStatusEntity.partition_key == partition_key)
    if row_key is not None:
        statement = statement.where(KustoStatusEntity.row_key == row_key)
    statement = statement.order_by(
        KustoStatusEntity.partition_key, KustoStatusEntity.row_key
    ).limit(limit)
    with store.read() as session:
        return [_entity(row) for row in session.scalars(statement)]


def write(
    store: Store,
    project_id: int,
    partition_key: str,
    row_key: str,
    properties: Mapping[str, EntityValue],
    *,
    merge: bool,
    if_match: str | None,
    upsert: bool,
    now: datetime,
) -> tuple[WriteOutcome, str]:
    """Replace (or ``merge`` into) the entity's properties, if its ETag is ``if_match``
    (``"*"`` or None: any). A missing entity is inserted when ``upsert``. Returns the outcome
    and the new ETag."""
    with store.write() as session:
        row = session.get(
            KustoStatusEntity, (project_id, partition_key, row_key), with_for_update=True
        )
        if row is None:
            if not upsert:
                return "missing", ""
            etag = uuid.uuid4().hex
            session.add(
                KustoStatusEntity(
                    project_id=project_id,
                    partition_key=partition_key,
                    row_key=row_key,
                    properties=json.dumps(dict(properties)),
                    etag=etag,
                    updated_at=now,
                )
            )
            return "written", etag
        if if_match not in (None, "*") and if_match != row.etag:
            return "etag_mismatch", row.etag
        current: dict[str, EntityValue] = json.loads(row.properties) if merge else {}
        current.update(properties)
        row.properties = json.dumps(current)
        row.etag = uuid.uuid4().hex
        row.updated_at = now
        return "written", row.etag


def delete(
    store: Store, project_id: int, partition_key: str, row_key: str, if_match: str
) -> WriteOutcome:
    with store.write() as session:
        row = session.get(
            KustoStatusEntity, (project_id, partition_key, row_key), with_for_update=True
        )
        if row is None:
            return "missing"
        if if_match != "*" and if_match != row.etag:
            return "etag_mismatch"
        session.delete(row)
        return "written"
