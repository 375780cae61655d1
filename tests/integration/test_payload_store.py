"""The payloads and stream records the API accepts, as the metadata database keeps them, once on
SQLite and once on PostgreSQL: chunked, visible only when complete, one project's only, and
staged whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete

from ingestd.control.amperity.stream_batches import batch_reader
from ingestd.dataplane.contract import CancelToken
from ingestd.dataplane.readers.staged_payloads import stage_payload
from ingestd.domain.unit_specs import StreamBatchUnitSpec
from ingestd.errors import Canceled, NotFound, SourceNotFound
from ingestd.store import payloads, stream_records
from ingestd.store.database import Store
from ingestd.store.payloads import CHUNK_BYTES, PayloadKey
from ingestd.store.schema import PayloadChunk, Project

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.migrate()
    with store.write() as session:
        session.add_all([Project(id=1, name="acme"), Project(id=2, name="beta")])
    yield store
    store.dispose()


def _write(store: Store, key: PayloadKey, data: bytes, piece: int = 65536) -> None:
    with payloads.writing(store, key, now=lambda: T0) as writer:
        for at in range(0, len(data), piece):
            writer.write(data[at : at + piece])


def _read(store: Store, key: PayloadKey) -> bytes:
    found = payloads.find(store, key)
    assert found is not None
    return b"".join(payloads.chunks(store, found, "test payload"))


def test_a_payload_of_several_chunks_reads_back_whole_and_in_order(store: Store) -> None:
    key = PayloadKey(1, "kusto_upload", "rows.csv")
    data = bytes(range(256)) * ((2 * CHUNK_BYTES + 12345) // 256)
    _write(store, key, data)
    assert _read(store, key) == data
    with store.read() as session:
        assert session.query(PayloadChunk).count() == 3
    # Writing it again replaces it: one payload, the new bytes.
    _write(store, key, b"again")
    assert _read(store, key) == b"again"
    with store.read() as session:
        assert session.query(PayloadChunk).count() == 1


def test_a_payload_is_one_projects_only(store: Store) -> None:
    _write(store, PayloadKey(1, "kusto_upload", "rows.csv"), b"acme's")
    assert payloads.find(store, PayloadKey(2, "kusto_upload", "rows.csv")) is None
    assert payloads.find(store, PayloadKey(1, "retained_blob", "rows.csv")) is None
    assert payloads.project_ids(store, "kusto_upload") == [1]


def test_a_payload_removed_while_it_is_read_is_not_found_rather_than_short(
    store: Store, tmp_path: Path
) -> None:
    key = PayloadKey(1, "kusto_upload", "rows.csv")
    _write(store, key, b"x" * (2 * CHUNK_BYTES))
    found = payloads.find(store, key)
    assert found is not None
    reader = payloads.chunks(store, found, "upload 'rows.csv'")
    assert len(next(reader)) == CHUNK_BYTES
    with store.write() as session:  # e.g. the retention sweep, meanwhile
        session.execute(delete(PayloadChunk).where(PayloadChunk.seq == 1))
    with pytest.raises(NotFound):
        list(reader)

    def read_again() -> Iterator[bytes]:
        return payloads.chunks(store, found, "upload 'rows.csv'")

    with pytest.raises(NotFound):
        stage_payload(read_again, tmp_path / "extract", "rows.csv")
    assert list((tmp_path / "extract").iterdir()) == []  # nothing half-staged is left


def test_a_canceled_staging_leaves_no_file(store: Store, tmp_path: Path) -> None:
    key = PayloadKey(1, "kusto_upload", "rows.csv")
    _write(store, key, b"y" * (2 * CHUNK_BYTES))
    found = payloads.find(store, key)
    assert found is not None
    cancel = CancelToken()

    def read() -> Iterator[bytes]:
        for chunk in payloads.chunks(store, found, "upload"):
            yield chunk
            cancel.cancel()

    with pytest.raises(Canceled):
        stage_payload(read, tmp_path / "extract", "../../rows.csv", cancel)
    assert list((tmp_path / "extract").iterdir()) == []
    staged = stage_payload(
        lambda: payloads.chunks(store, found, "upload"), tmp_path / "extract", "../../rows.csv"
    )
    assert staged == tmp_path / "extract" / "rows.csv"  # a plain name in the folder
    assert staged.stat().st_size == 2 * CHUNK_BYTES


def test_a_batch_reads_exactly_its_records_among_other_streams(store: Store) -> None:
    ids = {}
    for n in range(8):  # two streams of one project, and another project's, interleaved
        project, stream = [(1, "signups"), (1, "orders"), (2, "signups")][n % 3]
        ids[n], _ = stream_records.add(store, project, stream, f'{{"n":{n}}}', received_at=T0)
    signups = [ids[n] for n in range(8) if n % 3 == 0]  # project 1's signups
    assert (
        stream_records.pending_batch(
            store, 1, "signups", signups[0], signups[-1], max_records=100, max_chars=1 << 20
        )
        == signups
    )
    # A batch of the first and last of them: the one in between is another run's.
    ranges = [(signups[0], signups[0]), (signups[-1], signups[-1])]
    assert list(stream_records.batch_payloads(store, 1, "signups", ranges)) == [
        '{"n":0}',
        '{"n":6}',
    ]
    assert list(stream_records.batch_payloads(store, 2, "signups", ranges)) == []
    stream_records.mark(store, 1, "signups", [list(r) for r in ranges], "run-1")
    assert stream_records.pending_count(store, 1, "signups") == 1
    assert stream_records.pending_count(store, 1, "orders") == 3


def test_a_batch_whose_records_are_no_longer_all_there_is_not_loaded(store: Store) -> None:
    kept, _ = stream_records.add(store, 1, "signups", '{"n":1}', received_at=T0)
    spec = StreamBatchUnitSpec(
        table="crm.customers",
        source="signups",
        inputs=(),
        input_names=("000000000001-ab.ndjson",),
        records=((kept, kept + 1),),  # the second record is not stored
    )
    with pytest.raises(SourceNotFound, match="1 of the batch's 2 records"):
        list(batch_reader(store, 1, spec)())
    whole = StreamBatchUnitSpec(
        table="crm.customers",
        source="signups",
        inputs=(),
        input_names=("000000000001-ab.ndjson",),
        records=((kept, kept),),
    )
    assert b"".join(batch_reader(store, 1, whole)()) == b'{"n":1}\n'
