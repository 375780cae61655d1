"""Which front end asked for a run: its dialect origin, kept on the run for filtering.

Triggers (``backfill``, ``scheduled``, ``queued``...) say why a run started; the origin says
through which door the request came, which a trigger alone cannot (a backfill may come from
Statsig, Amperity, the CLI or the native API).
"""

from __future__ import annotations

from enum import StrEnum


class RunOrigin(StrEnum):
    STATSIG = "statsig"
    AMPERITY = "amperity"
    KUSTO = "kusto"
    NATIVE = "native"
    CLI = "cli"
    SCHEDULER = "scheduler"
    DASHBOARD = "dashboard"
