"""Runs one claimed unit: resolve its inputs, load them, record the outcome.

The only place that turns a unit's spec (``domain.unit_specs``, built by ``control``) into a
``LoadRequest`` and calls the data plane. What the API accepted (Kusto uploads, stream
batches) is read from the metadata database into the unit's own staging folder: a worker
needs only its own disk and the metadata database, wherever the data was accepted. Foreign
exceptions that nobody translated become INTERNAL_ERROR, logged with their traceback (never
returned through the API).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import replace
from pathlib import Path

from ingestd.control.amperity.stream_batches import batch_reader
from ingestd.control.catalog import Catalog
from ingestd.control.file_access import FileAccess
from ingestd.control.kusto.blob_units import REQUIRES_MAPPING, already_ingested, missing_mapping
from ingestd.control.kusto.storage.uploads import KustoUploads
from ingestd.control.runs import Claim, Runs
from ingestd.control.source_loads import SourceLoads
from ingestd.dataplane.contract import CancelToken, LoadRequest, Progress
from ingestd.dataplane.pipeline import DataPlane
from ingestd.dataplane.readers.staged_payloads import stage_payload
from ingestd.domain.mapping import Mapping, identity_mapping
from ingestd.domain.sources import DELIMITED, ReadOptions
from ingestd.domain.states import UnitState
from ingestd.domain.tables import TableSpec
from ingestd.domain.unit_specs import (
    BlobUnitSpec,
    FileUnitSpec,
    SourceDayUnitSpec,
    StreamBatchUnitSpec,
    UnitRecord,
)
from ingestd.errors import (
    Canceled,
    DuplicateBlob,
    IngestdError,
    InternalError,
    NotFound,
    SourceNotFound,
    TableNotFound,
    UnitError,
)
from ingestd.executor.blob_inputs import blob_format, declared_format, stage_blob
from ingestd.observability import logging as log_context
from ingestd.observability.logging import LogContext
from ingestd.store.database import Store

log = logging.getLogger("ingestd.executor")


PROGRESS_INTERVAL_SECONDS = 1.0


class UnitRunner:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        runs: Runs,
        dataplane: DataPlane,
        file_access: FileAccess,
        source_loads: SourceLoads,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.runs = runs
        self.dataplane = dataplane
        self.file_access = file_access
        self.source_loads = source_loads
        self.staging_root = source_loads.staging_root
        # Read-only here: the size bound applies where uploads are written (the API).
        self.uploads = KustoUploads(store, max_bytes=0)

    def run(self, claim: Claim, worker: str, cancel: CancelToken) -> None:
        """Run the unit; every log line meanwhile names its project, run and unit."""
        context = LogContext(project=claim.project, run_id=claim.run_id, unit_id=claim.unit_id)
        with log_context.bound(context):
            log.info("unit %s started (attempt %d, %s)", claim.unit_id, claim.attempt, worker)
            self._run(claim, worker, cancel)

    def _run(self, claim: Claim, worker: str, cancel: CancelToken) -> None:
        unit_id = claim.unit_id
        try:
            loaded = self.already_loaded(claim)
            if loaded is not None:
                # DESIGN "Run and unit states": an ingestIfNotExists hit ends skipped, with no
                # load (no ledger entry, no rows); Kusto reports it as Succeeded (§3.7).
                log.info("unit %s skipped: %s is loaded already", unit_id, loaded)
                self.runs.skip(unit_id, worker, f"skipped: {loaded} is loaded already")
                return
            self.runs.advance(unit_id, worker, UnitState.DOWNLOADING)
            request = self.build_request(claim, cancel)
            self.runs.advance(unit_id, worker, UnitState.LOADING, f"{len(request.inputs)} file(s)")
            result = self.dataplane.load(
                request, progress=self._progress_recorder(unit_id), cancel=cancel
            )
            c = result.counts
            self.runs.succeed(
                unit_id,
                worker,
                result,
                f"read {c.read}, inserted {c.inserted}, updated {c.updated}, "
                f"rejected {c.rejected}, errors {c.errors}",
            )
            log.info(
                "unit %s succeeded: read %d, inserted %d, updated %d, rejected %d, errors %d",
                unit_id,
                c.read,
                c.inserted,
                c.updated,
                c.rejected,
                c.errors,
            )
        except Canceled:
            self.runs.finish_canceled(unit_id, worker)
        except UnitError as exc:
            delay = self.runs.fail(unit_id, worker, exc)
            log.warning(
                "unit %s failed (%s): %s%s",
                unit_id,
                exc.code,
                exc,
                f"; retrying in {delay:.1f}s" if delay is not None else "",
            )
        except IngestdError as exc:
            self.runs.fail(unit_id, worker, InternalError(f"{exc.code}: {exc}"))
        except Exception as exc:  # the executor's one top-level handler
            log.exception("unit %s crashed", unit_id)
            self.runs.fail(unit_id, worker, InternalError(f"{type(exc).__name__}: {exc}"))
        finally:
            shutil.rmtree(self.staging_root / f"extract-{unit_id}", ignore_errors=True)

    def already_loaded(self, claim: Claim) -> str | None:
        """The ``ingest-by:`` tag that another operation's committed load carries, when the
        claimed unit is a blob whose ``ingestIfNotExists`` names it; None otherwise (and for
        anything that is not a blob unit, or whose table is gone: its load reports that)."""
        unit = self.runs.claimed_unit(claim)
        spec = unit.spec
        if not isinstance(spec, BlobUnitSpec) or not spec.ingest_if_not_exists:
            return None
        if spec.duplicate_of is not None:
            return None
        table = self.catalog.find_table(claim.project_id, spec.table)
        if table is None:
            return None
        return already_ingested(self.dataplane.warehouse, table, spec, excluding_run=unit.run_id)

    def build_request(self, claim: Claim, cancel: CancelToken | None = None) -> LoadRequest:
        unit = self.runs.claimed_unit(claim)
        spec = unit.spec
        if isinstance(spec, SourceDayUnitSpec):
            return self.source_loads.request(
                claim.project_id,
                spec,
                load_key=unit.load_key,
                unit_id=unit.id,
                run_id=unit.run_id,
                cancel=cancel,
            )
        if isinstance(spec, BlobUnitSpec):
            return self._blob_request(claim, unit, spec, cancel)
        return self._file_request(claim, unit, spec, cancel)

    def _file_request(
        self, claim: Claim, unit: UnitRecord, spec: FileUnitSpec, cancel: CancelToken | None
    ) -> LoadRequest:
        """Units that load given local files, and stream batches (staged from the metadata
        database; one queued before batches named their records is its file)."""
        table = self.catalog.get_table(claim.project_id, spec.table)
        if isinstance(spec, StreamBatchUnitSpec) and spec.records:
            staged = stage_payload(
                batch_reader(self.store, claim.project_id, spec),
                self.staging_root / f"extract-{unit.id}",
                spec.input_names[0] if spec.input_names else "batch.ndjson",
                cancel,
            )
            paths: tuple[Path, ...] = (staged,)
        else:
            paths = tuple(Path(p) for p in spec.inputs)
        for path in paths:
            if not path.exists():
                raise SourceNotFound(f"{path} does not exist any more")
        mapping = spec.mapping if spec.mapping is not None else identity_mapping(table)
        return self._request(unit, spec, table, mapping, paths, spec.read_options)

    def _blob_request(
        self, claim: Claim, unit: UnitRecord, spec: BlobUnitSpec, cancel: CancelToken | None
    ) -> LoadRequest:
        """A blob unit (``blob_units.blob_unit_spec``): download the blob, then describe its load
        by Kusto's rules (an ingestIfNotExists hit never gets here: ``already_loaded``)."""
        if spec.duplicate_of is not None:
            raise DuplicateBlob(
                f"{unit.blob_url} was given twice in one request; blob {spec.duplicate_of} loads it"
            )
        try:
            table = self.catalog.get_table(claim.project_id, spec.table)
        except NotFound as exc:
            raise TableNotFound(
                f"{exc.message} (it was dropped after the blob was queued)"
            ) from exc
        known = declared_format(spec)
        if known in REQUIRES_MAPPING and spec.mapping is None:
            raise missing_mapping(known)
        staged = stage_blob(
            spec,
            unit_id=unit.id,
            project_id=claim.project_id,
            catalog=self.catalog,
            store=self.store,
            staging_root=self.staging_root,
            files=self.file_access.for_project(claim.project_id),
            cancel=cancel,
            uploads=self.uploads,
        )
        data_format = blob_format(spec, staged)
        if spec.mapping is not None:
            mapping = spec.mapping
        elif data_format in REQUIRES_MAPPING:
            raise missing_mapping(data_format)
        else:  # §3.9: identity mapping, by position for delimited formats
            mapping = identity_mapping(table, by_position=data_format in DELIMITED)
        options = replace(spec.read_options, format=data_format)
        return self._request(unit, spec, table, mapping, (staged.path,), options)

    def _request(
        self,
        unit: UnitRecord,
        spec: FileUnitSpec | BlobUnitSpec,
        table: TableSpec,
        mapping: Mapping,
        paths: tuple[Path, ...],
        read_options: ReadOptions,
    ) -> LoadRequest:
        names = (spec.input_name,) if isinstance(spec, BlobUnitSpec) else spec.input_names
        return LoadRequest(
            load_key=unit.load_key,
            unit_id=unit.id,
            run_id=unit.run_id,
            table=table,
            mapping=mapping,
            inputs=paths,
            input_names=names or tuple(p.name for p in paths),
            read_options=read_options,
            mode=spec.mode,
            day=unit.day,
            error_policy=spec.error_policy,
            empty_is_error=spec.empty_is_error,
            tags=spec.tags,
        )

    def _progress_recorder(self, unit_id: str) -> ProgressRecorder:
        return ProgressRecorder(self.runs, unit_id)


class ProgressRecorder:
    """Writes a unit's live row count at most once a second."""

    def __init__(self, runs: Runs, unit_id: str) -> None:
        self.runs = runs
        self.unit_id = unit_id
        self._last = 0.0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL_SECONDS:
            self._last = now
            self.runs.record_progress(self.unit_id, progress.rows_read)
