"""Kusto streaming ingestion (``POST /v1/rest/ingest/{database}/{table}``): the body is the data,
and it is committed before the request is answered.

The data becomes a Kusto operation of one blob, made exactly as a queued one
(``control.kusto.queued``): the same mapping, format, validation, quarantine and accounting, and
visible wherever operations are (``.show queued ingestion operations``, the REST status, the
Amperity jobs, the native runs API, origin Kusto). What differs:

* The body is kept as an upload of ingestd's own Kusto storage (read in place by the unit,
  deleted once the unit has ended: the client still has its data).
* The request runs the one unit it made, in its own thread: it claims that unit with the same
  conditional update and lease the pool uses (``Runs.claim_unit``), so exactly one worker ever
  runs it. If a pool worker won the race, the request waits for that worker's outcome.
* The unit has one attempt. A failure is answered, not retried later behind the client's back:
  the SDK's managed client falls back to queued ingestion on a transient error, and a later
  retry of the streaming unit would then load the rows twice.
* The body is at most ``MAX_STREAMING_BYTES`` uncompressed (the vendor's streaming limit); a
  larger one is refused before anything is made, with ``@permanent`` false so that the managed
  client falls back to queued ingestion.
"""

from __future__ import annotations

import threading
import time
import uuid
import zlib
from dataclasses import dataclass, replace
from typing import Protocol

from ingestd.control.kusto.queued import BlobRef, IngestionProperties, Operation, QueuedIngestion
from ingestd.control.kusto.storage.uploads import KustoUploads
from ingestd.control.quarantine import Quarantine, QuarantinedRow
from ingestd.control.run_views import UnitView
from ingestd.control.runs import Claim, Runs
from ingestd.dataplane.contract import CancelToken
from ingestd.domain.states import TERMINAL_UNIT_STATES, UnitState
from ingestd.errors import FailureClass, IngestdError, InternalError, InvalidStreamingBody

MAX_STREAMING_BYTES = 4 * 1024 * 1024
"""The vendor's streaming ingestion limit: 4 MB of uncompressed data per request."""
_GZIP_MAGIC = b"\x1f\x8b"
_POLL_SECONDS = 0.05


class StreamingPayloadTooLarge(IngestdError):
    """413: more than the streaming limit. Not permanent: queued ingestion takes it."""

    code = "STREAMING_PAYLOAD_TOO_LARGE"
    http_status = 413
    permanent = False


class StreamingBodyInvalid(InvalidStreamingBody):
    """400: the body says it is gzip and does not decompress."""

    permanent = True


class StreamingIngestFailed(IngestdError):
    """The unit of a streaming request failed permanently: what it failed on, as the unit
    recorded it (line and column when the data was at fault)."""

    code = "STREAMING_INGEST_FAILED"
    http_status = 400
    permanent = True
    public_message = True
    """The message is the unit's own error message, shown in every status view anyway."""

    def __init__(self, unit: UnitView, operation_id: str) -> None:
        super().__init__(
            f"streaming ingestion failed: {unit.error_message or unit.error_code}",
            hint=f"the operation is {operation_id}",
        )
        self.unit_code = unit.error_code or "INTERNAL_ERROR"
        self.cause_code = self.unit_code
        """The core code the request is answered with (each dialect maps it)."""


class StreamingDataInvalid(IngestdError):
    """Not one row of the body could be loaded: every row was quarantined (and counted, as
    for a queued blob); the answer names the first one's line and column."""

    code = "STREAMING_DATA_INVALID"
    http_status = 400
    permanent = True
    public_message = True

    def __init__(self, row: QuarantinedRow, rows: int, operation_id: str) -> None:
        if row.line is not None:
            place = [f"line {row.line}"]
        elif row.record is not None:
            place = [f"record {row.record}"]
        else:
            place = []
        if row.column:
            place.append(f"column {row.column}")
        where = ", ".join(place) or "the first record"
        super().__init__(
            f"no row of the data could be ingested ({rows} quarantined); the first at "
            f"{where}: {row.message or row.code}",
            hint=f"fix the data or the mapping; the operation is {operation_id}",
        )
        self.cause_code = row.code
        """The first quarantined row's code (each dialect maps it)."""


class StreamingIngestTransient(StreamingIngestFailed):
    """A failure a retry may cure (e.g. the destination was busy): ``@permanent`` false, so
    the managed client retries, then falls back to queued ingestion."""

    http_status = 503
    permanent = False


class ClaimRunner(Protocol):
    """What runs a claimed unit (``executor.unit_runner.UnitRunner``)."""

    def run(self, claim: Claim, worker: str, cancel: CancelToken) -> None: ...


@dataclass(frozen=True)
class StreamingResult:
    operation: Operation
    unit: UnitView


def gunzip_bounded(data: bytes, limit: int) -> bytes:
    """The gzip ``data`` (one member or several) decompressed; ``StreamingPayloadTooLarge``
    as soon as it passes ``limit`` bytes, so a small bomb never inflates in memory."""
    out = bytearray()
    rest = data
    while rest:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
        except zlib.error as exc:
            raise StreamingBodyInvalid(
                f"the body is sent as gzip (Content-Encoding) but does not decompress: {exc}",
                hint="send the data gzip-compressed, or without Content-Encoding",
            ) from exc
        if len(out) > limit:
            raise too_large(limit)
        if not inflater.eof:
            raise StreamingBodyInvalid(
                "the gzip body ends before its end of stream (truncated)",
                hint="send the whole compressed body",
            )
        rest = inflater.unused_data
    return bytes(out)


def too_large(limit: int) -> StreamingPayloadTooLarge:
    return StreamingPayloadTooLarge(
        f"the data is larger than the {limit} bytes (uncompressed) that one streaming "
        "ingestion request may carry",
        hint="use queued ingestion (ManagedStreamingIngestClient does so by itself)",
    )


def decode_body(body: bytes, *, gzip: bool, limit: int = MAX_STREAMING_BYTES) -> bytes:
    """The data of a streaming request. The SDK marks every body ``Content-Encoding: gzip``,
    also the formats it does not compress (Parquet, Avro, ORC): only a body that starts with
    the gzip magic is decompressed."""
    if gzip and body[:2] == _GZIP_MAGIC:
        return gunzip_bounded(body, limit)
    if len(body) > limit:
        raise too_large(limit)
    return body


class StreamingIngestion:
    def __init__(
        self,
        queued: QueuedIngestion,
        runs: Runs,
        runner: ClaimRunner,
        uploads: KustoUploads,
        quarantine: Quarantine,
        *,
        lease_seconds: float,
        wait_limit_seconds: float = 600.0,
    ) -> None:
        self.queued = queued
        self.runs = runs
        self.runner = runner
        self.uploads = uploads
        self.quarantine = quarantine
        self.lease_seconds = lease_seconds
        self.wait_limit_seconds = wait_limit_seconds
        self.worker = f"stream:{uuid.uuid4().hex[:8]}"

    def ingest(
        self,
        project_id: int,
        database: str,
        table: str,
        data: bytes,
        properties: IngestionProperties,
        *,
        client_request_id: str,
        extension: str,
    ) -> StreamingResult:
        """Load ``data`` into the table now; returns the operation and its succeeded unit, or
        raises ``StreamingIngestFailed`` / ``StreamingIngestTransient`` with the unit's error.
        Refusals of the request itself (no table, unknown mapping, ...) raise before anything
        is made, as for queued ingestion."""
        name = f"stream-{uuid.uuid4().hex}.{extension}"
        with self.uploads.writer(project_id, name) as writer:
            writer.write(data)
        upload = self.uploads.relative(project_id, name)
        blob = BlobRef(
            f"stream://{database}/{table}/{name}",
            _source_id(client_request_id),
            len(data),
            upload=upload,
        )
        try:
            return self._ingest(project_id, database, table, blob, properties, client_request_id)
        finally:
            self.uploads.delete(upload)

    def ingest_uri(
        self,
        project_id: int,
        database: str,
        table: str,
        url: str,
        properties: IngestionProperties,
        *,
        client_request_id: str,
    ) -> StreamingResult:
        """Streaming ingestion from a blob (``sourceKind=uri``): the blob is fetched as a
        queued blob is (the project's connections, the egress policy), in the request."""
        blob = BlobRef(url, _source_id(client_request_id))
        return self._ingest(project_id, database, table, blob, properties, client_request_id)

    def _ingest(
        self,
        project_id: int,
        database: str,
        table: str,
        blob: BlobRef,
        properties: IngestionProperties,
        client_request_id: str,
    ) -> StreamingResult:
        operation = self.queued.submit(
            project_id,
            database,
            table,
            [blob],
            replace(properties, tracking=True),
            client_request_id=client_request_id,
            origin="streaming",
            trigger="streaming",
            max_attempts=1,
            for_workers=False,  # this request runs the unit itself
        )
        unit = self._run(project_id, operation)
        if unit.state in (UnitState.SUCCEEDED, UnitState.SKIPPED):
            self._check_loaded(project_id, operation, unit)
            return StreamingResult(operation, unit)
        if unit.failure_status in (FailureClass.TRANSIENT, FailureClass.EXHAUSTED):
            raise StreamingIngestTransient(unit, operation.id)
        raise StreamingIngestFailed(unit, operation.id)

    def _check_loaded(self, project_id: int, operation: Operation, unit: UnitView) -> None:
        """A body of which every row failed is answered as an error (the rows stay
        quarantined and counted, as they would for a queued blob)."""
        c = unit.counts
        if c.errors == 0 or c.inserted or c.updated or c.rejected:
            return
        rows, total = self.quarantine.list(project_id, [unit.table], unit_id=unit.id, limit=1)
        if rows:
            raise StreamingDataInvalid(rows[0], total, operation.id)

    def _run(self, project_id: int, operation: Operation) -> UnitView:
        unit_id = operation.run.units[0].id
        claim = self.runs.claim_unit(unit_id, self.worker, self.lease_seconds)
        if claim is not None:
            cancel = CancelToken()
            stop = threading.Event()
            beat = threading.Thread(
                target=self._heartbeat, args=(unit_id, cancel, stop), daemon=True
            )
            beat.start()
            try:
                self.runner.run(claim, self.worker, cancel)
            finally:
                stop.set()
                beat.join()
        return self._outcome(project_id, operation, unit_id)

    def _heartbeat(self, unit_id: str, cancel: CancelToken, stop: threading.Event) -> None:
        """Keep the lease while the unit runs, as the pool does; a cancel stops the load."""
        while not stop.wait(max(0.2, self.lease_seconds / 3)):
            if not self.runs.heartbeat(unit_id, self.worker, self.lease_seconds):
                cancel.cancel()

    def _outcome(self, project_id: int, operation: Operation, unit_id: str) -> UnitView:
        """The unit once it has ended (at once when this request ran it; a pool worker that
        claimed it first is waited for)."""
        deadline = time.monotonic() + self.wait_limit_seconds
        stop = threading.Event()
        while True:
            run = self.runs.get_run(project_id, operation.run.id, history=False)
            unit = next(u for u in run.units if u.id == unit_id)
            if unit.state in TERMINAL_UNIT_STATES:
                return unit
            if time.monotonic() > deadline:
                raise InternalError(f"streaming unit {unit_id} did not end in time")
            stop.wait(_POLL_SECONDS)


def _source_id(client_request_id: str) -> str | None:
    """The SDK's request id is ``KPC.executeManagedStreamingIngest;<source id>;<attempt>``
    (or ``KPC.executeStreamingIngest;<guid>``): its second part names the data."""
    parts = client_request_id.split(";")
    return parts[1] if len(parts) >= 2 and parts[1] else None
