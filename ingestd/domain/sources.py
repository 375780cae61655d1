"""Sources, load modes, error policies and read options: what a unit of work is asked to do."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from ingestd.errors import InvalidInput


class LoadMode(StrEnum):
    APPEND = "append"
    """Add the unit's rows; a rerun of the same unit replaces the rows it loaded before."""
    UPSERT = "upsert"
    """Insert or update on the table's primary key, counting inserted versus updated."""
    REPLACE_DAY = "replace_day"
    """Replace every row of the table that was loaded for the unit's day."""


class OnError(StrEnum):
    """Per-file error policy, after Snowflake's ON_ERROR."""

    CONTINUE = "continue"
    SKIP_FILE = "skip_file"
    ABORT = "abort"


@dataclass(frozen=True)
class ErrorPolicy:
    on_error: OnError = OnError.CONTINUE
    max_errors: int | None = None
    """skip_file: skip a file with more than this many bad rows (default: any bad row)."""
    max_error_percent: float | None = None
    """skip_file: skip a file whose bad rows exceed this percentage of its rows."""

    def __post_init__(self) -> None:
        if self.max_errors is not None and self.max_errors < 0:
            raise InvalidInput("error policy: max_errors must be 0 or more")
        if self.max_error_percent is not None and not 0 <= self.max_error_percent <= 100:
            raise InvalidInput("error policy: max_error_percent must be between 0 and 100")
        if self.on_error is not OnError.SKIP_FILE and (
            self.max_errors is not None or self.max_error_percent is not None
        ):
            raise InvalidInput("error policy: limits apply only to on_error=skip_file")

    def file_is_over_limit(self, read: int, errors: int) -> bool:
        """For skip_file: whether a file with these counts is skipped."""
        if errors == 0:
            return False
        if self.max_errors is None and self.max_error_percent is None:
            return True
        if self.max_errors is not None and errors > self.max_errors:
            return True
        return (
            self.max_error_percent is not None
            and read > 0
            and (100.0 * errors / read > self.max_error_percent)
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, OnError) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> ErrorPolicy:
        raw = raw or {}
        unknown = set(raw) - {"on_error", "max_errors", "max_error_percent"}
        if unknown:
            raise InvalidInput(f"error policy has unknown fields {sorted(unknown)}")
        try:
            on_error = OnError(raw.get("on_error", "continue"))
        except ValueError:
            raise InvalidInput(
                f"error policy: on_error {raw.get('on_error')!r} is not one of "
                "continue, skip_file, abort"
            ) from None
        return cls(on_error, raw.get("max_errors"), raw.get("max_error_percent"))


class DataFormat(StrEnum):
    CSV = "csv"
    TSV = "tsv"
    PSV = "psv"
    SCSV = "scsv"
    TXT = "txt"
    JSON = "json"
    """One JSON object per line (NDJSON)."""
    MULTIJSON = "multijson"
    """A JSON array of objects, or objects one after another."""
    PARQUET = "parquet"
    AVRO = "avro"
    ORC = "orc"


DELIMITED = frozenset(
    {DataFormat.CSV, DataFormat.TSV, DataFormat.PSV, DataFormat.SCSV, DataFormat.TXT}
)
DEFAULT_DELIMITERS = {
    DataFormat.CSV: ",",
    DataFormat.TSV: "\t",
    DataFormat.PSV: "|",
    DataFormat.SCSV: ";",
    DataFormat.TXT: "\x01",
}


class Compression(StrEnum):
    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"
    BZ2 = "bz2"
    ZIP = "zip"


@dataclass(frozen=True)
class ReadOptions:
    """How to read files. ``None`` means: detect from the file name or its first bytes."""

    format: DataFormat | None = None
    compression: Compression | None = None
    header: bool = True
    delimiter: str | None = None
    quote: str = '"'
    escape: str | None = None
    encoding: str = "utf-8"
    zip_pattern: str = "*"
    skip_first_record: bool = False
    """Kusto ``ignoreFirstRecord``: drop the first record of each file (headerless files)."""

    def __post_init__(self) -> None:
        for name in ("delimiter", "quote", "escape"):
            value = getattr(self, name)
            if value is not None and len(value) != 1:
                raise InvalidInput(f"read option {name} must be one character, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (v.value if isinstance(v, StrEnum) else v)
            for k, v in asdict(self).items()
            if v is not None
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> ReadOptions:
        raw = dict(raw or {})
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(raw) - known
        if unknown:
            raise InvalidInput(
                f"read options have unknown fields {sorted(unknown)}",
                hint=f"known: {sorted(known)}",
            )
        try:
            if raw.get("format") is not None:
                raw["format"] = DataFormat(str(raw["format"]).lower())
            if raw.get("compression") is not None:
                raw["compression"] = Compression(str(raw["compression"]).lower())
        except ValueError as exc:
            raise InvalidInput(f"read options: {exc}") from None
        return cls(**raw)


@dataclass(frozen=True)
class SourceSpec:
    """A configured source: where data lives for a day, and where it goes."""

    name: str
    table: str
    """Qualified table name ``namespace.name``."""
    path_template: str | None = None
    query: str | None = None
    read_options: ReadOptions = field(default_factory=ReadOptions)
    load_mode: LoadMode = LoadMode.APPEND
    error_policy: ErrorPolicy = field(default_factory=ErrorPolicy)
