"""Final rows written while the load still stages (PostgreSQL's row stream, rows_ahead.py).

What is loaded must be exactly what a load without a stream loads, whatever waits, fails or
falls back: the same rows (duplicates rejected, first occurrence kept, across batches and
files), the same counts, the quarantine and the ledger, one commit. The seen-hash bitmap is
made tiny here so that most rows collide on a bit and wait for the commit, and batches small so
that a file is many of them; files are over ``BATCH_FILE_BYTES`` so each is a scan (and a
stream) of its own. Every test runs on both destinations (DuckDB has no stream: the same
results by the ordinary path); the log says whether rows went ahead.
"""

from __future__ import annotations

import gzip
import logging

import psycopg
import pytest

from ingestd.dataplane import pipeline, rows_ahead
from ingestd.dataplane.contract import CancelToken
from ingestd.dataplane.destinations.postgres.destination import (
    PostgresDestination,
    psycopg_conninfo,
)
from ingestd.dataplane.destinations.postgres.schema import LOCK_SQL, table_lock
from ingestd.dataplane.pipeline import DataPlane
from ingestd.dataplane.readers.decompress import DecompressionLimits
from ingestd.domain.sources import ErrorPolicy, OnError
from ingestd.errors import Canceled, DecompressionLimit, ErrorLimitExceeded

from .harness import (
    PEOPLE,
    PEOPLE_BY_NAME,
    Count,
    Harness,
    cancel_after_the_first_file,
    count_of,
    csv_text,
)

HEADER = ["id", "name", "score"]
PAD = "x" * 40
"""Makes 30,000 rows some 1.5 MB, over ``pipeline.BATCH_FILE_BYTES``."""
AHEAD = "final rows written while staging"


@pytest.fixture(autouse=True)
def small_batches_and_bitmap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rows_ahead, "BATCH_ROWS", 1000)
    monkeypatch.setattr(rows_ahead, "BITMAP_BITS", 1 << 12)


def rows(ids: range, *, name: str = "n") -> list[tuple[object, ...]]:
    return [(i, f"{name}{i % 997}{PAD}", i / 4) for i in ids]


def streamed(harness: Harness, caplog: pytest.LogCaptureFixture) -> bool:
    went = [r for r in caplog.records if AHEAD in r.getMessage()]
    if isinstance(harness.warehouse, PostgresDestination):
        assert went, "the PostgreSQL load wrote while staging"
        return True
    assert not went
    return False


def test_duplicates_across_batches_and_files_are_rejected_as_without_a_stream(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=pipeline.__name__)
    first = rows(range(30_000))
    # A repeat next to its row (one batch), repeats in later batches, then bad rows.
    a = [*first[:7001], first[7000], *first[7001:], *first[100:600]]
    a += [(10**6 + i, "bad", "not a number") for i in range(40)]
    # The second file repeats rows of the first and of itself, and has rows of its own.
    own = rows(range(30_000, 45_000), name="m")
    b = own + first[5_000:6_000] + own[:300]
    path_a = harness.write("a.csv", csv_text(HEADER, a))
    path_b = harness.write("b.csv", csv_text(HEADER, b))
    assert path_a.stat().st_size > pipeline.BATCH_FILE_BYTES

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path_a, path_b)

    [fa, fb] = result.files
    assert count_of(fa.counts) == Count(len(a), 30_000, 0, 501, 40)
    assert count_of(fb.counts) == Count(len(b), 15_000, 0, 1_300, 0)
    loaded = harness.rows(PEOPLE)
    assert len(loaded) == 45_000
    assert sorted(r[0] for r in loaded) == list(range(45_000))
    assert len(harness.quarantine()) == 40
    streamed(harness, caplog)


def test_rows_equal_to_those_of_a_multi_file_read_before_wait(
    harness: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small files are staged by one read of them all, not streamed; a later streamed file's
    rows equal to theirs are duplicates and must not go ahead (with a bitmap of the real size,
    so that only those rows' own bits make them wait)."""
    monkeypatch.setattr(rows_ahead, "BITMAP_BITS", 1 << 27)
    caplog.set_level(logging.INFO, logger=pipeline.__name__)
    small_a, small_b = rows(range(0, 200)), rows(range(200, 400))
    big = small_a[:50] + small_b[-50:] + rows(range(400, 30_400))
    paths = [
        harness.write("a.csv", csv_text(HEADER, small_a)),
        harness.write("b.csv", csv_text(HEADER, small_b)),
        harness.write("c.csv", csv_text(HEADER, big)),
    ]

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, *paths)

    assert [count_of(f.counts) for f in result.files] == [
        Count(200, 200, 0, 0, 0),
        Count(200, 200, 0, 0, 0),
        Count(30_100, 30_000, 0, 100, 0),
    ]
    assert sorted(r[0] for r in harness.rows(PEOPLE)) == list(range(30_400))
    streamed(harness, caplog)


def test_a_read_that_fails_midway_is_read_again_and_loads_the_same(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=rows_ahead.__name__)
    caplog.set_level(logging.INFO, logger=pipeline.__name__)
    # CRLF records, then LF ones far down the file: the strict reader fails after many
    # batches have been sent, and the file is read again with LF ends.
    text = csv_text(HEADER, rows(range(30_000))).replace("\n", "\r\n")
    text += csv_text(None, rows(range(30_000, 30_010))) + csv_text(None, rows(range(5)))
    path = harness.write("mixed.csv", text)

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(30_015, 30_010, 0, 5, 0)
    assert sorted(r[0] for r in harness.rows(PEOPLE)) == list(range(30_010))
    if isinstance(harness.warehouse, PostgresDestination):
        messages = [r.getMessage() for r in caplog.records]
        assert any("given up" in m and "redone" in m for m in messages)
        assert not any(AHEAD in m for m in messages)


def test_a_gzip_bomb_refused_while_rows_go_ahead_is_not_read_again(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The gzip judge interrupts the streaming read: its limit is the error, and the file is
    not read again the ordinary way (which no judge would stop)."""
    caplog.set_level(logging.INFO, logger=rows_ahead.__name__)
    line = b"1,Ann,1.5\n"
    path = harness.root / "bomb.csv.gz"
    path.write_bytes(gzip.compress(b"id,name,score\n" + line * (64 * 1024 * 1024 // len(line))))
    plane = DataPlane(harness.warehouse, harness.root / "bomb-staging", DecompressionLimits())

    with pytest.raises(DecompressionLimit):
        plane.load(harness.request(PEOPLE, PEOPLE_BY_NAME, path))

    messages = [r.getMessage() for r in caplog.records]
    assert not any("redone" in m for m in messages)
    if isinstance(harness.warehouse, PostgresDestination):
        assert any("interrupted" in m for m in messages)
    assert harness.ledger() == []


def test_an_abort_after_rows_went_ahead_commits_nothing_and_frees_the_table(
    harness: Harness,
) -> None:
    kept = harness.write("kept.csv", csv_text(HEADER, rows(range(3))))
    harness.load(PEOPLE, PEOPLE_BY_NAME, kept, key="earlier")
    before, ledger = harness.rows(PEOPLE), harness.ledger()
    bad = [*rows(range(30000)), (99999, "late", "bad")]
    path = harness.write("late.csv", csv_text(HEADER, bad))

    with pytest.raises(ErrorLimitExceeded):
        harness.load(
            PEOPLE, PEOPLE_BY_NAME, path, key="k2", policy=ErrorPolicy(on_error=OnError.ABORT)
        )

    assert harness.rows(PEOPLE) == before
    assert harness.ledger() == ledger
    # The table's lock went with the rollback: the next load writes.
    ok = harness.write("ok.csv", csv_text(HEADER, rows(range(3, 6))))
    again = harness.load(PEOPLE, PEOPLE_BY_NAME, ok, key="k3")
    assert again.counts.inserted == 3


def test_a_cancel_after_rows_went_ahead_commits_nothing(harness: Harness) -> None:
    first = harness.write("a.csv", csv_text(HEADER, rows(range(30_000))))
    second = harness.write("b.csv", csv_text(HEADER, rows(range(30_000, 60_000))))
    token = CancelToken()

    with pytest.raises(Canceled):
        harness.load(
            PEOPLE,
            PEOPLE_BY_NAME,
            first,
            second,
            cancel=token,
            progress=cancel_after_the_first_file(token),
        )

    assert harness.count(PEOPLE) == 0
    assert harness.ledger() == []
    assert harness.quarantine() == []


def test_a_table_another_load_holds_is_written_once_staged(
    harness: Harness, request: pytest.FixtureRequest
) -> None:
    """Loads into one table stage side by side: one that would wait for the table's lock
    does not stream (it waits only to write, as it always did). DuckDB never streams."""
    harness.load(PEOPLE, PEOPLE_BY_NAME, harness.write("0.csv", csv_text(HEADER, rows(range(1)))))
    path = harness.write("a.csv", csv_text(HEADER, rows(range(1, 30_000))))
    load = harness.request(PEOPLE, PEOPLE_BY_NAME, path)
    if not isinstance(harness.warehouse, PostgresDestination):
        with harness.warehouse.row_stream(load) as stream:
            assert stream is None
        return
    with harness.warehouse.row_stream(load) as stream:
        assert stream is not None, "a free table streams"
    url = request.getfixturevalue("fast_postgres_url")
    other = psycopg.connect(psycopg_conninfo(url))
    try:
        other.execute(LOCK_SQL, [table_lock(PEOPLE)])
        with harness.warehouse.row_stream(load) as stream:
            assert stream is None
    finally:
        other.rollback()
        other.close()
    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path, key="k2")
    assert result.counts.inserted == 29_999
