"""A source's preview: the first rows of a day, mapped, typed and validated, committing nothing.

The values a preview answers with (the control service ``control.source_preview``, the native
API, the CLI and the dashboard all show these). "The first N rows" means the first N input
records, each either a typed row or an error, in input order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ingestd.errors import InvalidInput

MAX_PREVIEW_ROWS = 1000
"""The most input records one preview reads."""
DEFAULT_PREVIEW_ROWS = 20
RAW_CHARS = 1000
"""Raw records in a preview's errors are cut to this many characters."""


def check_limit(limit: int) -> int:
    """``limit`` if it is a valid preview size, else InvalidInput."""
    if not 1 <= limit <= MAX_PREVIEW_ROWS:
        raise InvalidInput(
            f"preview limit {limit} is out of range",
            hint=f"ask for 1 to {MAX_PREVIEW_ROWS} rows",
        )
    return limit


@dataclass(frozen=True)
class PreviewColumn:
    name: str
    type: str
    """The table column's type as ingestd names it (e.g. "BIGINT", "VARCHAR")."""


@dataclass(frozen=True)
class PreviewError:
    """One input record that would be quarantined, located as quarantine locates it."""

    file: str | None
    """The file (or object URL / query) the record came from, display form."""
    line: int | None
    """The file's line, for records the reader refused."""
    column: int | None
    """The 1-based position in the record of the file column ``field`` was read from (delimited
    files, when known)."""
    field: str | None
    code: str
    """The stable row-error code (``domain.row_errors.RowError``), as quarantine records it."""
    message: str
    raw: str | None
    """The raw record, cut to ``RAW_CHARS`` characters."""
    record: int | None = None
    """The record's number in its file (1-based), for records that parsed but failed typing or
    validation (their line is not known)."""

    @property
    def location(self) -> str:
        """``file:line:column`` (``file:#record:column`` for typing errors), as the CLI
        prints it."""
        where = self.file or "?"
        if self.line is not None:
            where += f":{self.line}"
        elif self.record is not None:
            where += f":#{self.record}"
        else:
            return where
        return where + (f":{self.column}" if self.column is not None else "")


@dataclass(frozen=True)
class SourcePreview:
    source: str
    day: date
    table: str
    """The target table's name as the user knows it (namespace.table)."""
    columns: tuple[PreviewColumn, ...]
    rows: tuple[tuple[object, ...], ...]
    """Typed values in ``columns`` order, in input order."""
    errors: tuple[PreviewError, ...]
    files: tuple[str, ...]
    """The inputs read (display form)."""
    rows_read: int
    """Input records read: ``len(rows) + len(errors)``."""
    truncated: bool
    """True when the source has more records than the limit."""


PreviewJson = str | int | float | bool | None
"""A preview's value as a JSON answer carries it."""


def json_value(value: object) -> PreviewJson:
    """A typed value of a preview's row as JSON: dates and timestamps as ISO 8601 text (staged
    timestamps are naive UTC, so they end in ``Z``), any other non-JSON value as its text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
