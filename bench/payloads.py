"""What keeping uploads in the metadata database costs: an upload written through
``KustoUploads`` (64 KiB pieces, as a request body arrives) and staged back to a local file by
a worker, on SQLite and on PostgreSQL, against writing and copying a local file.

    python -m bench.payloads --mib 256 [--postgres postgresql+psycopg://postgres@127.0.0.1/postgres]

PostgreSQL runs in a database of its own (``bench_payloads_<pid>``), dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from ingestd.control.kusto.storage.uploads import KustoUploads
from ingestd.dataplane.readers.staged_payloads import stage_payload
from ingestd.store.database import Store
from ingestd.store.schema import Project

PIECE = 64 << 10


def _pieces(mib: int) -> Iterator[bytes]:
    piece = os.urandom(PIECE)  # incompressible, like a gzipped upload
    for _ in range(mib * (1 << 20) // PIECE):
        yield piece


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _store_case(url: str, mib: int, folder: Path) -> tuple[float, float]:
    store = Store(url)
    store.migrate()
    with store.write() as session:
        session.add(Project(id=1, name="bench"))
    uploads = KustoUploads(store, max_bytes=1 << 40)

    def write() -> None:
        with uploads.writer(1, "bench.csv.gz") as writer:
            for piece in _pieces(mib):
                writer.write(piece)

    def stage() -> None:
        stored = uploads.open(1, "1/bench.csv.gz")
        stage_payload(stored.read, folder / "extract", stored.name)

    try:
        return _timed(write), _timed(stage)
    finally:
        uploads.delete("1/bench.csv.gz")
        store.dispose()


def _file_case(mib: int, folder: Path) -> tuple[float, float]:
    source = folder / "upload.bin"

    def write() -> None:
        with source.open("wb") as out:
            for piece in _pieces(mib):
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())

    def copy() -> None:
        shutil.copyfile(source, folder / "copy.bin")

    return _timed(write), _timed(copy)


@contextmanager
def _postgres_database(admin_url: str) -> Iterator[str]:
    name = f"bench_payloads_{os.getpid()}"
    conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1/postgres")
    args = parser.parse_args()
    results: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results.append(("local file (write+fsync, copy)", *_file_case(args.mib, root)))
        sqlite = root / "metadata.sqlite"
        results.append(("SQLite metadata", *_store_case(f"sqlite:///{sqlite}", args.mib, root)))
        if args.postgres:
            with _postgres_database(args.postgres) as url:
                results.append(("PostgreSQL metadata", *_store_case(url, args.mib, root)))
    print(f"{args.mib} MiB upload, {PIECE >> 10} KiB pieces")
    print(f"{'where':34} {'write s':>8} {'MiB/s':>7} {'stage s':>8} {'MiB/s':>7}")
    for name, write, stage in results:
        print(
            f"{name:34} {write:8.2f} {args.mib / write:7.0f} {stage:8.2f} {args.mib / stage:7.0f}"
        )


if __name__ == "__main__":
    main()
