"""Runs over many sources (a diagnostic, run by hand): how long the server spends listing a
project's sources and creating a run with a unit per source.

    .venv/bin/python -m bench.many_sources [--sources 1000] [--repeat 3]

A fresh PostgreSQL database on the local server holds the metadata (dropped at the end): one
project, one table, one file connection, ``--sources`` sources of that table. Each repetition
times ``Catalog.list_sources`` and ``Runs.start_source_run`` over every source for a new day,
in this process. A scheduled run of a dataset does both (docs/performance.md, "Status APIs at
scale"). Not a test: timing never decides pass or fail.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.cluster import fresh_database, sqlalchemy_url
from ingestd.control.access import Access
from ingestd.control.catalog import Catalog
from ingestd.control.runs import Runs
from ingestd.domain.connections import connection_body
from ingestd.domain.file_access import ProjectFiles
from ingestd.domain.retry import RetryPolicy
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.store.database import Store
from ingestd.store.secret_box import SecretBox, generate_key

FIRST_DAY = date(2026, 1, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with (
        fresh_database("ingestd_sources") as libpq_url,
        tempfile.TemporaryDirectory() as scratch,
    ):
        url = sqlalchemy_url(libpq_url)
        root = Path(scratch)
        store = Store(url, SecretBox([generate_key()]))
        try:
            store.migrate()
            project = Access(store).ensure_project("bench")
            catalog = Catalog(store, lambda _p: ProjectFiles(project="bench", roots=(root,)))
            catalog.create_table(
                project, TableSpec("shop", "orders", (Column("id", ColumnType.INT64),))
            )
            catalog.create_connection(project, "in", connection_body("file", {"root": scratch}))
            names = [f"s{n:05d}" for n in range(args.sources)]
            for name in names:
                catalog.create_source(
                    project, name=name, table="shop.orders", connection="in", path_template="x"
                )
            runs = Runs(store, catalog, RetryPolicy(max_attempts=2, base_seconds=2.0))
            print(f"{args.sources:,} sources of one table, PostgreSQL metadata")
            for rep in range(args.repeat):
                started = time.perf_counter()
                listed = catalog.list_sources(project)
                listing = time.perf_counter() - started
                started = time.perf_counter()
                run = runs.start_source_run(
                    project, names, [FIRST_DAY + timedelta(days=rep)], trigger="api"
                )
                starting = time.perf_counter() - started
                assert len(listed) == args.sources and len(run.units) == args.sources
                print(
                    f"rep {rep}: list_sources {listing * 1000:,.0f} ms, "
                    f"start_source_run {starting * 1000:,.0f} ms"
                )
        finally:
            store.dispose()


if __name__ == "__main__":
    main()
