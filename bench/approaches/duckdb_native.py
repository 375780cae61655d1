"""The baseline: DuckDB's own readers and one INSERT ... SELECT doing the Events mapping.

Same table shape, memory limit and spill folder as ingestd; bad rows are skipped (TRY_CAST and
lenient readers) and exact duplicates removed with DISTINCT, but nothing is counted or
quarantined: this is the least work that yields the same table.
"""

from __future__ import annotations

import duckdb

from bench.dataset import Format
from bench.job import DAY, LOAD_KEY, Job, Outcome

_COLUMNS = (
    "{'user_id': 'VARCHAR', 'event_name': 'VARCHAR', 'ts': 'VARCHAR', 'value': 'VARCHAR', "
    "'meta': '%s'}"
)
_TABLE = """
CREATE SCHEMA statsig;
CREATE TABLE statsig.events (
    unit_id VARCHAR, event_name VARCHAR, "timestamp" BIGINT, ids JSON, metadata JSON,
    metadata_object JSON, event_value VARCHAR, _ingestd_load_key VARCHAR, _ingestd_day DATE
);
"""


def reader_sql(fmt: Format, path: str) -> str:
    match fmt:
        case "csv" | "csv.gz":
            return (
                f"read_csv('{path}', header = true, auto_detect = false, "
                f"columns = {_COLUMNS % 'VARCHAR'}, store_rejects = true)"
            )
        case "ndjson":
            return (
                f"read_json('{path}', format = 'newline_delimited', "
                f"columns = {_COLUMNS % 'JSON'}, ignore_errors = true)"
            )
        case "parquet":
            return f"read_parquet('{path}')"


def insert_sql(fmt: Format, path: str) -> str:
    return f"""
        INSERT INTO statsig.events
        SELECT DISTINCT
            user_id, event_name, TRY_CAST(ts AS BIGINT), json_object('userID', user_id),
            NULL, CAST(meta AS JSON), value, '{LOAD_KEY}', DATE '{DAY}'
        FROM {reader_sql(fmt, path)}
        WHERE TRY_CAST(ts AS BIGINT) IS NOT NULL
          AND event_name IS NOT NULL AND length(event_name) <= 128
          AND (meta IS NULL OR json_valid(meta))
    """


def load(job: Job) -> Outcome:
    con = duckdb.connect(str(job.db))
    try:
        con.execute(f"SET memory_limit = '{job.memory_limit}'")
        con.execute(f"SET temp_directory = '{job.work / 'spill'}'")
        con.execute(_TABLE)
        con.execute(insert_sql(job.fmt, str(job.source)))
        row = con.execute("SELECT count(*) FROM statsig.events").fetchone()
    finally:
        con.close()
    assert row is not None
    return Outcome(int(row[0]))
