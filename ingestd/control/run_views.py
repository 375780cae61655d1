"""Read models of runs and units, built from the store for every front end.

They are domain values (``domain.run_views``), named here too for the services and front ends
that read runs through ``control``.
"""

from __future__ import annotations

from ingestd.domain.run_views import FileView, HistoryEntry, RunView, UnitView

__all__ = ["FileView", "HistoryEntry", "RunView", "UnitView"]
