"""A zip of many one-row CSV members, loaded as one unit: time, and the statements per member
(a diagnostic, run by hand; timing never decides a test).

    python -m bench.zip_members --members 5000 [--profile]

Issue #11 reported 89 s for 5,000 members. ``--profile`` prints the cProfile of the load,
sorted by cumulative time, which shows where the time goes (``_Load._sql``: the statements; a
batch of up to 1,000 members that share a header costs a fixed few, see
docs/security/bad-inputs.md).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
import zipfile
from pathlib import Path

from ingestd.dataplane.contract import LoadRequest
from ingestd.dataplane.destinations.duckdb.destination import DuckDBDestination
from ingestd.dataplane.pipeline import DataPlane
from ingestd.domain.mapping import identity_mapping
from ingestd.domain.tables import Column, ColumnType, TableSpec

TABLE = TableSpec(
    "bench",
    "members",
    (Column("id", ColumnType.INT64, nullable=False), Column("name", ColumnType.STRING)),
    project="bench",
)


def archive(path: Path, members: int) -> None:
    with zipfile.ZipFile(path, "w") as out:
        for i in range(members):
            out.writestr(f"m{i:05}.csv", f"id,name\n{i},n{i}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="zip-members-"))
    source = root / "many.zip"
    archive(source, args.members)
    warehouse = DuckDBDestination(root / "w.duckdb", memory_limit="1GB", spill_dir=root / "spill")
    plane = DataPlane(warehouse, root / "staging")
    request = LoadRequest("k", "u", "r", TABLE, identity_mapping(TABLE), (source,), (source.name,))
    profiler = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    result = plane.load(request)
    if profiler is not None:
        profiler.disable()
    elapsed = time.perf_counter() - started
    warehouse.close()
    per_file = {f.counts.read for f in result.files}
    print(
        f"{args.members} members: {elapsed:.1f} s ({elapsed / args.members * 1000:.1f} ms per "
        f"member), {len(result.files)} files, rows read per file {sorted(per_file)}, "
        f"total read {result.counts.read}"
    )
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(20)
        print(text.getvalue())


if __name__ == "__main__":
    main()
