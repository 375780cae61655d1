"""Translation between ingestd's core model and the Amperity wire (API-SURFACE §2).

Ids (derived from the run's UUID, so no lookup table exists or is needed):

* a run is an ingest job ``isj-<run uuid hex>`` and a workflow ``wf-<run uuid hex>``;
* a unit is a workflow task ``wft-<unit uuid hex>``; a file is ``<unit uuid hex>/<file name>``;
* a feed is ``df-<source id>`` for units that load a source (sources, streams), or
  ``df-t<10 hex of SHA-256 of the table name>`` for units without one (blobs, files).

Only ids of exactly these shapes are accepted; anything else is "not found".

Times are ISO-8601 UTC with milliseconds (``2024-06-01T04:02:54.433Z``). A feed whose units
have not started yet reports its creation time as ``started_at``; a feed still running reports
its latest state change as ``ended_at`` (both fields are required strings in the vendor schema;
``state`` says whether the feed has ended). A job's start is the earliest of its feeds' starts
(§5 item 14), and that is what the ``created_from``/``created_to`` window filters on.

Counts are those committed by a finished unit; a unit still running or failed counts zero, so
``read = errors + rejected + inserted + updated`` holds for every feed at every moment.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ingestd.api.amperity.schemas import (
    IngestFeedDetails,
    IngestFileDetails,
    IngestJobDetails,
    Workflow,
    WorkflowError,
    WorkflowTaskInstance,
)
from ingestd.control.run_search import RunRecord
from ingestd.control.run_views import UnitView
from ingestd.dataplane.contract import Counts
from ingestd.domain.projections import amperity_run_state, amperity_state
from ingestd.domain.states import TERMINAL_UNIT_STATES, RunState, UnitState, derive_run_state
from ingestd.errors import FailureClass, InvalidInput, NotFound

JOB_PREFIX = "isj-"
WORKFLOW_PREFIX = "wf-"
TASK_PREFIX = "wft-"
FEED_PREFIX = "df-"
SOURCE_RUN_TYPE = "courier.group/run"
"""Source runs read as courier-group runs, the Amperity workflow that pulls files."""
_HEX32 = re.compile(r"[0-9a-f]{32}")
_SOURCE_FEED = re.compile(r"df-([1-9][0-9]{0,17})")
_OTHER_TYPE = re.compile(r"ingestd\.([a-z_]+)/run")
_PARTIAL = re.compile(r"(\d{4})(?:-(\d{2}))?")

# -- ids -----------------------------------------------------------------------------------


def job_id(run_id: str) -> str:
    return JOB_PREFIX + uuid.UUID(run_id).hex


def workflow_id(run_id: str) -> str:
    return WORKFLOW_PREFIX + uuid.UUID(run_id).hex


def _run_id(prefix: str, value: str, what: str) -> str:
    hex_part = value.removeprefix(prefix).lower()
    if not value.startswith(prefix) or not _HEX32.fullmatch(hex_part):
        raise NotFound(f"{what} {value!r} does not exist")
    return str(uuid.UUID(hex_part))


def run_of_job(value: str) -> str:
    """The run id of an ingest job id; ``NotFound`` for anything not shaped ``isj-<32 hex>``."""
    return _run_id(JOB_PREFIX, value, "ingest job")


def run_of_workflow(value: str) -> str:
    """The run id of a workflow id; ``NotFound`` for anything not shaped ``wf-<32 hex>``."""
    return _run_id(WORKFLOW_PREFIX, value, "workflow")


def feed_id(source_id: int | None, table: str) -> str:
    if source_id is not None:
        return f"{FEED_PREFIX}{source_id}"
    return f"{FEED_PREFIX}t{hashlib.sha256(table.encode()).hexdigest()[:10]}"


def source_of_feed(value: str) -> int | None:
    """The source id of a source feed id ``df-<id>``; None for any other string."""
    match = _SOURCE_FEED.fullmatch(value)
    return int(match.group(1)) if match else None


# -- times ---------------------------------------------------------------------------------


def wire_time(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def parse_time(text: str, name: str) -> datetime:
    """An ISO-8601 timestamp, partial ones included (``2024``, ``2024-10``, ``2024-10-01``,
    ``2024-10-01T04``); without an offset it is UTC (§2.3)."""
    value = text.strip()
    partial = _PARTIAL.fullmatch(value)
    try:
        if partial:
            moment = datetime(int(partial.group(1)), int(partial.group(2) or 1), 1)
        else:
            moment = datetime.fromisoformat(value.upper())
        # An offset that moves a moment past year 1 or 9999 has no UTC time (OverflowError).
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"{name} {text!r} is not an ISO-8601 timestamp",
            hint="write e.g. 2024-10-01 or 2024-10-01T04:02:54Z",
        ) from None


# -- states --------------------------------------------------------------------------------


def normalize_state(text: str) -> str:
    """§5 item 17: states are accepted in any case; "In progress" is ``in-progress``."""
    return re.sub(r"[\s_]+", "-", text.strip().lower())


def run_states_named(state: str) -> list[tuple[RunState, bool]]:
    """The (run state, stop requested) pairs whose workflow state is ``state``."""
    wanted = normalize_state(state)
    return [
        (s, stop)
        for s in RunState
        for stop in (False, True)
        if amperity_run_state(s, stop_requested=stop) == wanted
    ]


def workflow_type(kind: str) -> str:
    return SOURCE_RUN_TYPE if kind == "source" else f"ingestd.{kind}/run"


def kinds_of_type(type_: str) -> list[str]:
    """The run kinds whose workflow type is ``type_`` (none for an unknown type)."""
    if type_ == SOURCE_RUN_TYPE:
        return ["source"]
    match = _OTHER_TYPE.fullmatch(type_)
    return [match.group(1)] if match else []


def _feed_state(states: list[UnitState], stop_requested: bool) -> str:
    if not stop_requested and len(set(states)) == 1:
        return amperity_state(states[0])  # keeps unit-only states: started, skipped
    derived = derive_run_state(states, cancel_requested=stop_requested)
    return amperity_run_state(derived, stop_requested=stop_requested)


# -- ingest jobs ---------------------------------------------------------------------------


@dataclass
class _Feed:
    feed_id: str
    table: str
    units: list[UnitView] = field(default_factory=list)

    @property
    def started_at(self) -> datetime:
        started = [u.started_at for u in self.units if u.started_at is not None]
        return min(started) if started else min(u.created_at for u in self.units)

    @property
    def ended(self) -> bool:
        return all(u.state in TERMINAL_UNIT_STATES for u in self.units)

    @property
    def ended_at(self) -> datetime:
        if self.ended:
            return max(u.ended_at or u.updated_at for u in self.units)
        return max(u.updated_at for u in self.units)


def _feeds(record: RunRecord) -> list[_Feed]:
    feeds: dict[str, _Feed] = {}
    for unit in record.run.units:
        fid = feed_id(record.source_ids.get(unit.id), unit.table)
        feeds.setdefault(fid, _Feed(fid, unit.table)).units.append(unit)
    return list(feeds.values())


def job_started_at(record: RunRecord) -> datetime:
    """The job's start (§5 item 14): its earliest feed start; its creation if it has none."""
    starts = [feed.started_at for feed in _feeds(record)]
    return min(starts) if starts else record.run.created_at


def _committed(unit: UnitView) -> Counts:
    return unit.counts if unit.state is UnitState.SUCCEEDED else Counts()


def ingest_job(record: RunRecord) -> IngestJobDetails:
    run = record.run
    job = job_id(run.id)
    tables = []
    for feed in _feeds(record):
        counts = Counts()
        files: list[IngestFileDetails] = []
        for unit in feed.units:
            counts.add(_committed(unit))
            if unit.state is UnitState.SUCCEEDED:
                files += [
                    IngestFileDetails(
                        file_id=f"{uuid.UUID(unit.id).hex}/{f.name}",
                        name=f.name,
                        read=f.counts.read,
                        errors=f.counts.errors,
                    )
                    for f in unit.files
                ]
        tables.append(
            IngestFeedDetails(
                feed_id=feed.feed_id,
                job_id=job,
                table_name=feed.table,
                state=_feed_state([u.state for u in feed.units], run.cancel_requested),
                read=counts.read,
                errors=counts.errors,
                rejected=counts.rejected,
                inserted=counts.inserted,
                updated=counts.updated,
                started_at=wire_time(feed.started_at),
                ended_at=wire_time(feed.ended_at),
                files=files,
            )
        )
    return IngestJobDetails(id=job, workflow_id=workflow_id(run.id), tables=tables)


# -- workflows -----------------------------------------------------------------------------


def _error(unit: UnitView) -> WorkflowError | None:
    if unit.state is not UnitState.FAILED or unit.error_code is None:
        return None
    permanent = unit.failure_status in (None, FailureClass.PERMANENT)
    return WorkflowError(
        type=f"ingestd.unit/{unit.error_code}",
        message=unit.error_message or unit.error_code,
        # a Permanent error is the data's or the configuration's; Transient ones are ours
        attribution="customer" if permanent and unit.error_code != "INTERNAL_ERROR" else "platform",
    )


def _label(unit: UnitView) -> str:
    what = unit.source_name or unit.blob_url or "files"
    day = f" for {unit.day.isoformat()}" if unit.day else ""
    return f"load {what}{day} into {unit.table}"


def workflow(record: RunRecord, tenant: str, *, verbose: bool = False) -> Workflow:
    """The workflow of a run; ``verbose`` adds its tasks (units) and its first error."""
    run = record.run
    tables = list(dict.fromkeys(u.table for u in run.units))
    out = Workflow(
        id=workflow_id(run.id),
        state=amperity_run_state(run.state, stop_requested=run.cancel_requested),
        type=workflow_type(run.kind),
        name=", ".join(run.sources) or ", ".join(tables) or run.kind,
        tenant=tenant,
        created_at=wire_time(run.created_at),
        ended_at=wire_time(run.ended_at) if run.ended_at is not None else None,
    )
    if verbose:
        out.task_instances = [
            WorkflowTaskInstance(
                id=TASK_PREFIX + uuid.UUID(unit.id).hex,
                state=amperity_state(unit.state),
                tenant=tenant,
                created_at=wire_time(unit.created_at),
                ended_at=wire_time(unit.ended_at) if unit.ended_at is not None else None,
                label=_label(unit),
                state_changed_at=wire_time(unit.updated_at),
                task_definition_type="ingestd.unit/load",
                workflow_id=out.id,
                error=_error(unit),
            )
            for unit in run.units
        ]
        out.error = next((e for e in map(_error, run.units) if e is not None), None)
    return out
