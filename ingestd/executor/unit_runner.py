"""Runs one claimed unit: resolve its inputs, load them, record the outcome.

The only place that turns a unit's stored description into a ``LoadRequest`` and calls the data
plane. Foreign exceptions that nobody translated become INTERNAL_ERROR, logged with their
traceback (never returned through the API).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ingestd.control.catalog import Catalog
from ingestd.control.runs import Claim, Runs
from ingestd.dataplane.contract import CancelToken, LoadRequest, Progress
from ingestd.dataplane.files import expand
from ingestd.dataplane.pipeline import DataPlane
from ingestd.domain.states import UnitState
from ingestd.domain.templates import render
from ingestd.errors import (
    Canceled,
    ConnectionConfigError,
    IngestdError,
    InternalError,
    NotFound,
    UnitError,
)
from ingestd.store.database import Store
from ingestd.store.schema import Unit

log = logging.getLogger("ingestd.executor")
PROGRESS_INTERVAL_SECONDS = 1.0


class UnitRunner:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        runs: Runs,
        dataplane: DataPlane,
        file_roots: tuple[Path, ...],
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.runs = runs
        self.dataplane = dataplane
        self.file_roots = file_roots

    def run(self, claim: Claim, worker: str, cancel: CancelToken) -> None:
        unit_id = claim.unit_id
        try:
            self.runs.advance(unit_id, worker, UnitState.DOWNLOADING)
            request = self.build_request(claim)
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
        except Exception as exc:
            log.exception("unit %s crashed", unit_id)
            self.runs.fail(unit_id, worker, InternalError(f"{type(exc).__name__}: {exc}"))

    def build_request(self, claim: Claim) -> LoadRequest:
        with self.store.read() as session:
            unit = session.get(Unit, claim.unit_id)
            assert unit is not None
        if unit.source_name is None or unit.day is None:
            raise InternalError(f"unit {unit.id} has no source and day to load")
        try:
            source = self.catalog.get_source(claim.project_id, unit.source_name)
        except NotFound as exc:
            raise ConnectionConfigError(
                f"source {unit.source_name!r} was deleted before its unit ran"
            ) from exc
        table = self.catalog.get_table(claim.project_id, source.table)
        if source.path_template is None:
            raise ConnectionConfigError(f"source {source.name!r} has no path template")
        root = self.catalog.file_root_of(claim.project_id, source.connection)
        rendered = render(source.path_template, unit.day)
        pattern = str(root / rendered) if root is not None else rendered
        paths = expand(pattern, self.file_roots)
        names = tuple(
            str(p.relative_to(root.resolve())) if root is not None else p.name for p in paths
        )
        return LoadRequest(
            load_key=unit.load_key,
            unit_id=unit.id,
            run_id=unit.run_id,
            table=table,
            mapping=source.mapping,
            inputs=tuple(paths),
            input_names=names,
            read_options=source.read_options,
            mode=source.load_mode,
            day=unit.day,
            error_policy=source.error_policy,
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
