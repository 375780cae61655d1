"""Rows known to be final, sent to the destination while the load still stages.

With a destination that opens a ``RowStream`` (PostgreSQL), a file read by a scan of its own is
staged batch by batch instead of by one INSERT: DuckDB's SELECT of the typed, validated, hashed
rows comes as Arrow batches, each batch goes into the stage (the same rows in the same order as
the INSERT would put there) and the batch's rows already known to be final go to the
destination at once, so PostgreSQL parses them while DuckDB reads the rest.

Which rows are known to be final before everything is staged: a row is written unless it is bad
(its ``_err``) or a duplicate, an equal row before it in the load (the first occurrence is kept,
``pipeline._Load._dedupe``). Equal rows hash equally, so a good row whose hash no earlier row
had is no duplicate. The hashes seen are kept as bits of a bitmap (``BITMAP_BITS``, 16 MiB): a
good row whose bit is clear is sent; one whose bit is set (a duplicate, or another hash on the
same bit: about rows / ``BITMAP_BITS`` of them) waits, its position kept. Once everything is
staged and deduplicated as before, the rest of the final rows are those of the files not
streamed and those that waited (``rest_sql``), so what is loaded is exactly what a load without
a stream loads, in one transaction with its quarantine and ledger entry.

What this relies on is the stage's record order, (_file, rowid), which dedupe keeps the first of:
files are staged in order; a streamed file's rows enter the stage in the order its batches are
seen; rows of files staged otherwise (a multi-file read) enter the bitmap once read
(``note_staged``). Anything else abandons the stream (the destination rolls back, and the load
writes once staged, as without one): a read that fails and is redone another way, or a
streamed file whose rowids are not one consecutive run (they are: one cursor stages its
batches one after the other). The pipeline opens no stream where a file's rows may be dropped
after staging (the skip_file policy, the destination's unstorable check), nor for upsert or a
replay.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestd.dataplane.destinations.interface import RowStream
from ingestd.dataplane.memory import BATCH_POOL
from ingestd.domain.names import quote
from ingestd.domain.tables import TableSpec
from ingestd.errors import Canceled

log = logging.getLogger(__name__)

BITMAP_BITS = 1 << 27
"""Bits of the seen-hash bitmap (16 MiB): at 5M rows about 4 % of rows wait to the end, at
20M about 14 %; they are still written, only later."""
BATCH_ROWS = 32_768
"""Rows per staged batch, as the COPY's (``postgres.copy.BATCH_ROWS``)."""


@dataclass(frozen=True)
class RowidSpan:
    """A file's staged rows' rowids: the lowest, the highest, and how many rows."""

    first: int
    last: int
    rows: int

    @property
    def consecutive(self) -> bool:
        return self.last - self.first + 1 == self.rows


class RowsAhead:
    """One load's stream of final rows (see the module docstring)."""

    def __init__(self, stream: RowStream, table: TableSpec, waiting_table: str) -> None:
        """``waiting_table`` names the table (of the staging database, which the caller drops)
        that keeps the waiting rows' positions: in DuckDB, within its memory budget, as 14 %
        of 20M rows would not be in Python."""
        self.stream = stream
        self.columns = [c.name for c in table.columns]
        self.waiting = waiting_table
        self._bits = np.zeros(BITMAP_BITS // 8, dtype=np.uint8)
        self._staged: dict[int, int] = {}
        """Per streamed file, the rows it staged."""
        self.sent = 0
        """Final rows sent while staging."""

    @property
    def active(self) -> bool:
        return self.stream.active

    def abandon(self, why: str) -> None:
        if self.stream.active:
            log.info("writing while staging given up (%s): the load writes once staged", why)
        self.stream.abandon()

    def stage(
        self, cur: duckdb.DuckDBPyConnection, stage: str, select_sql: str, index: int
    ) -> bool:
        """Stage file ``index``'s rows (``select_sql`` yields the stage's columns, by name and
        in order) batch by batch, sending the final ones. False if the read failed: then
        nothing of it is staged, the stream is abandoned and the caller reads the file again
        its own way (which raises or handles the read's error as it always has). The
        destination's errors are raised."""
        staged = 0
        view = f"_batch_{uuid.uuid4().hex[:12]}"
        inserter = cur.cursor()  # the streaming cursor has its result open
        try:
            inserter.execute(f"CREATE TABLE IF NOT EXISTS {self.waiting} (f INTEGER, p BIGINT)")
            try:
                with cur.sql(select_sql).to_arrow_reader(BATCH_ROWS) as reader:
                    for batch in reader:
                        final, held = self._split(batch)
                        _insert(inserter, f"INSERT INTO {stage} SELECT * FROM {view}", view, batch)
                        if held.size:
                            _insert(
                                inserter,
                                f"INSERT INTO {self.waiting} SELECT {index}, p FROM {view}",
                                view,
                                pa.record_batch({"p": held + staged}),
                            )
                        staged += batch.num_rows
                        self.stream.send(final)
                        self.sent += final.num_rows
            except (duckdb.Error, pa.ArrowException, OSError) as exc:
                inserter.execute(f"DELETE FROM {stage} WHERE _file = ?", [index])
                if _interrupted(exc):
                    # A cancel, or a gzip file's judge refusing it (readers/gzip_judge.py,
                    # which turns this into its verdict): never read it again.
                    self.abandon(f"the read of file {index} was interrupted")
                    raise Canceled("the unit was canceled while loading") from exc
                # The read's own error (DuckDB's, or Arrow's wrapping of it): the caller's
                # ordinary read raises it again, or takes its fallback.
                self.abandon(f"the read of file {index} failed and is redone")
                return False
        finally:
            inserter.close()
        self._staged[index] = staged
        return True

    def note_staged(self, cur: duckdb.DuckDBPyConnection, stage: str, indexes: list[int]) -> None:
        """Files staged otherwise (not streamed): their good rows' hashes enter the bitmap, so
        a later row equal to one of them waits."""
        files = ", ".join(str(int(i)) for i in indexes)
        with cur.sql(
            f"SELECT _h FROM {stage} WHERE _file IN ({files}) AND _err IS NULL"
        ).to_arrow_reader(BATCH_ROWS) as reader:
            for batch in reader:
                self._see(batch.column(0).to_numpy())

    def rest_sql(self, spans: dict[int, RowidSpan]) -> str | None:
        """Once all is staged: a condition on the stage's rows that keeps, of the final rows,
        those not sent yet (all of the files not streamed, and the rows that waited). None if
        a streamed file's rowids (``spans``, per file) are not the consecutive run of the rows
        it staged: the stream is abandoned."""
        if not self._staged:
            return "TRUE"  # no file streamed: every final row is still to send
        first: dict[int, int] = {}
        for index, staged in self._staged.items():
            span = spans.get(index)
            if not staged:
                continue
            if span is None or not span.consecutive or span.rows != staged:
                self.abandon(f"the stage's rowids of file {index} are not consecutive")
                return None
            first[index] = span.first
        streamed = ", ".join(str(i) for i in self._staged)
        if not first:
            return f"_file NOT IN ({streamed})"
        base = " ".join(f"WHEN {i} THEN {rowid}" for i, rowid in first.items())
        return (
            f"(_file NOT IN ({streamed}) OR rowid IN "
            f"(SELECT p + CASE f {base} END FROM {self.waiting}))"
        )

    def _split(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, np.ndarray]:
        """The batch's rows to send now (the table's columns), and the positions of its good
        rows that wait."""
        no_error = pc.is_null(batch.column("_err"), memory_pool=BATCH_POOL)
        good = np.flatnonzero(no_error.to_numpy(zero_copy_only=False))
        zero = pa.scalar(0, pa.uint64())
        hashes = pc.coalesce(batch.column("_h"), zero, memory_pool=BATCH_POOL).to_numpy()[good]
        fresh = self._see(hashes)
        final = pc.take(batch, pa.array(good[fresh]), memory_pool=BATCH_POOL).select(self.columns)
        return final, good[~fresh].astype(np.int64)

    def _see(self, hashes: np.ndarray) -> np.ndarray:
        """Mark the hashes seen, in order; for each, whether its bit was clear before it (not
        set by an earlier batch, nor by an earlier hash of this one)."""
        bits = hashes.astype(np.uint64) & np.uint64(BITMAP_BITS - 1)
        byte = (bits >> np.uint64(3)).astype(np.int64)
        mask = np.left_shift(np.uint8(1), (bits & np.uint64(7)).astype(np.uint8))
        clear = (self._bits[byte] & mask) == 0
        first = np.zeros(bits.size, dtype=bool)
        first[np.unique(bits, return_index=True)[1]] = True
        np.bitwise_or.at(self._bits, byte, mask)
        fresh: np.ndarray = clear & first
        return fresh


def _interrupted(exc: BaseException) -> bool:
    """Whether the read stopped because its cursor was interrupted (Arrow's reader reports
    DuckDB's interrupt as an OSError with DuckDB's message)."""
    return isinstance(exc, duckdb.InterruptException) or str(exc).startswith("INTERRUPT Error")


def _insert(
    con: duckdb.DuckDBPyConnection, insert_sql: str, view: str, rows: pa.RecordBatch
) -> None:
    """Run ``insert_sql``, which reads ``rows`` as the view ``view``."""
    con.register(view, rows)
    try:
        con.execute(insert_sql)
    finally:
        con.unregister(view)


def staged_select(select_sql: str, stage_columns: list[tuple[str, str]]) -> str:
    """``select_sql``'s columns cast to the stage's (name, type) by position: the batches then
    carry the stage's names and types (a mapped constant, NULL, would otherwise be Arrow's
    null type, which the COPY's binary encoder does not take)."""
    casts = ", ".join(
        f"CAST(#{i} AS {kind}) AS {quote(name)}" for i, (name, kind) in enumerate(stage_columns, 1)
    )
    return f"SELECT {casts} FROM ({select_sql})"
