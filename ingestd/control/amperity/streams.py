"""Streams: JSON records pushed one at a time, batched into runs that load them as NDJSON.

A stream is a source named by the stream id whose path template is the stream's folder
``<root>/<project>/<stream>/*.ndjson`` (format json); ``create_stream`` makes one. Its table,
mapping, load mode (append or upsert) and error policy say where the records go. API-SURFACE
§2.5: one JSON object per request, at most 1 MB by default.

Contract:

* ``accept`` validates one record and commits it to the metadata store before it returns: an
  acknowledged record survives a crash of the process right after the acknowledgement.
* ``flush`` picks a stream's pending records (as many as fit in a batch), creates a run of kind
  and trigger ``stream`` with one unit whose spec names those records (``StreamBatchUnitSpec
  .records``), then marks the records with the run. No file is written: the worker that runs
  the unit writes the batch from the metadata database into its own staging folder
  (``control.amperity.stream_batches``), so it needs no disk shared with this process. The run's
  idempotency key names the batch's first record, and the run remembers exactly which records
  it holds, so a crash anywhere in between leaves the records pending and the next flush
  finishes the same batch: a record is loaded by exactly one run, never lost, never twice.
* ``flush_due`` flushes every stream with ``flush_records`` pending records or whose oldest
  pending record is ``flush_seconds`` old; the server's scheduler loop calls it.
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ingestd.control.catalog import Catalog, SourceView
from ingestd.control.run_views import RunView
from ingestd.control.runs import NewUnit, Runs
from ingestd.domain.mapping import Mapping
from ingestd.domain.origins import RunOrigin
from ingestd.domain.sources import DataFormat, ErrorPolicy, LoadMode, ReadOptions
from ingestd.domain.unit_specs import StreamBatchUnitSpec
from ingestd.errors import IngestdError, InvalidInput, NotFound, RequestError
from ingestd.store import stream_records
from ingestd.store.database import Store
from ingestd.store.run_owners import project_name
from ingestd.store.schema import utcnow

log = logging.getLogger("ingestd.streams")

STREAM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
"""Stream ids name a folder, so they are plain names."""
RUN_KIND = "stream"
TRIGGER = "stream"
_BATCH_BYTES = 256 << 20
"""A batch stops growing past this size (in characters); the rest goes into the next one."""


class RecordTooLarge(RequestError):
    """A streamed record over the size limit (API-SURFACE §2.5: 413, not retried)."""

    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


@dataclass(frozen=True)
class Accepted:
    record_id: int
    pending: int
    """Records of the stream waiting for a flush, this one included."""
    flush_due: bool
    """``pending`` reached the size that triggers a flush."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_record(body: bytes, max_bytes: int) -> str:
    """One JSON object as a single NDJSON line, or ``InvalidInput`` / ``RecordTooLarge``."""
    if len(body) > max_bytes:
        raise RecordTooLarge(
            f"the record is {len(body)} bytes; at most {max_bytes} are accepted",
            hint="send smaller records",
        )
    try:
        value = json.loads(body.decode("utf-8"), parse_float=_finite, parse_constant=_no_constants)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the record is not UTF-8 (byte {exc.start})") from exc
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"the record is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput(
            f"a record must be one JSON object, not {type(value).__name__}",
            hint="send one object per request; NDJSON and arrays are not accepted",
        )
    line = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput("the record contains an unpaired \\u surrogate escape") from exc
    return line


def record_ranges(ids: Sequence[int]) -> list[list[int]]:
    """Sorted ids as inclusive ``[first, last]`` runs of consecutive ids."""
    ranges: list[list[int]] = []
    for record_id in ids:
        if ranges and ranges[-1][1] + 1 == record_id:
            ranges[-1][1] = record_id
        else:
            ranges.append([record_id, record_id])
    return ranges


@dataclass(frozen=True)
class StreamView:
    """A stream: the source that configures it and its records not yet in a batch."""

    source: SourceView
    pending: int


class Streams:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        runs: Runs,
        root: Path,
        *,
        flush_records: int = 1000,
        flush_seconds: float = 60.0,
        max_record_bytes: int = 1 << 20,
        max_batch_records: int = 100_000,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.runs = runs
        self.root = root
        self.flush_records = flush_records
        self.flush_seconds = flush_seconds
        self.max_record_bytes = max_record_bytes
        self.max_batch_records = max_batch_records
        self.clock = clock
        self._locks: dict[tuple[int, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._project_names: dict[int, str] = {}

    # -- configuration ------------------------------------------------------------------------

    def folder(self, project: str, stream_id: str) -> Path:
        return self.root / project / stream_id

    def create_stream(
        self,
        project_id: int,
        stream_id: str,
        table: str,
        *,
        mapping: Mapping | None = None,
        load_mode: LoadMode = LoadMode.APPEND,
        error_policy: ErrorPolicy | None = None,
    ) -> SourceView:
        """A stream into ``table``: an NDJSON source named ``stream_id`` on its batch folder."""
        if not STREAM_ID.match(stream_id):
            raise InvalidInput(
                f"stream id {stream_id!r} is not valid",
                hint="use letters, digits, '_', '.', '-' (at most 128 characters)",
            )
        if load_mode is LoadMode.REPLACE_DAY:
            raise InvalidInput("a stream loads append or upsert, not replace_day")
        folder = self.folder(self._project_name(project_id), stream_id)
        source = self.catalog.create_source(
            project_id,
            name=stream_id,
            table=table,
            path_template=str(folder / "*.ndjson"),
            read_options=ReadOptions(format=DataFormat.JSON),
            mapping=mapping,
            load_mode=load_mode,
            error_policy=error_policy,
        )
        folder.mkdir(parents=True, exist_ok=True)
        return source

    def is_stream(self, project: str, source: SourceView) -> bool:
        """Whether a source is a stream: its path template ends in the stream's batch folder
        (``.../streams/<project>/<stream>/*.ndjson``). The end only: the serve that created
        it may have had another data directory than this one (each machine of a cluster has
        its own), and a stream's batches are read from the metadata database, not that path."""
        tail = (self.root.name, project, source.name, "*.ndjson")
        return (
            STREAM_ID.fullmatch(source.name) is not None
            and source.path_template is not None
            and Path(source.path_template).parts[-len(tail) :] == tail
        )

    def list_streams(self, project_id: int) -> list[StreamView]:
        """The project's streams, by name, with the records each holds not yet loaded."""
        project = self._project_name(project_id)
        return [
            StreamView(source, self.pending(project_id, source.name))
            for source in self.catalog.list_sources(project_id)
            if self.is_stream(project, source)
        ]

    def stream_source(self, project_id: int, stream_id: str) -> SourceView:
        """The source that configures a stream; ``NotFound`` if there is no such stream."""
        missing = NotFound(
            f"stream {stream_id!r} does not exist",
            hint="create it with `ingestd streams create`",
        )
        try:
            source = self.catalog.get_source(project_id, stream_id)
        except NotFound:
            raise missing from None
        if not self.is_stream(self._project_name(project_id), source):
            raise missing
        if source.load_mode is LoadMode.REPLACE_DAY:
            raise InvalidInput(f"stream {stream_id!r} loads replace_day, which needs a day")
        return source

    # -- accepting ----------------------------------------------------------------------------

    def accept(self, project_id: int, stream_id: str, body: bytes) -> Accepted:
        """Validate one record and commit it; it is durable once this returns."""
        self.stream_source(project_id, stream_id)
        payload = parse_record(body, self.max_record_bytes)
        record_id, pending = stream_records.add(
            self.store, project_id, stream_id, payload, received_at=self.clock()
        )
        return Accepted(record_id, pending, pending >= self.flush_records)

    def pending(self, project_id: int, stream_id: str) -> int:
        return stream_records.pending_count(self.store, project_id, stream_id)

    # -- flushing -----------------------------------------------------------------------------

    def flush_due(self, now: datetime | None = None, *, everything: bool = False) -> list[str]:
        """Flush every stream that is due (by size or by age), or with ``everything`` every
        stream with pending records; the runs created."""
        now = now or self.clock()
        oldest_allowed = now - timedelta(seconds=self.flush_seconds)
        created: list[str] = []
        for group in stream_records.pending_streams(self.store):
            small = group.count < self.flush_records
            if not everything and small and group.oldest > oldest_allowed:
                continue
            try:
                created += [run.id for run in self.flush(group.project_id, group.stream_id)]
            except IngestdError as exc:
                # e.g. the stream's source was deleted: its records wait, the others flush.
                log.warning(
                    "cannot flush stream %s of project %s: %s",
                    group.stream_id,
                    group.project_id,
                    exc,
                )
        return created

    def flush(self, project_id: int, stream_id: str) -> list[RunView]:
        """Turn the stream's pending records (those there now) into runs; returns them."""
        with self._lock(project_id, stream_id):
            last = stream_records.last_pending(self.store, project_id, stream_id)
            runs: list[RunView] = []
            while last is not None:
                run = self._flush_batch(project_id, stream_id, last)
                if run is None:
                    break
                runs.append(run)
            return runs

    def _flush_batch(self, project_id: int, stream_id: str, last: int) -> RunView | None:
        first = stream_records.first_pending(self.store, project_id, stream_id, up_to=last)
        if first is None:
            return None
        source = self.stream_source(project_id, stream_id)
        key = f"ingestd-stream:{source.id}:{first}"
        run = self.runs.find_by_idempotency_key(project_id, key)
        if run is None:
            # Not seen before (or a crash came before the run): pick the batch afresh.
            ids = stream_records.pending_batch(
                self.store,
                project_id,
                stream_id,
                first,
                last,
                max_records=self.max_batch_records,
                max_chars=_BATCH_BYTES,
            )
            if not ids:  # another process flushed them meanwhile
                return None
            name = f"{first:012d}-{secrets.token_hex(4)}.ndjson"
            ranges = record_ranges(ids)
            run = self.runs.create_run(
                project_id,
                kind=RUN_KIND,
                trigger=TRIGGER,
                origin=RunOrigin.AMPERITY,
                units=[
                    NewUnit(
                        load_key=key,
                        source_id=source.id,
                        spec=StreamBatchUnitSpec(
                            table=source.table,
                            source=source.name,
                            inputs=(),
                            input_names=(name,),
                            mapping=source.mapping,
                            read_options=source.read_options,
                            mode=source.load_mode,
                            error_policy=source.error_policy,
                            records=tuple((lo, hi) for lo, hi in ranges),
                        ),
                    )
                ],
                source_names=[source.name],
                idempotency_key=key,
                request={
                    "stream": stream_id,
                    "file": name,
                    "count": len(ids),
                    "records": ranges,
                },
            )
        self._mark(project_id, stream_id, run)
        return run

    def _mark(self, project_id: int, stream_id: str, run: RunView) -> None:
        """Attach the run's records to it (those still pending)."""
        ranges = run.request.get("records")
        if not isinstance(ranges, list):
            raise InvalidInput(f"run {run.id} does not list its stream records")
        stream_records.mark(self.store, project_id, stream_id, ranges, run.id)

    # -- helpers ------------------------------------------------------------------------------

    def _lock(self, project_id: int, stream_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault((project_id, stream_id), threading.Lock())

    def _project_name(self, project_id: int) -> str:
        name = self._project_names.get(project_id)  # projects are never renamed
        if name is None:
            name = project_name(self.store, project_id)
            self._project_names[project_id] = name
        return name
