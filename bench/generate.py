"""Write a deterministic events file in every benchmark format.

    python -m bench.generate --rows 5000000 [--formats csv,csv.gz,ndjson,parquet] [--out DIR]

Columns: user_id, event_name, ts (epoch seconds as text), value, meta (a small JSON object: text
in CSV and Parquet, a nested object in NDJSON). ts is text in every format so that the 0.1 % of
rows with ts = 'n/a' exist everywhere and validation does real work; 0.02 % of rows repeat the
row before them exactly, so deduplication does too. DuckDB writes the files from range(), so
generating 5 million rows takes seconds, not minutes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

from bench.dataset import (
    BAD_TS_AT,
    BAD_TS_EVERY,
    DEFAULT_OUT,
    DUPLICATE_EVERY,
    FORMATS,
    Format,
    Manifest,
    data_file,
    manifest_file,
)

_EVENT_NAMES = (
    "page_view",
    "click",
    "add_to_cart",
    "checkout",
    "purchase",
    "signup",
    "login",
    "logout",
    "search",
    "share",
    "video_play",
    "video_pause",
)

_COPY_OPTIONS: dict[Format, str] = {
    "csv": "FORMAT csv, HEADER true",
    "csv.gz": "FORMAT csv, HEADER true, COMPRESSION gzip",
    "ndjson": "FORMAT json",
    "parquet": "FORMAT parquet",
}


def events_sql(rows: int, *, meta_as_json: bool) -> str:
    """The generated rows; every value derives from the row's key k, so duplicates are exact."""
    names = "[" + ", ".join(f"'{n}'" for n in _EVENT_NAMES) + "]"
    meta = (
        '\'{"page":"/p/\' || (k % 997) || \'","ms":\' || (k % 5000) || '
        "',\"ab\":' || CASE WHEN k % 2 = 0 THEN 'true' ELSE 'false' END || '}'"
    )
    if meta_as_json:
        meta = f"CAST({meta} AS JSON)"
    return f"""
        SELECT
            'user_' || (k * 7919 % 1000003) AS user_id,
            {names}[1 + (k * 31 % {len(_EVENT_NAMES)})] AS event_name,
            CASE WHEN k % {BAD_TS_EVERY} = {BAD_TS_AT} THEN 'n/a'
                 ELSE CAST(1704067200 + k AS VARCHAR) END AS ts,
            CASE WHEN k % 10 = 3 THEN NULL ELSE printf('%.2f', (k % 100000) / 100.0) END AS value,
            {meta} AS meta
        FROM (
            SELECT CASE WHEN i % {DUPLICATE_EVERY} = 1 THEN i - 1 ELSE i END AS k
            FROM range({rows}) AS t(i)
        )
    """


def generate(rows: int, formats: tuple[Format, ...], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for fmt in formats:
        path = data_file(out, rows, fmt)
        started = time.perf_counter()
        sql = events_sql(rows, meta_as_json=fmt == "ndjson")
        con.execute(f"COPY ({sql}) TO '{path}' ({_COPY_OPTIONS[fmt]})")
        size = path.stat().st_size / (1 << 20)
        print(f"{path.name}: {size:,.0f} MiB in {time.perf_counter() - started:.1f} s")
    Manifest.for_rows(rows).write(manifest_file(out, rows))


def parse_formats(text: str) -> tuple[Format, ...]:
    chosen = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown format(s) {unknown}; use {', '.join(FORMATS)}")
    return chosen  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--formats", type=parse_formats, default=FORMATS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    generate(args.rows, args.formats, args.out)


if __name__ == "__main__":
    main()
