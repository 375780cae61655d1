"""A stream batch's records, read back from the metadata database as the NDJSON the unit loads.

``control.amperity.streams`` flushes a batch into a run whose unit names the batch's records
(``StreamBatchUnitSpec.records``); whichever worker runs the unit reads them with
``batch_reader`` and stages them in its own folder (``dataplane.readers.staged_payloads``). A batch
whose records are no longer all there (the project's data went) is ``SourceNotFound``: a unit
never loads part of a batch as if it were the whole.
"""

from __future__ import annotations

from collections.abc import Iterator

from ingestd.dataplane.readers.staged_payloads import PayloadReader
from ingestd.domain.unit_specs import StreamBatchUnitSpec
from ingestd.errors import SourceNotFound
from ingestd.store import stream_records
from ingestd.store.database import Store

CHUNK_BYTES = 1 << 20
"""The NDJSON is handed on in pieces of about this size."""


def batch_reader(store: Store, project_id: int, spec: StreamBatchUnitSpec) -> PayloadReader:
    """Reads the batch's records, in id order, one NDJSON line each."""

    def read() -> Iterator[bytes]:
        found = 0
        buffer = bytearray()
        for payload in stream_records.batch_payloads(store, project_id, spec.source, spec.records):
            buffer += payload.encode("utf-8")
            buffer += b"\n"
            found += 1
            if len(buffer) >= CHUNK_BYTES:
                yield bytes(buffer)
                buffer.clear()
        if found != spec.record_count:
            raise SourceNotFound(
                f"stream {spec.source!r}: {spec.record_count - found} of the batch's "
                f"{spec.record_count} records are no longer stored",
                hint="push the records again",
            )
        if buffer:
            yield bytes(buffer)

    return read
