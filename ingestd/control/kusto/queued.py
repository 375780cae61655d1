"""Kusto queued ingestion on the core model (API-SURFACE §3.3-§3.7).

A queued ingestion operation is one run (kind ``blobs``, trigger ``queued``) with one unit per
blob. Its id is derived from the run id (``domain.operation_ids``), so status requests find the
run; the run's ``request`` keeps the database, table, tracking flag and the properties as sent.
Each unit carries its own description in ``Unit.spec`` (``control.kusto.blob_units``): the blob URL,
the resolved mapping, read options, error policy, tags and the download limits, so a worker
needs nothing else to fetch and load it.

Decisions (each cited where it is applied):

* The target table must exist when the operation is submitted: an unknown database or table is
  refused at once (404 ``BadRequest_DatabaseNotExist`` / ``BadRequest_TableNotExist``) instead
  of failing every blob later, which with tracking off (the default) nobody would see. A table
  that disappears before a blob runs still fails that blob with ``BadRequest_TableNotExist``.
* A mapping reference is resolved at submission (404 ``BadRequest_MappingReferenceWasNotFound``)
  and the unit keeps a copy, so a later change of the named mapping does not change queued work.
* Anything about one blob (its URL, its store, its content) fails that blob, never the request.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingestd.control.catalog import Catalog
from ingestd.control.kusto.blob_access import resolve_blob
from ingestd.control.kusto.blob_units import blob_unit_spec
from ingestd.control.kusto.mappings import (
    Mappings,
    kusto_mapping,
    mapping_kind_of,
    normalize_elements,
)
from ingestd.control.kusto.tables import require_table
from ingestd.control.run_views import RunView, UnitView
from ingestd.control.runs import NewUnit, Runs
from ingestd.control.work_signal import WorkSignal
from ingestd.dataplane.blobs.blob_urls import parse_blob_url, redact
from ingestd.domain.mapping import Mapping
from ingestd.domain.operation_ids import operation_id, run_id_of
from ingestd.domain.origins import RunOrigin
from ingestd.domain.sources import DataFormat, ErrorPolicy, ReadOptions
from ingestd.domain.states import TERMINAL_UNIT_STATES
from ingestd.domain.unit_specs import BlobUnitSpec, FetchLimits
from ingestd.errors import (
    DuplicateMapping,
    EmptyBlobUrl,
    InconsistentMapping,
    InvalidInput,
    InvalidMapping,
    InvalidMappingReference,
    MappingInvalid,
    MappingNotFound,
    NotFound,
    PropertyNotSupported,
    UnitError,
)
from ingestd.store.run_lists import failed_units

MAX_BLOBS_REST = 20
"""API-SURFACE §3.3: at most 20 blobs per POST ([I] more is a 400)."""
MAX_BLOBS_COMMAND = 1000
"""``.ingest-from-storage-queued`` with explicit URLs: a bound of our own (§3.6 names none)."""


@dataclass(frozen=True)
class BlobRef:
    url: str
    source_id: str | None = None
    raw_size: int | None = None
    upload: str | None = None
    """A blob of ingestd's own Kusto temporary storage: its stored name (read in place)."""


@dataclass(frozen=True)
class IngestionProperties:
    """The ingestion properties of one request, already validated (API-SURFACE §3.3, K8)."""

    format: DataFormat | None = None
    escape: str | None = None
    """``tsve``: TSV with backslash escapes."""
    mapping_reference: str | None = None
    mapping_kind: str | None = None
    inline_mapping: list[Any] | None = None
    """Kusto mapping elements given inline (``ingestionMapping``)."""
    ignore_first_record: bool = False
    tags: tuple[str, ...] = ()
    ingest_if_not_exists: tuple[str, ...] = ()
    creation_time: datetime | None = None
    zip_pattern: str | None = None
    tracking: bool = False
    skip_batching: bool = False
    """Accepted; ingestd does not batch blobs, so every blob is ingested on its own anyway."""
    delete_after_download: bool = False
    treat_gz_as_uncompressed: bool = False
    error_policy: ErrorPolicy = field(default_factory=ErrorPolicy)
    raw: dict[str, Any] = field(default_factory=dict)
    """The properties as the client sent them, kept with the operation."""

    def read_options(self) -> ReadOptions:
        # Kusto delimited files have no header row; ignoreFirstRecord drops one (§3.3).
        options: dict[str, Any] = {
            "format": self.format,
            "header": False,
            "skip_first_record": self.ignore_first_record,
            "escape": self.escape,
        }
        if self.zip_pattern is not None:
            options["zip_pattern"] = self.zip_pattern
        if self.treat_gz_as_uncompressed:
            options["compression"] = "none"
        return ReadOptions.from_dict({k: v for k, v in options.items() if v is not None})


@dataclass(frozen=True)
class Operation:
    """One queued ingestion operation and the run behind it."""

    id: str
    database: str
    table: str
    tracked: bool
    run: RunView


class QueuedIngestion:
    def __init__(
        self,
        catalog: Catalog,
        runs: Runs,
        mappings: Mappings,
        fetch: FetchLimits,
        work: WorkSignal | None = None,
    ) -> None:
        self.catalog = catalog
        self.runs = runs
        self.mappings = mappings
        self.fetch = fetch
        self.work = work or WorkSignal()

    # -- submitting ---------------------------------------------------------------------------

    def submit(
        self,
        project_id: int,
        database: str,
        table: str,
        blobs: Sequence[BlobRef],
        properties: IngestionProperties,
        *,
        max_blobs: int = MAX_BLOBS_REST,
        client_request_id: str | None = None,
        origin: str = "rest",
        trigger: str = "queued",
        max_attempts: int | None = None,
        for_workers: bool = True,
    ) -> Operation:
        """Queue the blobs; returns the operation (tracked or not, it exists). ``trigger``
        and ``max_attempts`` let streaming ingestion make a run of one attempt per unit;
        ``for_workers=False`` (it runs the unit itself) leaves the worker pools asleep."""
        qualified = require_table(self.catalog, project_id, database, table)
        if not 1 <= len(blobs) <= max_blobs:
            raise InvalidInput(
                f"a request holds 1 to {max_blobs} blobs, not {len(blobs)}",
                hint="split the blobs over several requests",
            )
        for index, blob in enumerate(blobs):
            if not blob.url.strip():
                raise EmptyBlobUrl(f"blob {index} has an empty URL")
        mapping = self._mapping(project_id, qualified, properties)
        if properties.delete_after_download:
            for blob in blobs:
                self._check_delete_allowed(project_id, blob.url)
        # Load keys are unique per submission (the run id is not known yet): a fresh token.
        token = uuid.uuid4().hex
        first_of: dict[str, int] = {}
        units = []
        for index, blob in enumerate(blobs):
            duplicate_of = first_of.setdefault(blob.url.strip(), index)
            units.append(
                NewUnit(
                    load_key=f"blob:{token}:{index}",
                    blob_source_id=blob.source_id,
                    day=properties.creation_time.date() if properties.creation_time else None,
                    spec=self._unit_spec(
                        qualified,
                        blob,
                        mapping,
                        properties,
                        duplicate_of if duplicate_of != index else None,
                    ),
                )
            )
        run = self.runs.create_run(
            project_id,
            kind="blobs",
            trigger=trigger,
            origin=RunOrigin.KUSTO,
            units=units,
            max_attempts=max_attempts,
            request={
                "dialect": "kusto",
                "origin": origin,
                "database": database,
                "table": table,
                "tracking": properties.tracking,
                "client_request_id": client_request_id,
                "properties": properties.raw,
            },
        )
        if for_workers:
            # Claim at once instead of at the pools' next idle poll (issue 17 §1: no gap).
            self.work.announce()
        return Operation(
            operation_id(run.id, database, table), database, table, properties.tracking, run
        )

    def _mapping(
        self, project_id: int, qualified: str, properties: IngestionProperties
    ) -> Mapping | None:
        if properties.mapping_reference is not None and properties.inline_mapping is not None:
            raise DuplicateMapping(
                "both ingestionMapping and ingestionMappingReference were given",
                hint="give one of them",
            )
        kind = properties.mapping_kind or (
            mapping_kind_of(properties.format) if properties.format else None
        )
        if properties.format is not None and kind != mapping_kind_of(properties.format):
            raise InvalidMappingReference(
                f"a {kind} mapping cannot read format {properties.format.value}"
            )
        table = self.catalog.get_table(project_id, qualified)
        if properties.mapping_reference is not None:
            try:
                view = self.mappings.get(project_id, qualified, properties.mapping_reference, kind)
            except NotFound as exc:
                raise MappingNotFound(
                    exc.message,
                    hint="create it with .create table T ingestion <kind> mapping",
                ) from exc
            except MappingInvalid as exc:
                raise InvalidMappingReference(exc.message, hint=exc.hint) from exc
            return view.mapping
        if properties.inline_mapping is None:
            return None
        elements = normalize_elements(properties.inline_mapping)
        kind = kind or _guess_kind(elements)
        try:
            mapping = kusto_mapping(kind, elements)
        except MappingInvalid as exc:
            raise InvalidMapping(exc.message, hint=exc.hint) from exc
        try:
            mapping.check_against(table)
        except MappingInvalid as exc:
            raise InconsistentMapping(exc.message, hint=exc.hint) from exc
        return mapping

    def _check_delete_allowed(self, project_id: int, url: str) -> None:
        """deleteAfterDownload only where a connection allows deleting (``allow_delete``)."""
        try:
            resolved = resolve_blob(self.catalog, project_id, parse_blob_url(url))
        except UnitError:
            return  # this blob fails on its own, with its own code
        if not resolved.allow_delete:
            raise PropertyNotSupported(
                f"deleteAfterDownload is not allowed for {redact(url)}",
                hint="ingestd deletes sources only through a connection whose config has "
                '"allow_delete": true',
            )

    def _unit_spec(
        self,
        qualified: str,
        blob: BlobRef,
        mapping: Mapping | None,
        properties: IngestionProperties,
        duplicate_of: int | None,
    ) -> BlobUnitSpec:
        url = blob.url.strip()
        return blob_unit_spec(
            qualified,
            url,
            sealed_url=self.catalog.store.secret_box.seal(url),
            mapping=mapping,
            read_options=properties.read_options(),
            error_policy=properties.error_policy,
            tags=properties.tags,
            ingest_if_not_exists=properties.ingest_if_not_exists,
            delete_after_download=properties.delete_after_download,
            duplicate_of=duplicate_of,
            fetch=self.fetch,
            raw_size=blob.raw_size,
            upload=blob.upload,
        )

    # -- reading and canceling ----------------------------------------------------------------

    def get(
        self,
        project_id: int,
        value: str,
        *,
        database: str | None = None,
        table: str | None = None,
        tracked_only: bool = False,
    ) -> Operation:
        """The operation with id ``value`` in the caller's project; 404 if it is unknown, of
        another project, was issued for another database or table, or (``tracked_only``, the
        REST status endpoint, §3.4 [I]) was submitted without tracking."""
        unknown = NotFound(
            f"ingestion operation {value!r} does not exist",
            hint="use the ingestionOperationId of a POST with enableTracking=true",
        )
        run_id = run_id_of(value, database, table)
        if run_id is None:
            raise unknown
        try:
            run = self.runs.get_run(project_id, run_id, history=False)
        except NotFound:
            raise unknown from None
        request = run.request
        if run.kind != "blobs" or request.get("dialect") != "kusto":
            raise unknown
        db, name = str(request.get("database")), str(request.get("table"))
        if (database is not None and db != database) or (table is not None and name != table):
            raise unknown
        tracked = bool(request.get("tracking"))
        if tracked_only and not tracked:
            raise unknown
        return Operation(operation_id(run.id, db, name), db, name, tracked, run)

    def failures(self, project_id: int, *, runs: int = 1000) -> list[tuple[Operation, UnitView]]:
        """The failed blobs of the project's latest ``runs`` Kusto operations, newest first
        (``.show ingestion failures``): selected in SQL, only failed units are read."""
        with self.runs.store.read() as session:
            rows = failed_units(
                session, project_id, kind="blobs", origin=RunOrigin.KUSTO.value, runs=runs
            )
        out: list[tuple[Operation, UnitView]] = []
        operations: dict[str, Operation] = {}
        for run, unit in rows:
            request = run.request
            if request.get("dialect") != "kusto":
                continue
            operation = operations.get(run.id)
            if operation is None:
                db, name = str(request.get("database")), str(request.get("table"))
                view = RunView.of(run, [])
                operation = Operation(
                    operation_id(run.id, db, name), db, name, bool(request.get("tracking")), view
                )
                operations[run.id] = operation
            out.append((operation, UnitView.of(unit)))
        return out

    def cancel(self, project_id: int, value: str) -> Operation:
        """Cancel what has not run yet (best effort, §3.6): waiting blobs at once, running ones
        through their worker. Canceling twice is harmless; an operation that has ended
        cannot be canceled."""
        operation = self.get(project_id, value)
        if operation.run.cancel_requested:
            return operation
        if all(u.state in TERMINAL_UNIT_STATES for u in operation.run.units):
            raise InvalidInput(
                f"ingestion operation {value!r} has already ended; nothing to cancel"
            )
        self.runs.cancel_run(project_id, operation.run.id)
        return self.get(project_id, value)


def _guess_kind(elements: list[Any]) -> str:
    """No format and no ingestionMappingType: ordinals mean CSV, anything else JSON."""
    for element in elements:
        if isinstance(element, dict):
            props = element.get("Properties")
            if "Ordinal" in element or (isinstance(props, dict) and "Ordinal" in props):
                return "csv"
    return "json"
