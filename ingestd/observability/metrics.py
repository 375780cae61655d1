"""Prometheus metrics of one ingestd process (docs/operations.md lists them).

Two kinds, chosen for the several-processes case (``ingestd serve`` plus any number of worker
processes, INGESTD_EXECUTOR=celery):

* Units and rows are read from the metadata database at scrape time by ``UnitCollector``, so
  every process that is scraped reports the same, exact numbers, and a worker needs no
  metrics port of its own. (prometheus_client's multiprocess mode would need a directory
  shared by every process, which DESIGN.md rules out: no process assumes another's disk.)
* HTTP requests are counted in the memory of the serve process that answered them
  (``HttpMetrics``); scrape every serve process and sum, as for any HTTP server. The API
  processes of one serve (INGESTD_API_PROCESSES > 1) share its port, so a scrape reaches any
  one of them: they count in prometheus_client's multiprocess files instead, in a directory
  of the serve's own (``metrics_dir``), and every one of them reports the sum.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ingestd.domain.clock import Clock
from ingestd.domain.states import UnitState
from ingestd.domain.unit_metrics import UNIT_DURATION_BUCKETS, UnitMetrics
from ingestd.observability.metrics_dir import multiprocess_dir
from ingestd.store.database import Store
from ingestd.store.unit_metrics import unit_metrics

HTTP_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OUTCOMES = ("read", "inserted", "updated", "rejected", "errors")


class UnitCollector(Collector):
    """Unit and row metrics computed from the metadata database on each scrape."""

    def __init__(self, store: Store, clock: Clock, lease_seconds: float) -> None:
        self.store = store
        self.clock = clock
        self.lease_seconds = lease_seconds

    def collect(self) -> Iterator[Metric]:
        yield from render(
            unit_metrics(self.store, now=self.clock(), lease_seconds=self.lease_seconds)
        )


def render(snapshot: UnitMetrics) -> Iterator[Metric]:
    """The metric families of one ``UnitMetrics``."""
    rows = CounterMetricFamily(
        "ingestd_rows",
        "Rows of succeeded units by project, table and outcome "
        "(read = inserted + updated + rejected + errors).",
        labels=["project", "table", "outcome"],
    )
    for table in snapshot.rows:
        for outcome in OUTCOMES:
            rows.add_metric([table.project, table.table, outcome], getattr(table, outcome))
    yield rows

    reached = CounterMetricFamily(
        "ingestd_units",
        "Units that have entered each state (each unit counted once per state).",
        labels=["state"],
    )
    current = GaugeMetricFamily(
        "ingestd_units_current", "Units in each state now.", labels=["state"]
    )
    for state in UnitState:
        reached.add_metric([state.value], snapshot.units_reached.get(state, 0))
        current.add_metric([state.value], snapshot.units_now.get(state, 0))
    yield reached
    yield current

    yield GaugeMetricFamily(
        "ingestd_units_in_flight",
        "Units a worker holds now (started, downloading or loading).",
        value=snapshot.in_flight,
    )
    yield GaugeMetricFamily(
        "ingestd_queue_depth",
        "Units ready to be claimed: enqueued, or retrying with their backoff passed.",
        value=snapshot.queue_depth,
    )
    yield GaugeMetricFamily(
        "ingestd_oldest_lease_age_seconds",
        "Seconds since the stalest claim on a unit was granted or renewed (0: none). Past "
        "INGESTD_LEASE_SECONDS its worker is gone and the unit waits to be picked up again.",
        value=snapshot.oldest_lease_age_seconds,
    )

    durations = HistogramMetricFamily(
        "ingestd_unit_duration_seconds",
        "Seconds from a unit's first claim to its end (retries included), by final state.",
        labels=["state"],
    )
    for summary in snapshot.durations:
        buckets = [
            (_le(bound), float(n))
            for bound, n in zip(UNIT_DURATION_BUCKETS, summary.bucket_counts, strict=True)
        ]
        buckets.append(("+Inf", float(summary.count)))
        durations.add_metric([summary.state.value], buckets, summary.sum_seconds)
    yield durations


def _le(bound: float) -> str:
    # The exposition format's canonical float text (prometheus_client writes 1.0, not 1).
    return repr(float(bound))


@dataclass(frozen=True)
class HttpMetrics:
    """Requests this process answered, by dialect and status, and their durations."""

    requests: Counter
    duration: Histogram

    def observe(self, dialect: str, status: int, seconds: float) -> None:
        self.requests.labels(dialect=dialect, status=str(status)).inc()
        self.duration.labels(dialect=dialect).observe(seconds)


@dataclass(frozen=True)
class Metrics:
    """The registry ``/metrics`` exposes: the unit collector and this process's HTTP metrics."""

    registry: CollectorRegistry
    http: HttpMetrics

    @classmethod
    def build(cls, store: Store, clock: Clock, lease_seconds: float) -> Metrics:
        # A registry per app, not prometheus_client's global one: two apps in one process
        # (tests, embedded use) never share or double-register metrics.
        registry = CollectorRegistry()
        registry.register(UnitCollector(store, clock, lease_seconds))
        shared = multiprocess_dir()
        # Shared: the counters write to the directory's files (registered nowhere we
        # expose) and the exposition reads every process's files back, summed.
        counted_in = CollectorRegistry() if shared is not None else registry
        if shared is not None:
            MultiProcessCollector(registry, path=str(shared))  # type: ignore[no-untyped-call]
        http = HttpMetrics(
            Counter(
                "ingestd_http_requests",
                "HTTP requests answered by this process, by API dialect and status code.",
                ["dialect", "status"],
                registry=counted_in,
            ),
            Histogram(
                "ingestd_http_request_duration_seconds",
                "Seconds this process took to answer HTTP requests, by API dialect.",
                ["dialect"],
                buckets=HTTP_DURATION_BUCKETS,
                registry=counted_in,
            ),
        )
        return cls(registry, http)

    content_type = CONTENT_TYPE_PLAIN_0_0_4
    """What ``exposition()`` is: the classic text format every Prometheus scrapes."""

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
