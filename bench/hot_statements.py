"""Statements every status request runs (a diagnostic, run by hand): CPU and wall
microseconds per call of the key lookup (``SqlProjects.key_candidates``, and
``Access.authenticate`` around it), of a status page's units query (``_units_by_id``, 10
ids; the database has no such units, so it is the statement's own cost, not its rows') and
of a run read with its units and files (``SqlRuns.run_view``, what a Kusto operation's status
reads; a run of 20 file units).

    .venv/bin/python -m bench.hot_statements [--calls 3000] [--repeat 3]

A fresh PostgreSQL database on the local server (dropped at the end) holds one project and one
key. CPU is this process's (``time.process_time``): the server's Python, the part that bounds
an API process's requests per second. Not a test: timing never decides pass or fail.
"""

from __future__ import annotations

import argparse
import time

from bench.cluster import fresh_database, sqlalchemy_url
from ingestd.control.access import Access, KeyKind, key_prefix
from ingestd.control.catalog import Catalog
from ingestd.control.runs import NewUnit, Runs
from ingestd.domain.file_access import ProjectFiles
from ingestd.domain.retry import RetryPolicy
from ingestd.domain.unit_specs import FileUnitSpec
from ingestd.store import daily_status
from ingestd.store.database import Store
from ingestd.store.projects import SqlProjects
from ingestd.store.runs import SqlRuns
from ingestd.store.secret_box import SecretBox, generate_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with fresh_database("ingestd_statements") as url:
        store = Store(sqlalchemy_url(url), SecretBox([generate_key()]))
        try:
            store.migrate()
            access = Access(store)
            project = access.ensure_project("bench")
            raw = access.create_key("bench", KeyKind.CONSOLE)
            projects = SqlProjects(store)
            prefix = key_prefix(raw)
            catalog = Catalog(store, lambda _p: ProjectFiles(project="bench", roots=()))
            runs = Runs(store, catalog, RetryPolicy(max_attempts=2, base_seconds=2.0))
            units = [
                NewUnit(
                    load_key=f"file:{n}",
                    spec=FileUnitSpec(table="shop.orders", inputs=(f"{n}.csv",), input_names=()),
                )
                for n in range(20)
            ]
            run_id = runs.create_run(project, kind="file", trigger="api", units=units).id
            run_rows = SqlRuns(store)
            for rep in range(args.repeat):
                cpu, wall = time.process_time(), time.perf_counter()
                for _ in range(args.calls):
                    projects.key_candidates(prefix)
                lookup_cpu = (time.process_time() - cpu) / args.calls * 1e6
                lookup_wall = (time.perf_counter() - wall) / args.calls * 1e6
                cpu = time.process_time()
                for _ in range(args.calls):
                    access.authenticate(raw)
                auth_cpu = (time.process_time() - cpu) / args.calls * 1e6
                ids = [f"unit-{n}" for n in range(10)]
                cpu = time.process_time()
                for _ in range(args.calls):
                    with store.read() as session:
                        daily_status._units_by_id(session, project, ids)
                units_cpu = (time.process_time() - cpu) / args.calls * 1e6
                cpu = time.process_time()
                for _ in range(args.calls):
                    run_rows.run_view(project, run_id, history=False)
                run_cpu = (time.process_time() - cpu) / args.calls * 1e6
                print(
                    f"rep {rep}: key_candidates {lookup_cpu:.0f} us CPU ({lookup_wall:.0f} us "
                    f"wall), authenticate {auth_cpu:.0f} us CPU, a page's units "
                    f"{units_cpu:.0f} us CPU, a 20-unit run {run_cpu:.0f} us CPU, per call"
                )
        finally:
            store.dispose()


if __name__ == "__main__":
    main()
