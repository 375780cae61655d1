"""The status table ingestd serves to the Kusto ingest SDKs (``IngestionsStatusTable``): the
subset of the Azure Table service that ``ReportMethod`` Table / QueueAndTable uses.

* The client inserts an entity per blob (``Status`` Pending, keyed by its IngestionSourceId),
  names it in the ingestion message (``IngestionStatusInTable``), then reads it back until its
  status is final. ingestd merges ``Status``, ``FailureStatus``, ``ErrorCode``, ``Details``,
  ``UpdatedOn``, ``OperationId`` and ``ActivityId`` into it when the blob's unit ends, as the
  service does (API-SURFACE §3.7).
* Entities are the project's own: a SAS of one project opens only that project's table, and
  the table a message names must be its own project's.
* Queries take ``$filter`` on PartitionKey and RowKey only (``eq``, joined by ``and``): what
  the SDKs send. Anything else is refused, saying so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ingestd.domain.kusto_storage import EntityValue, StatusEntity
from ingestd.errors import Conflict, InvalidInput, NotFound, RequestError
from ingestd.store import kusto_status_table as entities
from ingestd.store.database import Store

MAX_QUERY_ENTITIES = 1000
"""Azure Table's page size."""
_KEY_BYTES = 1024
_CONDITION = re.compile(r"^\s*(PartitionKey|RowKey)\s+eq\s+'((?:[^']|'')*)'\s*$")


class EntityConflict(Conflict):
    code = "ENTITY_ALREADY_EXISTS"


class PreconditionFailed(RequestError):
    code = "UPDATE_CONDITION_NOT_SATISFIED"
    http_status = 412


@dataclass(frozen=True)
class EntityFilter:
    partition_key: str | None = None
    row_key: str | None = None


def parse_filter(text: str | None) -> EntityFilter:
    """``PartitionKey eq 'a' and RowKey eq 'b'`` (either, both, or none)."""
    if text is None or not text.strip():
        return EntityFilter()
    found: dict[str, str] = {}
    for part in re.split(r"\s+and\s+", text.strip()):
        match = _CONDITION.match(part)
        if match is None or match.group(1) in found:
            raise InvalidInput(
                f"$filter {text!r} is not supported",
                hint="ingestd's status table filters on PartitionKey and RowKey with eq, "
                "joined by and",
            )
        found[match.group(1)] = match.group(2).replace("''", "'")
    return EntityFilter(found.get("PartitionKey"), found.get("RowKey"))


def check_keys(partition_key: str, row_key: str) -> None:
    for name, value in (("PartitionKey", partition_key), ("RowKey", row_key)):
        if len(value.encode()) > _KEY_BYTES or any(c in value for c in "/\\#?"):
            raise InvalidInput(
                f"{name} {value[:80]!r} is not a valid key",
                hint="at most 1 KiB, without / \\ # or ?",
            )


class StatusTable:
    def __init__(
        self, store: Store, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.store = store
        self.clock = clock

    def insert(self, project_id: int, entity: StatusEntity) -> StatusEntity:
        check_keys(entity.partition_key, entity.row_key)
        if not entities.insert(self.store, project_id, entity, now=self.clock()):
            raise EntityConflict(
                f"an entity ({entity.partition_key!r}, {entity.row_key!r}) exists already",
                hint="update it (PUT or MERGE) instead",
            )
        return self.get(project_id, entity.partition_key, entity.row_key)

    def get(self, project_id: int, partition_key: str, row_key: str) -> StatusEntity:
        found = entities.get(self.store, project_id, partition_key, row_key)
        if found is None:
            raise NotFound(f"the status table has no entity ({partition_key!r}, {row_key!r})")
        return found

    def query(self, project_id: int, where: EntityFilter, top: int | None) -> list[StatusEntity]:
        limit = min(top or MAX_QUERY_ENTITIES, MAX_QUERY_ENTITIES)
        return entities.query(
            self.store,
            project_id,
            partition_key=where.partition_key,
            row_key=where.row_key,
            limit=limit,
        )

    def write(
        self,
        project_id: int,
        partition_key: str,
        row_key: str,
        properties: Mapping[str, EntityValue],
        *,
        merge: bool,
        if_match: str | None,
    ) -> str:
        """Update (replace or merge) the entity; without ``If-Match`` a missing one is
        inserted (Azure's insert-or-replace / insert-or-merge). Returns the new ETag."""
        check_keys(partition_key, row_key)
        outcome, etag = entities.write(
            self.store,
            project_id,
            partition_key,
            row_key,
            properties,
            merge=merge,
            if_match=if_match,
            upsert=if_match is None,
            now=self.clock(),
        )
        self._check(outcome, partition_key, row_key)
        return etag

    def delete(self, project_id: int, partition_key: str, row_key: str, if_match: str) -> None:
        outcome = entities.delete(self.store, project_id, partition_key, row_key, if_match)
        self._check(outcome, partition_key, row_key)

    def report(
        self, project_id: int, key: tuple[str, str], properties: Mapping[str, EntityValue]
    ) -> None:
        """ingestd's own update of an entity a message named (merged, whatever its ETag;
        inserted if the client deleted it meanwhile)."""
        entities.write(
            self.store,
            project_id,
            key[0],
            key[1],
            properties,
            merge=True,
            if_match=None,
            upsert=True,
            now=self.clock(),
        )

    @staticmethod
    def _check(outcome: str, partition_key: str, row_key: str) -> None:
        if outcome == "missing":
            raise NotFound(f"the status table has no entity ({partition_key!r}, {row_key!r})")
        if outcome == "etag_mismatch":
            raise PreconditionFailed(
                f"entity ({partition_key!r}, {row_key!r}) changed since that ETag",
                hint="read it again and retry with the new ETag",
            )
