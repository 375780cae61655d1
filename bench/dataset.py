"""Where the generated events files live and what a correct load of them must count.

Shared by the generator, the parent and the children (some run in the dlt venv): stdlib only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, get_args

Format = Literal["csv", "csv.gz", "ndjson", "parquet"]
FORMATS: tuple[Format, ...] = get_args(Format)

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_OUT = BENCH_DIR / "out"

BAD_TS_EVERY = 1_000
"""Row i with i % BAD_TS_EVERY == BAD_TS_AT has a non-numeric ts (0.1 % invalid rows)."""
BAD_TS_AT = 500
DUPLICATE_EVERY = 5_000
"""Row i with i % DUPLICATE_EVERY == 1 repeats row i - 1 exactly (0.02 % duplicates)."""


def data_file(out: Path, rows: int, fmt: Format) -> Path:
    return out / f"events-{rows}.{fmt}"


def manifest_file(out: Path, rows: int) -> Path:
    return out / f"events-{rows}.manifest.json"


@dataclass(frozen=True)
class Manifest:
    """The counts any correct Events load of the generated file must report."""

    rows: int
    bad_ts: int
    duplicates: int

    @property
    def expected_inserted(self) -> int:
        return self.rows - self.bad_ts - self.duplicates

    @classmethod
    def for_rows(cls, rows: int) -> Manifest:
        bad = len(range(BAD_TS_AT, rows, BAD_TS_EVERY))
        dups = len(range(1, rows, DUPLICATE_EVERY))
        return cls(rows, bad, dups)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> Manifest:
        return cls(**json.loads(path.read_text()))
