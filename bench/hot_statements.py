"""Statements every status request runs (a diagnostic, run by hand): CPU and wall
microseconds per call of the key lookup (``SqlProjects.key_candidates``, and
``Access.authenticate`` around it) and of a status page's units query (``_units_by_id``, 10
ids; the database has no units, so it is the statement's own cost, not its rows').

    .venv/bin/python -m bench.hot_statements [--calls 3000] [--repeat 3]

A fresh PostgreSQL database on the local server (dropped at the end) holds one project and one
key. CPU is this process's (``time.process_time``): the server's Python, the part that bounds
an API process's requests per second. Not a test: timing never decides pass or fail.
"""

from __future__ import annotations

import argparse
import time

from bench.many_sources import fresh_database
from ingestd.control.access import Access, KeyKind, key_prefix
from ingestd.store import daily_status
from ingestd.store.database import Store
from ingestd.store.projects import SqlProjects
from ingestd.store.secret_box import SecretBox, generate_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with fresh_database() as url:
        store = Store(url, SecretBox([generate_key()]))
        try:
            store.migrate()
            access = Access(store)
            project = access.ensure_project("bench")
            raw = access.create_key("bench", KeyKind.CONSOLE)
            projects = SqlProjects(store)
            prefix = key_prefix(raw)
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
                print(
                    f"rep {rep}: key_candidates {lookup_cpu:.0f} us CPU ({lookup_wall:.0f} us "
                    f"wall), authenticate {auth_cpu:.0f} us CPU, a page's units "
                    f"{units_cpu:.0f} us CPU, per call"
                )
        finally:
            store.dispose()


if __name__ == "__main__":
    main()
