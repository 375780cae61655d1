"""dlt pipelines into DuckDB, in the two ways dlt documents for loading files.

- ``arrow``: a resource yielding pyarrow tables read in batches by pyarrow, mapped with Arrow
  compute (rename, drop rows whose ts is not an integer, cast, build ids as JSON text).
- ``dicts``: dlt's default, a resource yielding one Python dict per row, mapped in Python;
  dlt normalizes them to its default file format for DuckDB (INSERT VALUES statements).
- ``dicts-parquet``: the same rows, normalized to Parquet instead (dlt's fastest path for dicts).

Both do less than ingestd: no deduplication (dlt has none for append short of a merge on a key),
no JSON validation, no counts of what was dropped. Runs in bench/.venv-dlt, never in the
product's venv.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
from collections.abc import Iterator
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from bench.job import Job, Outcome

_BATCH_ROWS = 65_536
_NAME_LIMIT = 128


def _pipeline(job: Job) -> Any:
    return dlt.pipeline(
        pipeline_name="bench",
        pipelines_dir=str(job.work / "dlt"),
        destination=dlt.destinations.duckdb(str(job.db)),
        dataset_name="statsig",
    )


def _count(pipeline: Any) -> int:
    with pipeline.sql_client() as client:
        return int(client.execute_sql("SELECT count(*) FROM events")[0][0])


# -- arrow ------------------------------------------------------------------------------------


def _arrow_batches(job: Job) -> Iterator[pa.RecordBatch]:
    path = str(job.source)
    if job.fmt in ("csv", "csv.gz"):
        # All columns as text, like the other approaches; .gz is inflated by pyarrow.
        strings = {c: pa.string() for c in ("user_id", "event_name", "ts", "value", "meta")}
        yield from pa_csv.open_csv(
            path, convert_options=pa_csv.ConvertOptions(column_types=strings)
        )
    elif job.fmt == "ndjson":
        yield from pa_json.open_json(path)
    else:
        yield from pq.ParquetFile(path).iter_batches(batch_size=_BATCH_ROWS)


def _map_batch(batch: pa.RecordBatch) -> pa.Table:
    ts, name = batch.column("ts"), batch.column("event_name")
    keep = pc.and_kleene(
        pc.fill_null(pc.match_substring_regex(ts, r"^-?[0-9]+$"), False),
        pc.fill_null(pc.less_equal(pc.utf8_length(name), _NAME_LIMIT), False),
    )
    rows = batch.filter(keep)
    user = rows.column("user_id")
    return pa.table(
        {
            "unit_id": user,
            "event_name": rows.column("event_name"),
            "timestamp": pc.cast(rows.column("ts"), pa.int64()),
            "ids": pc.binary_join_element_wise('{"userID":"', user, '"}', ""),
            "metadata_object": rows.column("meta"),
            "event_value": rows.column("value"),
        }
    )


def load_arrow(job: Job) -> Outcome:
    @dlt.resource(name="events", write_disposition="append", max_table_nesting=0)
    def events() -> Iterator[pa.Table]:
        for batch in _arrow_batches(job):
            yield _map_batch(batch)

    pipeline = _pipeline(job)
    pipeline.run(events())
    return Outcome(_count(pipeline))


# -- dicts ------------------------------------------------------------------------------------


def _source_rows(job: Job) -> Iterator[dict[str, Any]]:
    path = job.source
    if job.fmt == "parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=_BATCH_ROWS):
            yield from batch.to_pylist()
        return
    opener = gzip.open if job.fmt == "csv.gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        if job.fmt == "ndjson":
            yield from (json.loads(line) for line in handle)
        else:
            yield from csv.DictReader(handle)


def _map_row(row: dict[str, Any]) -> dict[str, Any] | None:
    try:
        ts = int(row["ts"])
    except (TypeError, ValueError):
        return None
    name = row["event_name"]
    if not name or len(name) > _NAME_LIMIT:
        return None
    return {
        "unit_id": row["user_id"],
        "event_name": name,
        "timestamp": ts,
        "ids": {"userID": row["user_id"]},
        "metadata_object": row["meta"],
        "event_value": row["value"] or None,  # csv gives '' where the others give null
    }


def load_dicts(job: Job) -> Outcome:
    return _load_dicts(job, None)


def load_dicts_parquet(job: Job) -> Outcome:
    return _load_dicts(job, "parquet")


def _load_dicts(job: Job, file_format: str | None) -> Outcome:
    consumed = 0

    @dlt.resource(name="events", write_disposition="append", max_table_nesting=0)
    def events() -> Iterator[dict[str, Any]]:
        nonlocal consumed
        for row in itertools.islice(_source_rows(job), job.limit_rows):
            consumed += 1
            mapped = _map_row(row)
            if mapped is not None:
                yield mapped

    pipeline = _pipeline(job)
    pipeline.run(events(), loader_file_format=file_format)
    return Outcome(_count(pipeline), rows_read=consumed)
