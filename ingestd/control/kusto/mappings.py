"""Named ingestion mappings of a table (Kusto ``.create table T ingestion csv mapping "m"``).

A mapping is stored as the Kusto element list it was given (``[{"Column", "Properties"}]``,
API-SURFACE §3.9), under (table, kind, name). It is parsed and checked against the table when
it is created, so a stored mapping always parses and names only columns the table has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingestd.domain.mapping import Mapping, mapping_from_kusto
from ingestd.domain.sources import DataFormat
from ingestd.errors import Conflict, InvalidInput, MappingInvalid, NotFound
from ingestd.store.catalog import CatalogRepository, SqlCatalog, StoredMapping
from ingestd.store.database import Store

MAPPING_KINDS: tuple[str, ...] = ("csv", "json", "avro", "parquet", "orc")
"""Kinds ingestd can apply (§3.9: the CSV kind covers every delimited format and txt)."""

_KIND_OF_FORMAT = {
    DataFormat.CSV: "csv",
    DataFormat.TSV: "csv",
    DataFormat.PSV: "csv",
    DataFormat.SCSV: "csv",
    DataFormat.TXT: "csv",
    DataFormat.JSON: "json",
    DataFormat.MULTIJSON: "json",
    DataFormat.AVRO: "avro",
    DataFormat.PARQUET: "parquet",
    DataFormat.ORC: "orc",
}


def mapping_kind_of(data_format: DataFormat) -> str:
    """The mapping kind that applies to a format (§3.9)."""
    return _KIND_OF_FORMAT[data_format]


_ELEMENT_KEYS = {k.lower(): k for k in ("Column", "DataType", "Datatype", "Properties")}
_ELEMENT_KEYS |= {k.lower(): k for k in ("Ordinal", "Path", "ConstValue", "Transform", "Field")}
_PROPERTY_KEYS = {k.lower(): k for k in ("Ordinal", "Path", "ConstValue", "Transform", "Field")}


def normalize_elements(elements: Any) -> Any:
    """Kusto reads mapping element keys case-insensitively (the vendor's own examples write
    ``"column"``): spell them as ``domain.mapping`` expects. Anything else is left alone."""
    if not isinstance(elements, list):
        return elements
    out: list[Any] = []
    for element in elements:
        if not isinstance(element, dict):
            out.append(element)
            continue
        fixed = {_ELEMENT_KEYS.get(str(k).lower(), k): v for k, v in element.items()}
        props = fixed.get("Properties")
        if isinstance(props, dict):
            fixed["Properties"] = {
                _PROPERTY_KEYS.get(str(k).lower(), k): v for k, v in props.items()
            }
        out.append(fixed)
    return out


def kusto_mapping(kind: str, elements: Any) -> Mapping:
    """Parse Kusto mapping elements of ``kind``; raises ``MappingInvalid``."""
    return mapping_from_kusto(kind, normalize_elements(elements))


def check_kind(kind: str) -> str:
    lowered = kind.lower()
    if lowered not in MAPPING_KINDS:
        raise InvalidInput(
            f"mapping kind {kind!r} is not supported", hint=f"use {', '.join(MAPPING_KINDS)}"
        )
    return lowered


@dataclass(frozen=True)
class MappingView:
    table: str
    """Qualified ``namespace.name``."""
    kind: str
    name: str
    elements: list[Any]
    updated_at: datetime

    @property
    def mapping(self) -> Mapping:
        return kusto_mapping(self.kind, self.elements)

    @classmethod
    def of(cls, stored: StoredMapping) -> MappingView:
        return cls(stored.table, stored.kind, stored.name, stored.elements, stored.updated_at)


class Mappings:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.repo: CatalogRepository = SqlCatalog(store)

    def create(
        self,
        project_id: int,
        table: str,
        kind: str,
        name: str,
        elements: Any,
        *,
        replace: bool = False,
    ) -> MappingView:
        """Store a mapping; with ``replace`` an existing one of that kind and name is replaced
        (Kusto ``.create-or-alter``), else it is a ``Conflict``. Raises ``MappingInvalid`` for a
        mapping that does not parse or names columns the table lacks."""
        kind = check_kind(kind)
        if not name or len(name) > 128:
            raise InvalidInput("a mapping needs a name of 1 to 128 characters")
        spec = self.repo.find_table(project_id, table)
        if spec is None:
            raise NotFound(f"table {table} does not exist", hint="create it first")
        elements = normalize_elements(elements)
        kusto_mapping(kind, elements).check_against(spec)
        stored = self.repo.save_mapping(
            project_id, table, kind, name, list(elements), replace=replace
        )
        if stored is None:
            raise Conflict(
                f"{kind} mapping {name!r} of {table} exists already",
                hint="use .create-or-alter to replace it",
            )
        return MappingView.of(stored)

    def get(self, project_id: int, table: str, name: str, kind: str | None = None) -> MappingView:
        """The mapping called ``name`` (of ``kind``, if given; else the only one by that name).
        Raises ``NotFound``, or ``MappingInvalid`` when the name is ambiguous."""
        matches = [m for m in self.list(project_id, table, kind) if m.name == name]
        if not matches:
            of_kind = f"{kind} " if kind else ""
            raise NotFound(f"{of_kind}mapping {name!r} of {table} does not exist")
        if len(matches) > 1:
            kinds = ", ".join(m.kind for m in matches)
            raise MappingInvalid(
                f"mapping {name!r} of {table} exists for several kinds ({kinds})",
                hint="give the format so that the kind is known",
            )
        return matches[0]

    def list(self, project_id: int, table: str, kind: str | None = None) -> list[MappingView]:
        checked = None if kind is None else check_kind(kind)
        return [MappingView.of(m) for m in self.repo.mappings(project_id, table, checked)]
