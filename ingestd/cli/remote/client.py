"""A typed client of the native API (``/ingestd/v1``) for the CLI's remote mode.

Answers are parsed into the native API's own wire models and converted to the views the CLI
renders (``remote.convert``), so a command prints the same locally and remotely. A refusal
keeps the server's code, message and hint: it is raised as the ``IngestdError`` class of that
code (a 4xx is a ``RequestError``, so the CLI exits 2; anything else exits 1).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from ingestd.api.native.schemas import (
    DayStatus,
    ErrorBody,
    QuarantinePage,
    QuarantineRow,
    Replay,
    RunDetail,
    RunPage,
    Source,
    SourceList,
    StatusGridOut,
    Unit,
    WorkersOut,
)
from ingestd.cli.remote import convert
from ingestd.cli.views import RunRow
from ingestd.control.daily_status import MAX_GRID_DAYS
from ingestd.control.quarantine import ReplayResult
from ingestd.control.status_grid import SourceStatus, StatusCell, StatusGrid
from ingestd.domain.paging import MAX_PAGE_LIMIT
from ingestd.domain.workers import WorkerCensus, WorkerView
from ingestd.errors import IngestdError, InvalidInput, RequestError

PREFIX = "/ingestd/v1"
_TIMEOUT_SECONDS = 60.0
M = TypeVar("M", bound=BaseModel)


class ServerUnreachable(IngestdError):
    """The server the CLI was told about (or found in server.json) does not answer."""

    code = "SERVER_UNREACHABLE"


def _classes(root: type[IngestdError]) -> list[type[IngestdError]]:
    found = [root]
    for sub in root.__subclasses__():
        found += _classes(sub)
    return found


@cache
def error_class(code: str, status: int) -> type[IngestdError]:
    """The error class of ``code``, so the CLI exits as it would have locally; a code this
    client does not know gets a class of its own, a ``RequestError`` when the status is a
    4xx (exit 2), else a failure (exit 1)."""
    for cls in _classes(IngestdError):
        if cls.code == code:
            return cls
    return novel_error_class(code, status)


@cache
def novel_error_class(code: str, status: int) -> type[IngestdError]:
    base: type[IngestdError] = RequestError if 400 <= status < 500 else IngestdError
    return type(f"Server{code.title().replace('_', '')}", (base,), {"code": code})


class RemoteClient:
    """Acts in ``project`` on the server at ``url`` with ``token`` (a key, or server.json's
    operator token)."""

    def __init__(self, url: str, token: str, project: str) -> None:
        self.url = url.rstrip("/")
        self.project = project
        self._http = httpx.Client(
            base_url=self.url + PREFIX,
            headers={"Authorization": f"Bearer {token}", "X-Ingestd-Project": project},
            timeout=_TIMEOUT_SECONDS,
        )

    def close(self) -> None:
        self._http.close()

    def _call(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> M:
        try:
            answer = self._http.request(method, path, params=params, json=json, headers=headers)
        except httpx.HTTPError as exc:
            raise ServerUnreachable(
                f"the ingestd server at {self.url} does not answer ({type(exc).__name__})",
                hint="is `ingestd serve` running? Start it, or leave out --server and "
                "INGESTD_SERVER_URL to work on the data directory itself",
            ) from None
        if answer.status_code >= 400:
            raise self._refusal(answer)
        try:
            return model.model_validate_json(answer.content)
        except ValidationError:
            raise ServerUnreachable(
                f"the server at {self.url} answered {method} {path} with something that is not "
                "an ingestd answer",
                hint="check the URL: it must be an ingestd server of the same version",
            ) from None

    def _refusal(self, answer: httpx.Response) -> IngestdError:
        try:
            detail = ErrorBody.model_validate_json(answer.content).error
        except ValidationError:
            return ServerUnreachable(
                f"the server at {self.url} answered HTTP {answer.status_code} without an "
                "ingestd error",
                hint="check the URL: it must be an ingestd server",
            )
        try:
            return error_class(detail.code, answer.status_code)(detail.message, hint=detail.hint)
        except TypeError:  # a class that takes more than a message and a hint (RateLimited)
            novel = novel_error_class(detail.code, answer.status_code)
            return novel(detail.message, hint=detail.hint)

    # -- workers ------------------------------------------------------------------------------

    def workers(self) -> WorkerCensus:
        answer = self._call(WorkersOut, "GET", "/workers")
        return WorkerCensus(
            answer.executor,
            tuple(WorkerView(w.name, w.concurrency, w.running, w.answered) for w in answer.workers),
            answer.broker_reachable,
        )

    # -- runs ---------------------------------------------------------------------------------

    def list_runs(self, limit: int) -> tuple[list[RunRow], int]:
        page = self._call(RunPage, "GET", "/runs", params={"limit": limit})
        return [convert.run_row(r) for r in page.data], page.total

    def get_run(self, run_id: str) -> convert.RemoteRun:
        return convert.run(self._call(RunDetail, "GET", f"/runs/{_segment(run_id)}"))

    def start_run(
        self,
        source: str,
        *,
        day: date | None = None,
        start: date | None = None,
        end: date | None = None,
        idempotency_key: str | None = None,
    ) -> convert.RemoteRun:
        body = {
            name: value.isoformat()
            for name, value in (("day", day), ("start", start), ("end", end))
            if value is not None
        }
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        detail = self._call(
            RunDetail, "POST", f"/sources/{_segment(source)}/runs", json=body, headers=headers
        )
        return convert.run(detail)

    def cancel_run(self, run_id: str) -> convert.RemoteRun:
        return convert.run(self._call(RunDetail, "POST", f"/runs/{_segment(run_id)}/cancel"))

    def cancel_unit(self, unit_id: str) -> convert.RemoteUnit:
        return convert.unit(self._call(Unit, "POST", f"/units/{_segment(unit_id)}/cancel"))

    # -- status ---------------------------------------------------------------------------------

    def status_grid(self, *, end: date, days: int, source: str | None) -> StatusGrid:
        """The grid ``ingestd status`` shows, from the native sources and status grid: each
        cell's Statsig status is computed here as the server computes it
        (``statsig_daily_status``), from the newest unit of the source and day."""
        if not 1 <= days <= MAX_GRID_DAYS:
            raise InvalidInput(
                f"through a server the grid covers 1 to {MAX_GRID_DAYS} days, not {days}",
                hint=f"pass --days between 1 and {MAX_GRID_DAYS}",
            )
        if source is not None:
            sources = [self._call(Source, "GET", f"/sources/{_segment(source)}")]
        else:
            sources = self._call(SourceList, "GET", "/sources").data
        start = end - timedelta(days=days - 1)
        span = tuple(start + timedelta(days=i) for i in range(days))
        cells: dict[tuple[str, date], DayStatus] = {}
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "limit": MAX_PAGE_LIMIT,
            }
            if source is not None:
                params["source"] = source
            if cursor is not None:
                params["cursor"] = cursor
            page = self._call(StatusGridOut, "GET", "/status", params=params)
            for row in page.data:
                for cell in row.days:
                    cells[(row.source, cell.day)] = cell
            cursor = page.cursor
            if cursor is None:
                break
        return StatusGrid(
            days=span,
            sources=tuple(
                SourceStatus(
                    s.name,
                    s.dataset,
                    tuple(_status_cell(cells.get((s.name, d)), s.dataset) for d in span),
                )
                for s in sources
            ),
        )

    # -- quarantine ---------------------------------------------------------------------------

    def quarantine(
        self, table: str | None, code: str | None, limit: int
    ) -> tuple[list[QuarantineRow], int]:
        """Up to ``limit`` rows (several pages when ``limit`` is over a page's most)."""
        rows: list[QuarantineRow] = []
        params: dict[str, str | int] = {}
        if table is not None:
            params["table"] = table
        if code is not None:
            params["code"] = code
        total = 0
        cursor: str | None = None
        while True:
            wanted = min(limit - len(rows), MAX_PAGE_LIMIT)
            page = self._call(
                QuarantinePage,
                "GET",
                "/quarantine",
                params={**params, "limit": wanted, **({"cursor": cursor} if cursor else {})},
            )
            rows += page.data
            total, cursor = page.total, page.cursor
            if cursor is None or len(rows) >= limit:
                return rows, total

    def replay(self, table: str, unit_id: str | None) -> ReplayResult:
        done = self._call(
            Replay, "POST", "/quarantine/replay", json={"table": table, "unit_id": unit_id}
        )
        return ReplayResult(done.replayed, done.loaded, done.still_failing, done.not_replayable)


def _status_cell(cell: DayStatus | None, dataset: str | None) -> StatusCell | None:
    if cell is None:
        return None
    return StatusCell.of(
        cell.day,
        cell.state,
        trigger=cell.trigger,
        rows=cell.counts.inserted + cell.counts.updated,
        error_code=cell.error_code,
        unit_id=cell.unit_id,
        dataset=dataset or "",
    )


def _segment(value: str) -> str:
    """``value`` as one path segment (a name holding ``/`` or ``?`` stays one)."""
    return quote(value, safe="")
