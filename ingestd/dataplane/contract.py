"""The one interface between the run engine and the data plane: a load request and its result."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ingestd.domain.counts import Counts as Counts  # where every layer's counts are defined
from ingestd.domain.mapping import Mapping
from ingestd.domain.sources import ErrorPolicy, LoadMode, ReadOptions
from ingestd.domain.tables import TableSpec


@dataclass(frozen=True)
class LoadRequest:
    """Load some files into one table as one exactly-once unit.

    ``load_key`` identifies the unit's data across attempts and reruns: loading the same key
    again replaces what it loaded before (append), re-applies it (upsert) or replaces the day
    (replace_day). It is also the ledger's key.
    """

    load_key: str
    unit_id: str
    run_id: str
    table: TableSpec
    mapping: Mapping
    inputs: tuple[Path, ...]
    input_names: tuple[str, ...]
    read_options: ReadOptions = field(default_factory=ReadOptions)
    mode: LoadMode = LoadMode.APPEND
    day: date | None = None
    error_policy: ErrorPolicy = field(default_factory=ErrorPolicy)
    empty_is_error: bool = False
    """Blob ingestion: a zero-byte blob is an error (Kusto BadRequest_EmptyBlob)."""
    tags: tuple[str, ...] = ()
    replay_of: tuple[int, ...] = ()
    """Quarantine ids whose raw records these inputs are: the load adds to what the load key
    loaded before (nothing is replaced), those quarantine rows leave, and the ledger's counts
    move from errors to what now loaded."""


@dataclass
class FileResult:
    name: str
    counts: Counts = field(default_factory=Counts)
    skipped: bool = False
    """The error policy skipped this file: all its rows are in quarantine."""


@dataclass
class LoadResult:
    load_key: str
    files: list[FileResult]
    counts: Counts
    fingerprint: str

    @property
    def empty(self) -> bool:
        return self.counts.read == 0


@dataclass
class Progress:
    files_done: int
    files_total: int
    rows_read: int
    phase: str
    """``reading`` (once per input file), then ``writing`` (as rows reach the destination)."""
    rows_written: int = 0


ProgressCallback = Callable[[Progress], None]


class CancelToken:
    """Set by whoever cancels; checked by the data plane between steps. ``on_cancel`` hooks
    (e.g. interrupting a running DuckDB query) run at once in the canceling thread."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._hooks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def canceled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            hooks = list(self._hooks)
        for hook in hooks:
            hook()

    def on_cancel(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Register ``hook``; returns a function that unregisters it."""
        with self._lock:
            self._hooks.append(hook)

        def remove() -> None:
            with self._lock:
                if hook in self._hooks:
                    self._hooks.remove(hook)

        return remove
