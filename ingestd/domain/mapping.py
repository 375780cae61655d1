"""Mappings: how source fields become table columns.

A mapping is a list of ``FieldMapping``s, one per target column. A target takes its value from a
source column by name, a CSV ordinal, a JSON path, a constant, or ingestd's own location
metadata (the Kusto mapping kinds, API-SURFACE §3.9), optionally through a transform. A target
of type JSON may instead be built from several named parts (Statsig ``ids`` and ``metadata``,
§1.4). Columns the mapping does not name are NULL (or rejected if the column is required).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ingestd.domain.tables import TableSpec
from ingestd.errors import MappingInvalid


class RefKind(StrEnum):
    COLUMN = "column"
    ORDINAL = "ordinal"
    PATH = "path"
    CONST = "const"
    SOURCE_LOCATION = "source_location"
    LINE_NUMBER = "line_number"


class Transform(StrEnum):
    """Value transforms (Kusto mapping ``Transform`` names)."""

    FROM_UNIX_SECONDS = "DateTimeFromUnixSeconds"
    FROM_UNIX_MILLISECONDS = "DateTimeFromUnixMilliseconds"
    FROM_UNIX_MICROSECONDS = "DateTimeFromUnixMicroseconds"
    FROM_UNIX_NANOSECONDS = "DateTimeFromUnixNanoseconds"


_PATH_KEY = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['([^']+)'\]")
_PATH = re.compile(r"^\$(\.[A-Za-z_][A-Za-z0-9_]*|\.\[\'[^\']+\'\]|\[\'[^\']+\'\])+$")


@dataclass(frozen=True)
class SourceRef:
    kind: RefKind
    value: str | int | None = None

    def describe(self) -> str:
        match self.kind:
            case RefKind.COLUMN:
                return f"column {self.value!r}"
            case RefKind.ORDINAL:
                return f"ordinal {self.value}"
            case RefKind.PATH:
                return f"path {self.value}"
            case RefKind.CONST:
                return f"constant {self.value!r}"
            case _:
                return self.kind.value

    def path_keys(self) -> tuple[str, ...]:
        """The keys of a JSON path: ``$.a.['b c']`` gives ``("a", "b c")``."""
        if self.kind is not RefKind.PATH or not isinstance(self.value, str):
            raise MappingInvalid(f"{self.describe()} is not a JSON path")
        return tuple(a or b for a, b in _PATH_KEY.findall(self.value))


@dataclass(frozen=True)
class FieldMapping:
    target: str
    source: SourceRef | None = None
    parts: tuple[tuple[str, SourceRef], ...] = ()
    """For JSON targets built from several sources: (key, source) pairs."""
    transform: Transform | None = None


@dataclass(frozen=True)
class Mapping:
    fields: tuple[FieldMapping, ...]

    def for_target(self, name: str) -> FieldMapping | None:
        for f in self.fields:
            if f.target == name:
                return f
        return None

    def check_against(self, table: TableSpec) -> None:
        """Raise ``MappingInvalid`` if the mapping names columns the table does not have."""
        seen: set[str] = set()
        for f in self.fields:
            if not table.has_column(f.target):
                raise MappingInvalid(
                    f"mapping targets column {f.target!r}, which {table.qualified_name} lacks",
                    hint="fix the mapping or add the column to the table",
                )
            if f.target in seen:
                raise MappingInvalid(f"mapping names column {f.target!r} twice")
            seen.add(f.target)

    def to_list(self) -> list[dict[str, Any]]:
        out = []
        for f in self.fields:
            item: dict[str, Any] = {"target": f.target}
            if f.source is not None:
                item["source"] = {"kind": f.source.kind.value, "value": f.source.value}
            if f.parts:
                item["parts"] = [
                    {"key": k, "kind": s.kind.value, "value": s.value} for k, s in f.parts
                ]
            if f.transform is not None:
                item["transform"] = f.transform.value
            out.append(item)
        return out

    @classmethod
    def from_list(cls, raw: list[dict[str, Any]]) -> Mapping:
        fields = []
        for item in raw:
            source = item.get("source")
            fields.append(
                FieldMapping(
                    target=str(item["target"]),
                    source=None
                    if source is None
                    else SourceRef(RefKind(source["kind"]), source.get("value")),
                    parts=tuple(
                        (str(p["key"]), SourceRef(RefKind(p["kind"]), p.get("value")))
                        for p in item.get("parts", [])
                    ),
                    transform=Transform(item["transform"]) if item.get("transform") else None,
                )
            )
        return cls(tuple(fields))


def identity_mapping(table: TableSpec, *, by_position: bool = False) -> Mapping:
    """Kusto identity mapping: delimited files without a header by position, all else by name."""
    if by_position:
        return Mapping(
            tuple(
                FieldMapping(c.name, SourceRef(RefKind.ORDINAL, i))
                for i, c in enumerate(table.columns)
            )
        )
    return Mapping(
        tuple(FieldMapping(c.name, SourceRef(RefKind.COLUMN, c.name)) for c in table.columns)
    )


def parse_json_path(path: str) -> SourceRef:
    if path == "$":
        raise MappingInvalid(
            "the whole-record path '$' is not supported", hint="map individual fields, e.g. $.a"
        )
    if not _PATH.match(path):
        raise MappingInvalid(
            f"JSON path {path!r} is not supported",
            hint="use $.field, $.a.b or $.['name with space'] (no wildcards or array indexes)",
        )
    return SourceRef(RefKind.PATH, path)


def _ordinal(value: Any, index: int) -> int:
    """A CSV ordinal: 0 or "0" (§5 item 33); never a float, a bool or a negative number."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    raise MappingInvalid(
        f"mapping element {index}: Ordinal {value!r} is not a column index (0, 1, ...)"
    )


def mapping_from_kusto(kind: str, elements: Any) -> Mapping:
    """Parse a Kusto ingestion mapping (API-SURFACE §3.9): a list of
    ``{"Column", "Datatype"?, "Properties": {"Ordinal"|"Path"|"ConstValue"|"Transform"}}``."""
    if not isinstance(elements, list) or not elements:
        raise MappingInvalid("an ingestion mapping must be a non-empty JSON array")
    kind = kind.lower()
    fields = []
    for index, element in enumerate(elements):
        if not isinstance(element, dict) or "Column" not in element:
            raise MappingInvalid(f"mapping element {index} needs a 'Column'")
        properties = element.get("Properties") or {}
        if not isinstance(properties, dict):
            raise MappingInvalid(f"mapping element {index}: Properties must be an object")
        props = dict(properties)  # never change the caller's mapping
        # §3.9: older mappings put Ordinal/Path at the element's top level.
        for legacy in ("Ordinal", "Path", "ConstValue", "Transform", "Field"):
            if legacy in element and legacy not in props:
                props[legacy] = element[legacy]
        transform = None
        source: SourceRef | None = None
        raw_transform = props.get("Transform")
        if raw_transform == "SourceLocation":
            source = SourceRef(RefKind.SOURCE_LOCATION)
        elif raw_transform == "SourceLineNumber":
            source = SourceRef(RefKind.LINE_NUMBER)
        elif raw_transform:
            try:
                transform = Transform(str(raw_transform))
            except ValueError:
                raise MappingInvalid(
                    f"mapping element {index}: transform {raw_transform!r} is not supported"
                ) from None
        if source is None:
            if "ConstValue" in props:
                source = SourceRef(RefKind.CONST, str(props["ConstValue"]))
            elif kind == "csv":
                source = SourceRef(RefKind.ORDINAL, _ordinal(props.get("Ordinal"), index))
            elif "Path" in props:
                source = parse_json_path(str(props["Path"]))
            elif "Field" in props:
                source = SourceRef(RefKind.COLUMN, str(props["Field"]))
            else:
                raise MappingInvalid(f"mapping element {index} names no Path, Ordinal or value")
        fields.append(FieldMapping(str(element["Column"]), source, transform=transform))
    return Mapping(tuple(fields))
