"""SQL of runs and their units: creating a run with its units in one transaction, opening the
transactions that move units (``unit_states.UnitMoves``), and reading runs back as views.

``RunRepository`` is what ``control.runs`` types against; ``SqlRuns`` keeps it in the metadata
database. What a run is made of and every state move are control's decisions; this module
writes and reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, cast

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from ingestd.domain.origins import RunOrigin
from ingestd.domain.run_views import (
    HistoryEntry,
    RunEventRow,
    RunView,
    UnitFileRow,
    UnitRow,
    UnitView,
)
from ingestd.domain.states import RunState, UnitState
from ingestd.domain.unit_specs import UnitSpec
from ingestd.store.daily_status import UnitDay, record_newest
from ingestd.store.database import Store
from ingestd.store.run_counts import count_new_run
from ingestd.store.run_lists import UNIT_VIEW_COLUMNS, history_of, runs_page, units_of
from ingestd.store.run_search import FILE_VIEW_COLUMNS
from ingestd.store.schema import Run, StatusEvent, Unit, UnitFile
from ingestd.store.transaction import Transaction
from ingestd.store.unit_states import UnitMoves


@dataclass(frozen=True)
class NewRun:
    """A run to create, as control decided it."""

    id: str
    project_id: int
    trigger: str
    kind: str
    state: RunState
    days: list[str]
    source_names: list[str]
    idempotency_key: str | None
    request: dict[str, Any]
    """The request the run was made for, kept as JSON to show back (``RunView.request``)."""
    origin: RunOrigin | None
    created_at: datetime
    ended_at: datetime | None
    """Set for a run with no units: it has ended as it is created."""


@dataclass(frozen=True)
class PlannedUnit:
    """A unit to create in a new run (enqueued, at the run's creation time)."""

    id: str
    load_key: str
    spec: UnitSpec
    source_id: int | None
    source_name: str | None
    day: date | None
    blob_url: str | None
    blob_source_id: str | None
    max_attempts: int


class RunRepository(Protocol):
    def create(
        self,
        run: NewRun,
        units: Sequence[PlannedUnit],
        then: Callable[[Transaction], None] | None = None,
    ) -> bool: ...
    def moves(self) -> AbstractContextManager[UnitMoves]: ...
    def record_progress(self, unit_id: str, rows_read: int) -> None: ...
    def run_id_by_key(self, project_id: int, key: str) -> str | None: ...
    def run_view(self, project_id: int, run_id: str, *, history: bool) -> RunView | None: ...
    def run_ids_starting(self, project_id: int, prefix: str, limit: int) -> list[str]: ...
    def page(
        self,
        project_id: int,
        *,
        kind: str | None,
        origin: RunOrigin | None,
        limit: int,
        offset: int,
        history: bool,
    ) -> tuple[list[RunView], int]: ...


_RUN_UNITS = (
    select(*UNIT_VIEW_COLUMNS).where(Unit.run_id == bindparam("run_id")).order_by(Unit.position)
)
_RUN_FILES = (
    select(*FILE_VIEW_COLUMNS)
    .join(Unit, Unit.id == UnitFile.unit_id)
    .where(Unit.run_id == bindparam("run_id"))
)


class SqlRuns:
    """``RunRepository`` in the metadata database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- writing ------------------------------------------------------------------------------

    def create(
        self,
        run: NewRun,
        units: Sequence[PlannedUnit],
        then: Callable[[Transaction], None] | None = None,
    ) -> bool:
        """Create the run, its units, their history and the daily status cells they now decide
        in one transaction, with ``then`` done in it before it commits. False: a run with the
        same idempotency key committed first (the unique constraint lets one win)."""
        try:
            with self.store.write() as session:
                session.add(
                    Run(
                        id=run.id,
                        project_id=run.project_id,
                        trigger=run.trigger,
                        kind=run.kind,
                        state=run.state.value,
                        days=run.days,
                        source_names=run.source_names,
                        idempotency_key=run.idempotency_key,
                        request=run.request,
                        origin=run.origin.value if run.origin is not None else None,
                        created_at=run.created_at,
                        updated_at=run.created_at,
                        ended_at=run.ended_at,
                    )
                )
                now = run.created_at
                session.add(StatusEvent(run_id=run.id, state=RunState.ENQUEUED.value, at=now))
                session.flush()
                newest: list[UnitDay] = []
                for position, new in enumerate(units):
                    if new.source_name is not None and new.day is not None:
                        newest.append(
                            UnitDay(run.project_id, new.source_name, new.day, new.id, now, position)
                        )
                    session.add(
                        Unit(
                            id=new.id,
                            run_id=run.id,
                            project_id=run.project_id,
                            position=position,
                            source_id=new.source_id,
                            source_name=new.source_name,
                            day=new.day,
                            blob_url=new.blob_url,
                            blob_source_id=new.blob_source_id,
                            table_name=new.spec.table,
                            load_key=new.load_key,
                            spec=new.spec.to_json(),
                            state=UnitState.ENQUEUED.value,
                            max_attempts=new.max_attempts,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    session.add(
                        StatusEvent(
                            run_id=run.id, unit_id=new.id, state=UnitState.ENQUEUED.value, at=now
                        )
                    )
                session.flush()
                record_newest(session, newest)
                if then is not None:
                    then(Transaction(session))
                # Last: the count row stays locked only until the commit (store/run_counts.py).
                count_new_run(
                    session,
                    run.project_id,
                    run.kind,
                    run.origin.value if run.origin is not None else None,
                )
        except IntegrityError:
            if run.idempotency_key is None:
                raise
            return False
        return True

    @contextmanager
    def moves(self) -> Iterator[UnitMoves]:
        """One write transaction to move units in: it commits when the block ends, and rolls
        back if it raises."""
        with self.store.write() as session:
            yield UnitMoves(Transaction(session))

    def record_progress(self, unit_id: str, rows_read: int) -> None:
        with self.store.write() as session:
            session.execute(update(Unit).where(Unit.id == unit_id).values(read=rows_read))

    # -- reading ------------------------------------------------------------------------------

    def run_id_by_key(self, project_id: int, key: str) -> str | None:
        """The id of the project's run made with idempotency key ``key``, if there is one."""
        with self.store.read() as session:
            return session.scalar(
                select(Run.id).where(Run.project_id == project_id, Run.idempotency_key == key)
            )

    def run_view(self, project_id: int, run_id: str, *, history: bool) -> RunView | None:
        """The project's run with its units and their files (and, with ``history``, every
        status change); None if the project has no such run."""
        with self.store.read() as session:
            run = session.get(Run, run_id)
            if run is None or run.project_id != project_id:
                return None
            # Rows of the views' columns from statements built once (a Kusto status poll runs
            # these): no ORM unit, file or statement is built per call.
            units = cast(list[UnitRow], session.execute(_RUN_UNITS, {"run_id": run_id}).all())
            by_unit: dict[str, list[UnitFileRow]] = {}
            for f in session.execute(_RUN_FILES, {"run_id": run_id}):
                by_unit.setdefault(f.unit_id, []).append(cast(UnitFileRow, f))
            view = RunView.of(run, [UnitView.of(u, by_unit.get(u.id)) for u in units])
            if history:
                events = session.scalars(
                    select(StatusEvent)
                    .where(StatusEvent.run_id == run_id)
                    .order_by(StatusEvent.at, StatusEvent.id)
                ).all()
                _add_history([view], events)
            return view

    def run_ids_starting(self, project_id: int, prefix: str, limit: int) -> list[str]:
        """Ids of the project's runs that start with ``prefix``, newest run first."""
        with self.store.read() as session:
            return list(
                session.scalars(
                    select(Run.id)
                    .where(
                        Run.project_id == project_id,
                        func.substr(Run.id, 1, len(prefix)) == prefix,
                    )
                    .order_by(Run.created_at.desc(), Run.id)
                    .limit(limit)
                )
            )

    def page(
        self,
        project_id: int,
        *,
        kind: str | None,
        origin: RunOrigin | None,
        limit: int,
        offset: int,
        history: bool,
    ) -> tuple[list[RunView], int]:
        """A page of the project's runs newest first, with their units (and, with ``history``,
        every status change), and the total count: three queries whatever the page size."""
        with self.store.read() as session:
            runs, total = runs_page(
                session,
                project_id,
                kind=kind,
                origin=origin.value if origin is not None else None,
                limit=limit,
                offset=offset,
            )
            run_ids = [r.id for r in runs]
            units = units_of(session, run_ids)
            events = history_of(session, run_ids) if history else []
        by_run: dict[str, list[UnitView]] = {}
        for unit in units:
            by_run.setdefault(unit.run_id, []).append(UnitView.of(unit))
        views = [RunView.of(r, by_run.get(r.id, [])) for r in runs]
        if history:
            _add_history(views, events)
        return views, total


def _add_history(views: Sequence[RunView], events: Sequence[RunEventRow]) -> None:
    """Give each run and unit its status changes (``events`` oldest first)."""
    by_unit = {u.id: u for view in views for u in view.units}
    by_run = {view.id: view for view in views}
    for event in events:
        entry = HistoryEntry.of(event)
        if event.unit_id is None:
            by_run[event.run_id].history.append(entry)
        elif event.unit_id in by_unit:
            by_unit[event.unit_id].history.append(entry)
