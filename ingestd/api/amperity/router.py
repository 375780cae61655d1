"""The Amperity dialect (API-SURFACE §2): ingest jobs, workflow runs, tokens and streaming.

The router only translates (``translate``) and enforces the protocol (``protocol``): runs are
ingest jobs and workflows, sources are feeds, streams are sources fed record by record. Every
error is rendered by ``protocol.render`` in the §2.1 body.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from datetime import date, timedelta
from typing import Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.convertors import Convertor, register_url_convertor

from ingestd.api.amperity import translate
from ingestd.api.amperity.deps import Ingester, Options, Reader, Streamer, render_error
from ingestd.api.amperity.schemas import (
    IngestJobDetails,
    IngestJobDetailsList,
    TokenResponse,
    Workflow,
    WorkflowList,
    WorkflowRunRequest,
)
from ingestd.api.deps import ServicesDep
from ingestd.api.errors import dialect_route
from ingestd.control.access import Principal
from ingestd.control.amperity.streams import RecordTooLarge
from ingestd.control.catalog import SourceView
from ingestd.control.run_search import RunFilter, RunRecord, Window
from ingestd.control.runs import day_range
from ingestd.control.services import Services
from ingestd.domain.origins import RunOrigin
from ingestd.domain.states import RunState
from ingestd.errors import IngestdError, InvalidInput, NotFound

log = logging.getLogger("ingestd.api.amperity")

MAX_WINDOW = timedelta(days=7)
"""§2.3 [I]: a created_from/created_to window longer than 7 days is refused."""
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
TOKEN_REQUEST_BYTES = 64 << 10
_ACTIVE = frozenset({RunState.ENQUEUED, RunState.RUNNING})


class _AnyText(Convertor[str]):
    """Ids in paths take the rest of the path, "/" and newlines included, so that any id,
    however odd, reaches its handler and gets this dialect's 404 body, not the framework's."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("amperity_any", _AnyText())


router = APIRouter(route_class=dialect_route(render_error), tags=["amperity"])


def _record_of(services: Services, project_id: int, run_id: str, shown: str) -> RunRecord:
    try:
        return services.run_search.get(project_id, run_id)
    except NotFound:
        raise NotFound(f"{shown} does not exist") from None


# -- ingest jobs (§2.3, §2.4) -------------------------------------------------------------


@router.get(
    "/api/ingest/jobs", response_model=IngestJobDetailsList, response_model_exclude_none=True
)
def list_jobs(
    who: Reader,
    services: ServicesDep,
    created_from: str,
    created_to: str,
    with_total: bool = False,
) -> IngestJobDetailsList:
    start = translate.parse_time(created_from, "created_from")
    end = translate.parse_time(created_to, "created_to")
    if end <= start:
        raise InvalidInput("created_to must be later than created_from")
    if end - start > MAX_WINDOW:
        raise InvalidInput(
            "the window from created_from to created_to is longer than 7 days",
            hint="ask for at most 7 days at a time",
        )
    # The window, the job start (§5 item 14) and the order are all decided in SQL.
    records = services.run_search.started_between(who.project_id, start, end)
    jobs = [translate.ingest_job(record) for record in records]
    # §2.3/§5 item 18: every job of the window in one page; next_token is present (as
    # documented) and empty, which the pagination rules read as "last page".
    return IngestJobDetailsList(data=jobs, next_token="", total=len(jobs) if with_total else None)


@router.get(
    "/api/ingest/jobs/{job_id:amperity_any}",
    response_model=IngestJobDetails,
    response_model_exclude_none=True,
)
def get_job(
    who: Reader,
    services: ServicesDep,
    job_id: str,
) -> IngestJobDetails:
    run_id = translate.run_of_job(job_id)
    return translate.ingest_job(
        _record_of(services, who.project_id, run_id, f"ingest job {job_id}")
    )


# -- workflow runs (§2.5) -----------------------------------------------------------------


@router.get("/api/workflow/runs", response_model=WorkflowList, response_model_exclude_none=True)
def list_workflows(
    who: Reader,
    services: ServicesDep,
    limit: int | None = None,
    next_token: str | None = None,
    with_total: bool = False,
    created_from: str | None = None,
    created_to: str | None = None,
    ended_from: str | None = None,
    ended_to: str | None = None,
    state: str | None = None,
    type: str | None = None,
) -> WorkflowList:
    size = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= size <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    offset = _offset_of(next_token)
    where = RunFilter(
        created=_window(created_from, created_to, "created"),
        ended=_window(ended_from, ended_to, "ended"),
        states=None if state is None else translate.run_states_named(state),
        kinds=None if type is None else translate.kinds_of_type(type),
    )
    records, total = services.run_search.page(who.project_id, where, limit=size, offset=offset)
    more = offset + len(records) < total
    return WorkflowList(
        data=[translate.workflow(r, who.project) for r in records],
        next_token=_token_of(offset + len(records)) if more else None,
        total=total if with_total else None,
    )


@router.get(
    "/api/workflow/runs/{workflow_id:amperity_any}",
    response_model=Workflow,
    response_model_exclude_none=True,
)
def get_workflow(
    who: Reader,
    services: ServicesDep,
    workflow_id: str,
    view: Literal["overview", "verbose"] = "overview",
) -> Workflow:
    run_id = translate.run_of_workflow(workflow_id)
    record = _record_of(services, who.project_id, run_id, f"workflow {workflow_id}")
    return translate.workflow(record, who.project, verbose=view == "verbose")


@router.post(
    "/api/workflow/runs",
    status_code=201,
    response_model=Workflow,
    response_model_exclude_none=True,
)
def start_workflow(
    who: Ingester,
    services: ServicesDep,
    body: WorkflowRunRequest,
) -> Workflow:
    """Start a feed's ingestion: a source's days, or a stream's pending records now."""
    source = _feed_source(services, who, body.config_id)
    if services.streams.is_stream(who.project, source):
        flushed = services.streams.flush(who.project_id, source.name)
        if not flushed:
            raise InvalidInput(f"stream {source.name!r} has no pending records to load")
        run_id = flushed[0].id
    else:
        days = _days(body.range_from, body.range_to, services.clock().date())
        trigger = "manual" if len(days) == 1 else "backfill"
        run_id = services.runs.start_source_run(
            who.project_id, [source.name], days, trigger=trigger, origin=RunOrigin.AMPERITY
        ).id
    return translate.workflow(
        services.run_search.get(who.project_id, run_id), who.project, verbose=True
    )


@router.post(
    "/api/workflow/runs/{workflow_id:amperity_any}/stop",
    response_model=Workflow,
    response_model_exclude_none=True,
)
def stop_workflow(
    who: Ingester,
    services: ServicesDep,
    workflow_id: str,
) -> Workflow:
    """Cancel what has not finished; a workflow that has ended is returned as it is."""
    run_id = translate.run_of_workflow(workflow_id)
    record = _record_of(services, who.project_id, run_id, f"workflow {workflow_id}")
    if record.run.state in _ACTIVE:
        services.runs.cancel_run(who.project_id, run_id)
        record = services.run_search.get(who.project_id, run_id)
    return translate.workflow(record, who.project, verbose=True)


# -- token (§2.1, A7) ---------------------------------------------------------------------


@router.post("/api/v0/oauth2/token", response_model=TokenResponse)
async def token(request: Request, options: Options) -> Response:
    """Client-credentials grant, form-encoded (or JSON, or HTTP Basic client auth)."""
    fields = _token_fields(request, await _read_limited(request, TOKEN_REQUEST_BYTES))
    if fields.get("grant_type") != "client_credentials":
        raise InvalidInput("grant_type must be client_credentials")
    client_id, secret = fields.get("client_id"), fields.get("client_secret")
    if not client_id or not secret:
        raise InvalidInput("client_id and client_secret are required")
    tenant = next(
        (
            request.headers[h]
            for h in ("x-amperity-tenant", "amperity-tenant")
            if h in request.headers
        ),
        None,
    )
    issued = await run_in_threadpool(
        options.gate.oauth.issue_token, client_id, secret, tenant=tenant
    )
    body = TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        token_type=issued.token_type,
    )
    # RFC 6749 §5.1: token responses are never cached.
    return JSONResponse(
        body.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )


# -- streaming (§2.5) ---------------------------------------------------------------------


@router.post("/stream/v0/data/{stream_id:amperity_any}", status_code=202)
async def stream_record(
    who: Streamer,
    services: ServicesDep,
    stream_id: str,
    request: Request,
    background: BackgroundTasks,
) -> Response:
    """One JSON record: committed before the 202, loaded with the next flush."""
    if "xml" in request.headers.get("content-type", "").lower():
        raise InvalidInput("XML records are not supported; send one JSON object")
    body = await _read_limited(request, services.streams.max_record_bytes)
    accepted = await run_in_threadpool(services.streams.accept, who.project_id, stream_id, body)
    if accepted.flush_due:
        background.add_task(_flush_quietly, services, who.project_id, stream_id)
    return Response(status_code=202)


# -- helpers -----------------------------------------------------------------------------------


def _window(start: str | None, end: str | None, name: str) -> Window:
    return Window(
        translate.parse_time(start, f"{name}_from") if start is not None else None,
        translate.parse_time(end, f"{name}_to") if end is not None else None,
    )


def _token_of(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _offset_of(token: str | None) -> int:
    """The offset a ``next_token`` stands for; ``InvalidInput`` for one we did not issue."""
    if token is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, number = text.partition(":")
        # An offset past MAX_OFFSET is no token we issued (and past 2**63 it would overflow
        # the metadata store's integers).
        if prefix == "o" and number.isdigit() and len(number) <= 12:
            return int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidInput(f"next_token {token!r} is not one this API returned")


def _feed_source(services: Services, who: Principal, config_id: str) -> SourceView:
    """The source a ``config_id`` names: a feed id ``df-<n>``, or (an ingestd extension) the
    source's name."""
    source_id = translate.source_of_feed(config_id)
    for source in services.catalog.list_sources(who.project_id):
        if source.id == source_id or (source_id is None and source.name == config_id):
            return source
    raise InvalidInput(
        f"config_id {config_id!r} names no feed of tenant {who.project}",
        hint="use a feed id (df-<n>, see tables[].feed_id) or a source name",
    )


def _days(range_from: str | None, range_to: str | None, today: date) -> list[date]:
    """The days a run covers: ``[range_from, range_to)``, or the day of ``range_from`` alone,
    or (nothing given) the day before ``today`` (UTC), the day a daily schedule would load."""
    if range_from is None:
        if range_to is not None:
            raise InvalidInput("range_to needs range_from")
        return [today - timedelta(days=1)]
    start = translate.parse_time(range_from, "range_from")
    if range_to is None:
        return [start.date()]
    end = translate.parse_time(range_to, "range_to")
    if end <= start:
        raise InvalidInput("range_to must be later than range_from")
    return day_range(start.date(), (end - timedelta(microseconds=1)).date())


def _token_fields(request: Request, raw: bytes) -> dict[str, str]:
    """The token request's fields: form-encoded body, JSON body, and HTTP Basic client auth."""
    fields: dict[str, str] = {}
    if "json" in request.headers.get("content-type", "").lower():
        try:
            parsed = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"the token request is not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise InvalidInput("the token request must be a JSON object")
        fields = {str(k): str(v) for k, v in parsed.items() if isinstance(v, str)}
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput("the token request is not UTF-8") from exc
        fields = {k: v[0] for k, v in parse_qs(text).items() if v}
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and "client_id" not in fields:
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidInput("the Basic authorization header is not valid") from exc
        fields.update(client_id=client_id, client_secret=secret)
    return fields


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, refusing it (413) as soon as it is longer than ``limit`` bytes."""
    too_large = RecordTooLarge(f"the request body is over {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _flush_quietly(services: Services, project_id: int, stream_id: str) -> None:
    """A size-triggered flush after the 202; a failure leaves the records for the next try."""
    try:
        services.streams.flush(project_id, stream_id)
    except IngestdError as exc:
        log.warning("flushing stream %s failed: %s", stream_id, exc)
