"""Unit specs: what one unit loads, one frozen type per kind, and their versioned JSON.

A unit is a source's day (``SourceDayUnitSpec``), given local files (``FileUnitSpec``), one
streamed batch (``StreamBatchUnitSpec``) or one queued blob (``BlobUnitSpec``). ``control``
builds them, the store keeps their JSON in ``Unit.spec``, the executor runs them; a Celery task
will carry the same JSON. ``to_json`` writes ``"version"`` and ``"kind"``; ``from_json``
reads them back, and also reads rows written before specs had a version (their kind is inferred
from their keys, and a source's day, stored as ``{}``, takes its source and day from the row).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar

from ingestd.domain.mapping import Mapping
from ingestd.domain.sources import ErrorPolicy, LoadMode, ReadOptions
from ingestd.errors import InvalidInput

SPEC_VERSION = 1
"""The layout ``to_json`` writes. A row without ``"version"`` is version 1 (its keys are the
same; only ``version`` and ``kind`` were added)."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnitKind(StrEnum):
    SOURCE_DAY = "source_day"
    FILE = "file"
    STREAM_BATCH = "stream_batch"
    BLOB = "blob"


@dataclass(frozen=True)
class FetchLimits:
    """The limits every blob download obeys (settings ``blob_max_bytes``,
    ``fetch_timeout_seconds``, ``fetch_allowed_networks``): built once from the settings, carried
    in each blob's spec so a worker applies the limits the blob was accepted under."""

    max_bytes: int
    timeout_seconds: float
    allowed_networks: tuple[Network, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "max_bytes": self.max_bytes,
            "timeout_seconds": self.timeout_seconds,
            "allowed_networks": [str(n) for n in self.allowed_networks],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FetchLimits:
        _check_keys("fetch limits", raw, {"max_bytes", "timeout_seconds", "allowed_networks"})
        try:
            return cls(
                max_bytes=int(raw["max_bytes"]),
                timeout_seconds=float(raw["timeout_seconds"]),
                allowed_networks=tuple(
                    ipaddress.ip_network(n) for n in raw.get("allowed_networks") or ()
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"unit spec: fetch limits are not valid ({exc})") from None


@dataclass(frozen=True, kw_only=True)
class SourceDayUnitSpec:
    """Load a configured source's day: its files, or its query's result, for ``day``."""

    kind: ClassVar[UnitKind] = UnitKind.SOURCE_DAY
    table: str
    source: str
    day: date

    def to_json(self) -> dict[str, Any]:
        return {**_header(self.kind), "table": self.table, "source": self.source,
                "day": self.day.isoformat()}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class FileUnitSpec:
    """Load given local files (not a source's day) into ``table``."""

    kind: ClassVar[UnitKind] = UnitKind.FILE
    table: str
    inputs: tuple[str, ...]
    """Paths of the files, as given."""
    input_names: tuple[str, ...]
    """Their names in counts and messages; empty: each file's own name."""
    mapping: Mapping | None = None
    """None: the table's identity mapping."""
    read_options: ReadOptions = field(default_factory=ReadOptions)
    mode: LoadMode = LoadMode.APPEND
    error_policy: ErrorPolicy = field(default_factory=ErrorPolicy)
    empty_is_error: bool = False
    tags: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**_header(self.kind), **self._load_json()}

    def _load_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "inputs": list(self.inputs),
            "input_names": list(self.input_names),
            "mapping": self.mapping.to_list() if self.mapping is not None else None,
            "read_options": self.read_options.to_dict(),
            "mode": self.mode.value,
            "error_policy": self.error_policy.to_dict(),
            "empty_is_error": self.empty_is_error,
            "tags": list(self.tags),
        }


@dataclass(frozen=True, kw_only=True)
class StreamBatchUnitSpec(FileUnitSpec):
    """One flushed batch of a stream's records, loaded as NDJSON by the stream's source rules
    (its mapping, read options, mode, error policy).

    ``records`` names the batch's records in the metadata database (the stream is the source's
    name): the worker that runs the unit writes them into its own staging folder, so no disk is
    shared with the process that accepted them. ``inputs`` is then empty and ``input_names``
    holds the batch's name. A batch queued before records were named (``records`` empty) is
    the NDJSON file its ``inputs`` gives."""

    kind: ClassVar[UnitKind] = UnitKind.STREAM_BATCH
    source: str
    """The stream's source."""
    records: tuple[tuple[int, int], ...] = ()
    """The batch's record ids, as sorted inclusive ``(first, last)`` ranges."""

    def to_json(self) -> dict[str, Any]:
        return {
            **_header(self.kind),
            **self._load_json(),
            "source": self.source,
            "records": [[first, last] for first, last in self.records],
        }

    @property
    def record_count(self) -> int:
        return sum(last - first + 1 for first, last in self.records)


@dataclass(frozen=True, kw_only=True)
class BlobUnitSpec:
    """One queued blob: downloaded during the unit's ``downloading`` state, then loaded by
    Kusto's rules (appended; an empty blob is an error)."""

    kind: ClassVar[UnitKind] = UnitKind.BLOB
    table: str
    url: str
    """The redacted URL (shown): its credential part lives only in ``sealed_url``."""
    sealed_url: str
    """The whole URL, encrypted with the store's secret box."""
    input_name: str
    mapping: Mapping | None
    read_options: ReadOptions
    error_policy: ErrorPolicy
    fetch: FetchLimits
    tags: tuple[str, ...] = ()
    ingest_if_not_exists: tuple[str, ...] = ()
    delete_after_download: bool = False
    duplicate_of: int | None = None
    """Position of the blob of the same request that loads the same URL."""
    raw_size: int | None = None
    upload: str | None = None
    """A blob of ingestd's own Kusto temporary storage, read in place."""

    mode: ClassVar[LoadMode] = LoadMode.APPEND
    empty_is_error: ClassVar[bool] = True

    def to_json(self) -> dict[str, Any]:
        return {
            **_header(self.kind),
            "table": self.table,
            "url": self.url,
            "sealed_url": self.sealed_url,
            "input_names": [self.input_name],
            "mapping": self.mapping.to_list() if self.mapping is not None else None,
            "read_options": self.read_options.to_dict(),
            "error_policy": self.error_policy.to_dict(),
            "tags": list(self.tags),
            "ingest_if_not_exists": list(self.ingest_if_not_exists),
            "delete_after_download": self.delete_after_download,
            "duplicate_of": self.duplicate_of,
            "raw_size": self.raw_size,
            "upload": self.upload,
            "fetch": self.fetch.to_json(),
        }


UnitSpec = SourceDayUnitSpec | FileUnitSpec | StreamBatchUnitSpec | BlobUnitSpec


def from_json(
    raw: dict[str, Any],
    *,
    table: str | None = None,
    source_name: str | None = None,
    day: date | None = None,
) -> UnitSpec:
    """The spec ``raw`` (a ``to_json`` result, or a row written before version 1) describes.

    ``table``, ``source_name`` and ``day`` are the unit row's own columns: a source's day written
    before version 1 is ``{}``, and takes them from there. ``InvalidInput`` names what is
    wrong."""
    version = raw.get("version", SPEC_VERSION)
    if version != SPEC_VERSION:
        raise InvalidInput(
            f"unit spec version {version!r} is not known (this ingestd reads {SPEC_VERSION})",
            hint="run the unit with the ingestd version that queued it, or upgrade this one",
        )
    kind = _kind_of(raw, source_name)
    body = {k: v for k, v in raw.items() if k not in ("version", "kind")}
    try:
        match kind:
            case UnitKind.SOURCE_DAY:
                return _source_day(body, table, source_name, day)
            case UnitKind.FILE:
                _check_keys("file unit spec", body, _FILE_KEYS)
                return FileUnitSpec(**_load_fields(body))
            case UnitKind.STREAM_BATCH:
                _check_keys("stream batch unit spec", body, _FILE_KEYS | {"source", "records"})
                stream_source = body.get("source", source_name)
                if stream_source is None:
                    raise InvalidInput("stream batch unit spec: the stream's source is missing")
                return StreamBatchUnitSpec(
                    **_load_fields(body),
                    source=str(stream_source),
                    records=_record_ranges(body.get("records") or ()),
                )
            case UnitKind.BLOB:
                return _blob(body)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{kind.value} unit spec is not valid: {exc!r}") from None


_FILE_KEYS = frozenset(
    {"table", "inputs", "input_names", "mapping", "read_options", "mode", "error_policy",
     "empty_is_error", "tags"}
)  # fmt: skip
_BLOB_KEYS = frozenset(
    {"table", "url", "sealed_url", "input_names", "mapping", "read_options", "error_policy",
     "tags", "ingest_if_not_exists", "delete_after_download", "duplicate_of", "raw_size",
     "upload", "fetch"}
)  # fmt: skip
_LEGACY_BLOB_KEYS = frozenset({"inputs", "mode", "empty_is_error"})
"""Written into blob specs before version 1; fixed for every blob, so read and dropped."""


def _header(kind: UnitKind) -> dict[str, Any]:
    return {"version": SPEC_VERSION, "kind": kind.value}


def _kind_of(raw: dict[str, Any], source_name: str | None) -> UnitKind:
    if "kind" in raw:
        try:
            return UnitKind(raw["kind"])
        except ValueError:
            raise InvalidInput(
                f"unit spec kind {raw['kind']!r} is not known",
                hint=f"known: {', '.join(k.value for k in UnitKind)}",
            ) from None
    # Before version 1 the keys told the kind apart: a blob has its URL, given files their
    # inputs (a stream's batch also names its source on the row), a source's day nothing.
    if raw.get("url"):
        return UnitKind.BLOB
    if raw.get("inputs"):
        return UnitKind.STREAM_BATCH if source_name is not None else UnitKind.FILE
    return UnitKind.SOURCE_DAY


def _check_keys(what: str, raw: dict[str, Any], known: frozenset[str] | set[str]) -> None:
    unknown = set(raw) - set(known)
    if unknown:
        raise InvalidInput(f"{what} has unknown fields {sorted(unknown)}")


def _source_day(
    body: dict[str, Any], table: str | None, source_name: str | None, day: date | None
) -> SourceDayUnitSpec:
    _check_keys("source day unit spec", body, {"table", "source", "day"})
    table = body.get("table", table)
    source = body.get("source", source_name)
    when = date.fromisoformat(body["day"]) if "day" in body else day
    if table is None or source is None or when is None:
        raise InvalidInput("a source's day unit spec needs its table, its source and its day")
    return SourceDayUnitSpec(table=str(table), source=str(source), day=when)


def _load_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "table": str(body["table"]),
        "inputs": tuple(str(p) for p in body["inputs"]),
        "input_names": tuple(str(n) for n in body.get("input_names") or ()),
        "mapping": _mapping(body.get("mapping")),
        "read_options": ReadOptions.from_dict(body.get("read_options")),
        "mode": LoadMode(body.get("mode", LoadMode.APPEND.value)),
        "error_policy": ErrorPolicy.from_dict(body.get("error_policy")),
        "empty_is_error": bool(body.get("empty_is_error", False)),
        "tags": tuple(str(t) for t in body.get("tags") or ()),
    }


def _record_ranges(raw: Any) -> tuple[tuple[int, int], ...]:
    ranges = tuple((int(first), int(last)) for first, last in raw)
    if any(first > last for first, last in ranges):
        raise ValueError("a record range ends before it starts")
    return ranges


def _blob(body: dict[str, Any]) -> BlobUnitSpec:
    _check_keys("blob unit spec", body, _BLOB_KEYS | _LEGACY_BLOB_KEYS)
    if not isinstance(body.get("fetch"), dict):
        raise InvalidInput("blob unit spec: its fetch limits are missing")
    duplicate_of = body.get("duplicate_of")
    raw_size = body.get("raw_size")
    upload = body.get("upload")
    return BlobUnitSpec(
        table=str(body["table"]),
        url=str(body["url"]),
        sealed_url=str(body["sealed_url"]),
        input_name=str((body.get("input_names") or ["blob"])[0]),
        mapping=_mapping(body.get("mapping")),
        read_options=ReadOptions.from_dict(body.get("read_options")),
        error_policy=ErrorPolicy.from_dict(body.get("error_policy")),
        fetch=FetchLimits.from_json(body["fetch"]),
        tags=tuple(str(t) for t in body.get("tags") or ()),
        ingest_if_not_exists=tuple(str(v) for v in body.get("ingest_if_not_exists") or ()),
        delete_after_download=bool(body.get("delete_after_download", False)),
        duplicate_of=None if duplicate_of is None else int(duplicate_of),
        raw_size=None if raw_size is None else int(raw_size),
        upload=None if upload is None else str(upload),
    )


def _mapping(raw: Any) -> Mapping | None:
    # An empty list was stored for "no mapping" as well as None: both mean the identity one.
    return Mapping.from_list(raw) if raw else None


@dataclass(frozen=True)
class UnitRecord:
    """A stored unit as a worker needs it: the ids its run gave it and what it loads."""

    id: str
    run_id: str
    project_id: int
    load_key: str
    day: date | None
    """A source's day, or the day a blob's ``creationTime`` names (its partition)."""
    blob_url: str | None
    """Redacted, as shown."""
    spec: UnitSpec

    @property
    def table(self) -> str:
        return self.spec.table
