"""Core views to Statsig wire shapes: ingestions, runs with history, daily statuses, pages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from ingestd.control.catalog import ConnectionView, SourceView
from ingestd.control.daily_status import DayStatus
from ingestd.control.run_views import HistoryEntry, RunView, UnitView
from ingestd.control.statsig.data_checks import EventDelta
from ingestd.control.statsig.datasets import EventCount
from ingestd.domain.projections import (
    STATSIG_DAILY_STATUSES,
    statsig_daily_status,
    statsig_run_status,
)
from ingestd.domain.states import TERMINAL_UNIT_STATES, UnitState
from ingestd.errors import InvalidInput

MAX_LIMIT = 100
MAX_PAGE = 1_000_000
"""Pages past this are refused (400): an offset beyond it is no real page, and past 2**63 it
overflows the metadata store's integers (a 500 before this bound)."""
MAX_RANGE_DAYS = 366


def timestamp(value: datetime | None) -> str | None:
    """ISO-8601 with milliseconds and Z (§1.1)."""
    if value is None:
        return None
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def check_page(page: int, limit: int) -> tuple[int, int]:
    if page < 1:
        raise InvalidInput("page must be 1 or more")
    if page > MAX_PAGE:
        raise InvalidInput(f"page must be at most {MAX_PAGE}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    return page, limit


def pagination(request: Request, page: int, limit: int, total: int) -> dict[str, Any]:
    """Relative next/previous links that keep the original query string (§1.1)."""

    def link(number: int) -> str:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        params.append(("page", str(number)))
        return f"{request.url.path}?{urlencode(params)}"

    last = max(1, -(-total // limit))
    return {
        "itemsPerPage": limit,
        "pageNumber": page,
        "nextPage": link(page + 1) if page < last else None,
        "previousPage": link(page - 1) if page > 1 else None,
        "totalItems": total,
        "all": request.url.path,
    }


def parse_range(start: str, end: str) -> tuple[date, date]:
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise InvalidInput("start_date and end_date must be YYYY-MM-DD") from None
    if last < first:
        raise InvalidInput("end_date is before start_date")
    if (last - first).days > MAX_RANGE_DAYS:
        raise InvalidInput(f"the range covers more than {MAX_RANGE_DAYS} days")
    return first, last


def connection(view: ConnectionView) -> dict[str, Any]:
    """IngestionDto of a connection: settings only, never a secret."""
    data = dict(view.config)
    if view.has_secrets:
        data["secrets"] = "[redacted]"
    return {"id": f"connection-{view.id}", "type": view.name, "enabled": True, "data": data}


def ingestion(source: SourceView, connection_type: str) -> dict[str, Any]:
    """IngestionDto (§1.4 #1): the stored source definition."""
    return {
        "id": str(source.id),
        "type": connection_type,
        "enabled": source.enabled,
        "data": {
            "dataset": source.dataset,
            "source_name": source.name,
            "query": source.query if source.query is not None else source.path_template,
            "column_mapping": source.column_mapping,
            "api_triggered": source.api_triggered,
        },
    }


def _projected(history: Iterable[HistoryEntry]) -> list[dict[str, Any]]:
    """Unit history in the run vocabulary, repeats folded, newest first."""
    out: list[dict[str, Any]] = []
    for entry in history:
        status = statsig_run_status(UnitState(entry.state))
        if out and out[-1]["status"] == status:
            continue
        out.append({"statusTimestamp": timestamp(entry.at), "status": status})
    return list(reversed(out))


def _run_level(states: Counter[UnitState], units: int) -> str:
    """The run's status from how many of its ``units`` are in each state (counts, not the
    list: ``_run_history`` asks after every one of a run's events, and a run of 500 units
    has thousands)."""
    if states[UnitState.ENQUEUED] == units:
        return "enqueued"
    if sum(states[s] for s in TERMINAL_UNIT_STATES) == units:
        if states[UnitState.FAILED]:
            return "download_error"
        if states[UnitState.CANCELED] == units:
            return "canceled"
        return "download_complete"
    if states[UnitState.DOWNLOADING] or states[UnitState.LOADING]:
        return "download_started"
    return "started"


def _run_history(run: RunView) -> list[dict[str, Any]]:
    """Run-level statuses as the units move (§5 item 13), newest first."""
    current = {u.id: UnitState.ENQUEUED for u in run.units}
    counts = Counter(current.values())
    events = sorted(
        ((h.at, u.id, UnitState(h.state)) for u in run.units for h in u.history),
        key=lambda e: e[0],
    )
    out = [{"statusTimestamp": timestamp(run.created_at), "status": "enqueued"}]
    for at, unit_id, state in events:
        counts[current[unit_id]] -= 1
        counts[state] += 1
        current[unit_id] = state
        status = _run_level(counts, len(current))
        if status != out[-1]["status"]:
            out.append({"statusTimestamp": timestamp(at), "status": status})
    return list(reversed(out))


def run(view: RunView) -> dict[str, Any]:
    """IngestionRunDataContractDto (§1.4 #10)."""
    history = _run_history(view)
    granular = []
    by_source: dict[str | None, list[UnitView]] = {}
    for unit in view.units:
        by_source.setdefault(unit.source_name, []).append(unit)
    for source in view.sources:
        units = by_source.get(source, [])
        dated = [
            (u.day.isoformat() if u.day else "", _projected(u.history))
            for u in sorted(units, key=lambda u: u.day or date.min, reverse=True)
        ]
        latest = [statuses[0] for _, statuses in dated if statuses]
        newest = max(latest, key=lambda s: str(s["statusTimestamp"]), default=None)
        by_date = [{"dateStamp": day, "statuses": statuses} for day, statuses in dated]
        granular.append(
            {
                "source": source,
                "latestSourceStatus": newest["status"] if newest else "enqueued",
                "statusByDate": by_date,
            }
        )
    return {
        "runID": view.id,
        "latestStatus": history[0]["status"],
        "lastUpdatedAt": history[0]["statusTimestamp"],
        "createdAt": timestamp(view.created_at),
        "trigger": view.trigger,
        "sources": view.sources,
        "dateStamps": view.days,
        "runHistory": history,
        "granularHistory": granular,
    }


def daily_status(row: DayStatus) -> dict[str, Any]:
    """IngestionStatusDto (§1.4 #13) for the newest unit of a source and day."""
    unit, trigger = row.unit, row.trigger
    dataset = row.dataset or ""
    rows = unit.counts.inserted + unit.counts.updated
    status = statsig_daily_status(
        unit.state, trigger=trigger, rows_loaded=rows, error_code=unit.error_code, dataset=dataset
    )
    if unit.state is UnitState.FAILED:
        message = f"Your job for {dataset} ingestion failed"
    elif unit.state in TERMINAL_UNIT_STATES:
        message = f"Your job for {dataset} ingestion completed successfully"
        if rows == 0 and unit.state is not UnitState.CANCELED:
            message += ", but no data was detected"
    else:
        message = f"Your job for {dataset} ingestion is in progress"
    out: dict[str, Any] = {
        "ds": f"{unit.day.isoformat()}T00:00:00.000Z" if unit.day else None,
        "ingestion_dataset": dataset,
        "ingestion_source": row.connection,
        "source_name": row.source,
        "message": message,
        "status": status,
        "rowCount": rows,
        "timestamp": timestamp(unit.updated_at),
    }
    if unit.error_code:
        out["error_message"] = f"{unit.error_code}: {unit.error_message}"
    return out


def status_filter(status: str | None, statuses: list[str]) -> set[str]:
    """``status`` and ``statuses`` OR-ed; repeated or comma-separated (§1.4 #13)."""
    wanted = {s for item in statuses for s in item.split(",") if s}
    if status:
        wanted.add(status)
    unknown = wanted - set(STATSIG_DAILY_STATUSES)
    if unknown:
        raise InvalidInput(f"unknown status {sorted(unknown)}")
    return wanted


def _days(start: date, end: date) -> list[date]:
    return [date.fromordinal(n) for n in range(start.toordinal(), end.toordinal() + 1)]


def event_counts(
    counts: list[EventCount], event: str | None, start: date, end: date
) -> list[dict[str, Any]]:
    """Flat when one event is asked for, grouped by date otherwise (§1.4 #7 [I]).

    The vendor's ``oneOf`` makes an empty array ambiguous (it matches both shapes), so an empty
    answer is given in the grouped shape: every day of the range with an empty ``events``.
    """
    if event is not None and counts:
        return [
            {
                "date": c.day.isoformat(),
                "event": c.event,
                "count": c.count,
                "last_updated_time": timestamp(c.last_updated),
            }
            for c in counts
        ]
    grouped: dict[date, list[dict[str, Any]]] = {day: [] for day in _days(start, end)}
    for c in counts:
        grouped.setdefault(c.day, []).append(
            {"event": c.event, "count": c.count, "last_updated_time": timestamp(c.last_updated)}
        )
    return [{"date": d.isoformat(), "events": events} for d, events in sorted(grouped.items())]


def event_deltas(
    deltas: list[EventDelta], event: str | None, start: date, end: date
) -> list[dict[str, Any]]:
    """Like ``event_counts``: flat for one event with results, else grouped by every day."""

    def item(d: EventDelta, with_date: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"date": d.day.isoformat()} if with_date else {}
        out.update(
            {
                "source": d.source,
                "event": d.event,
                "internal_count": d.internal,
                "external_count": d.external,
                "has_diff": d.has_diff,
                "threshold": d.threshold,
                "last_updated_time": timestamp(d.last_updated),
            }
        )
        return out

    if event is not None and deltas:
        return [item(d, True) for d in deltas]
    grouped: dict[date, list[dict[str, Any]]] = {day: [] for day in _days(start, end)}
    for d in deltas:
        grouped.setdefault(d.day, []).append(item(d, False))
    return [{"date": day.isoformat(), "events": items} for day, items in sorted(grouped.items())]
