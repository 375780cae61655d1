"""What the metadata database says about units at one moment: the typed values behind
``/metrics`` (``observability.metrics`` renders them; ``store.unit_metrics`` computes them).

Pure: no I/O, no third-party imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ingestd.domain.states import UnitState

UNIT_DURATION_BUCKETS: tuple[float, ...] = (
    0.1,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
    7200.0,
)
"""Upper bounds (seconds) of ``ingestd_unit_duration_seconds``; ``+Inf`` is implied. A unit
lasts from its first claim to its end, retries and their backoff included."""


@dataclass(frozen=True)
class TableRows:
    """Row counts of every succeeded unit of one project's table (DESIGN "Row accounting")."""

    project: str
    table: str
    read: int
    inserted: int
    updated: int
    rejected: int
    errors: int


@dataclass(frozen=True)
class DurationSummary:
    """Durations of the units that ended in ``state``, bucketed cumulatively."""

    state: UnitState
    bucket_counts: tuple[int, ...]
    """Units lasting at most ``UNIT_DURATION_BUCKETS[i]`` seconds (same length)."""
    count: int
    sum_seconds: float


@dataclass(frozen=True)
class UnitMetrics:
    """A look at the units of every project, as the metadata database holds them."""

    rows: tuple[TableRows, ...]
    units_reached: Mapping[UnitState, int]
    """Units that have ever entered each state (from the append-only history): monotonic."""
    units_now: Mapping[UnitState, int]
    """Units currently in each state."""
    in_flight: int
    """Units a worker holds now (started, downloading or loading)."""
    queue_depth: int
    """Units ready to be claimed: enqueued, or retrying whose backoff has passed."""
    oldest_lease_age_seconds: float
    """Seconds since the stalest live claim was granted or last renewed; 0 when none."""
    durations: tuple[DurationSummary, ...]
