"""Finding runs by time window, state and kind, with what each unit loaded from which source.

``Runs`` reads one run or the newest runs; the dialects that list runs by window (Amperity's
ingest jobs and workflows) need more: windows on creation, start and end, filters on the stored
run state, pagination, and the source id of each unit (a feed id survives a source's rename).
Read-only; the queries are ``store.run_search``'s.
"""

from __future__ import annotations

from datetime import datetime

from ingestd.domain.paging import RunCursor
from ingestd.errors import NotFound
from ingestd.store.database import Store
from ingestd.store.run_search import (
    RunFilter,
    RunPage,
    RunQuery,
    RunRecord,
    RunSearchRepository,
    SqlRunSearch,
    Window,
)

__all__ = ["RunFilter", "RunPage", "RunQuery", "RunRecord", "RunSearch", "Window"]


class RunSearch:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.runs: RunSearchRepository = SqlRunSearch(store)

    def get(self, project_id: int, run_id: str) -> RunRecord:
        """One run of the project, with its units' files; ``NotFound`` otherwise."""
        found = self.runs.run(project_id, run_id)
        if found is None:
            raise NotFound(f"run {run_id} does not exist")
        return found

    def started_between(self, project_id: int, start: datetime, end: datetime) -> list[RunRecord]:
        """Every run whose job started in ``[start, end)`` (its earliest feed's start, §5 item
        14), latest start first (ties by id, descending), with units' files."""
        return self.runs.started_between(project_id, start, end)

    def page(
        self, project_id: int, where: RunFilter, *, limit: int, offset: int
    ) -> tuple[list[RunRecord], int]:
        """Runs matching ``where``, newest first: one page (without files) and the total."""
        return self.runs.filtered_page(project_id, where, limit=limit, offset=offset)

    def count(self, project_id: int, query: RunQuery) -> int:
        """How many of the project's runs match ``query`` (the total every page reports)."""
        return self.runs.count(project_id, query)

    def search(
        self, project_id: int, query: RunQuery, *, limit: int, after: RunCursor | None = None
    ) -> RunPage:
        """Runs matching ``query``, newest first (ties by id), one page of at most ``limit``
        after ``after`` (keyset pagination: pages stay stable while runs are added)."""
        return self.runs.search(project_id, query, limit=limit, after=after)
