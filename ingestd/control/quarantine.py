"""Quarantined rows: list them, and replay them once the mapping or table is fixed.

A replay loads the raw records of quarantined rows again, through the source's current mapping
(or, for rows of a skipped file, as the typed rows they already were), under the unit's own load
key: rows that now pass are loaded and leave the quarantine, rows that still fail stay there
with their new reason, and the unit's counts move from errors to inserted (or updated). Rows the
reader could not even parse (ragged CSV lines, malformed JSON) cannot be fixed by a mapping and
are left for a corrected file.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ingestd.control.catalog import Catalog
from ingestd.dataplane import scratch
from ingestd.dataplane.contract import LoadRequest, LoadResult
from ingestd.dataplane.destinations.interface import Destination
from ingestd.dataplane.pipeline import DataPlane
from ingestd.domain.mapping import Mapping, RefKind, SourceRef, identity_mapping
from ingestd.domain.run_views import FileView
from ingestd.domain.sources import DataFormat, LoadMode, ReadOptions
from ingestd.domain.tables import TableSpec
from ingestd.domain.unit_specs import SourceDayUnitSpec
from ingestd.store.database import Store
from ingestd.store.run_owners import project_name
from ingestd.store.unit_replays import ReplayedUnit, move_replayed_counts, replayed_unit


@dataclass(frozen=True)
class QuarantinedRow:
    id: int
    load_key: str
    unit_id: str | None
    run_id: str | None
    table: str
    file: str | None
    line: int | None
    record: int | None
    column: str | None
    code: str
    message: str | None
    raw: str | None
    quarantined_at: datetime | None


_COLUMNS = (
    "id, load_key, unit_id, run_id, table_name, file, line, record, column_name, code, "
    "message, raw, quarantined_at"
)


class Quarantine:
    def __init__(
        self, warehouse: Destination, dataplane: DataPlane, catalog: Catalog, store: Store
    ) -> None:
        self.warehouse = warehouse
        self.dataplane = dataplane
        self.catalog = catalog
        self.store = store

    def list(
        self,
        project_id: int,
        tables: list[str],
        *,
        unit_id: str | None = None,
        code: str | None = None,
        file: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[QuarantinedRow], int]:
        """Rows of the project's given tables, oldest first, and the total. Only that project's
        rows: another project's table of the same name is another table."""
        if not tables:
            return [], 0
        where = ["project = ?", f"table_name IN ({', '.join('?' for _ in tables)})"]
        params: list[Any] = [project_name(self.store, project_id), *tables]
        if unit_id is not None:
            where.append("unit_id = ?")
            params.append(unit_id)
        if code is not None:
            where.append("code = ?")
            params.append(code)
        if file is not None:
            where.append("file = ?")
            params.append(file)
        clause = " AND ".join(where)
        total = self.warehouse.query(
            f"SELECT count(*) FROM _ingestd.quarantine WHERE {clause}", params
        )
        rows = self.warehouse.query(
            f"SELECT {_COLUMNS} FROM _ingestd.quarantine WHERE {clause} "
            "ORDER BY id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [QuarantinedRow(*row) for row in rows], int(total[0][0])

    def runs_store_unit(self, unit_id: str | None) -> ReplayedUnit | None:
        return None if unit_id is None else replayed_unit(self.store, unit_id)

    def record_replay(self, unit_id: str, result: LoadResult) -> None:
        """Move the unit's counts (and its files') from errors to what the replay loaded."""
        files = [FileView(f.name, f.counts, f.skipped) for f in result.files]
        move_replayed_counts(self.store, unit_id, result.counts, files)


# Codes of rows whose raw record is a JSON object of source fields (replayable).
_PARSE_CODES = frozenset(
    {
        "WRONG_NUMBER_OF_FIELDS",
        "UNCLOSED_QUOTE",
        "INVALID_ENCODING",
        "RECORD_TOO_LARGE",
        "MALFORMED_JSON",
        "NOT_AN_OBJECT",
        "UNPARSEABLE_RECORD",
    }
)


@dataclass(frozen=True)
class ReplayResult:
    replayed: int
    loaded: int
    still_failing: int
    not_replayable: int


def _as_columns(mapping: Mapping, first_raw: dict[str, Any]) -> Mapping:
    """Raw records are JSON objects keyed by source column: ordinals become those names."""
    names = list(first_raw)

    def convert(ref: SourceRef) -> SourceRef:
        if ref.kind is RefKind.ORDINAL and isinstance(ref.value, int) and ref.value < len(names):
            return SourceRef(RefKind.COLUMN, names[ref.value])
        return ref

    return Mapping(
        tuple(
            replace(
                f,
                source=convert(f.source) if f.source is not None else None,
                parts=tuple((k, convert(r)) for k, r in f.parts),
            )
            for f in mapping.fields
        )
    )


class QuarantineReplay:
    """Replays a unit's quarantined rows (see the module docstring)."""

    def __init__(self, quarantine: Quarantine, staging_root: Path) -> None:
        self.quarantine = quarantine
        self.staging_root = staging_root

    def replay(self, project_id: int, table: str, *, unit_id: str | None = None) -> ReplayResult:
        q = self.quarantine
        spec = q.catalog.get_table(project_id, table)
        where = "project = ? AND table_name = ?" + (" AND unit_id = ?" if unit_id else "")
        params: list[Any] = [spec.project, spec.qualified_name, *([unit_id] if unit_id else [])]
        rows = q.warehouse.query(
            f"SELECT id, load_key, unit_id, file, code, raw FROM _ingestd.quarantine "
            f"WHERE {where} ORDER BY id",
            params,
        )
        groups: dict[tuple[str, str | None, bool], list[tuple[int, str, str]]] = {}
        not_replayable = 0
        for row_id, load_key, row_unit, file, code, raw in rows:
            if code in _PARSE_CODES or not raw:
                not_replayable += 1
                continue
            key = (str(load_key), row_unit, code == "FILE_SKIPPED")
            groups.setdefault(key, []).append((int(row_id), str(file or "unknown"), str(raw)))
        total = ReplayResult(0, 0, 0, not_replayable)
        for (load_key, row_unit, typed), items in groups.items():
            result = self._replay_group(project_id, spec, load_key, row_unit, typed, items)
            total = ReplayResult(
                total.replayed + result.replayed,
                total.loaded + result.loaded,
                total.still_failing + result.still_failing,
                total.not_replayable,
            )
        return total

    def _replay_group(
        self,
        project_id: int,
        table: TableSpec,
        load_key: str,
        unit_id: str | None,
        typed: bool,
        items: list[tuple[int, str, str]],
    ) -> ReplayResult:
        q = self.quarantine
        unit = q.runs_store_unit(unit_id)
        mapping, mode = self._mapping_and_mode(project_id, table, unit, typed)
        first = json.loads(items[0][2])
        mapping = _as_columns(mapping, first if isinstance(first, dict) else {})
        folder = scratch.new_folder(self.staging_root, "replay")
        try:
            by_file: dict[str, list[str]] = {}
            for _, file, raw in items:
                by_file.setdefault(file, []).append(raw)
            paths = []
            for index, (file, raws) in enumerate(by_file.items()):
                path = folder / f"{index}.ndjson"
                path.write_text("\n".join(raws) + "\n")
                paths.append((path, file))
            request = LoadRequest(
                load_key=load_key,
                unit_id=unit.id if unit else "replay",
                run_id=unit.run_id if unit else "replay",
                table=table,
                mapping=mapping,
                inputs=tuple(p for p, _ in paths),
                input_names=tuple(name for _, name in paths),
                read_options=ReadOptions(format=DataFormat.JSON),
                mode=mode,
                day=unit.day if unit else None,
                replay_of=tuple(row_id for row_id, _, _ in items),
            )
            result = q.dataplane.load(request)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if unit is not None:
            q.record_replay(unit.id, result)
        c = result.counts
        return ReplayResult(c.read, c.inserted + c.updated, c.errors, 0)

    def _mapping_and_mode(
        self, project_id: int, table: TableSpec, unit: ReplayedUnit | None, typed: bool
    ) -> tuple[Mapping, LoadMode]:
        mode = LoadMode.APPEND
        mapping = identity_mapping(table)
        if unit is not None and unit.source_name is not None:
            source = self.quarantine.catalog.get_source(project_id, unit.source_name)
            mode = source.load_mode
            mapping = source.mapping
        elif unit is not None:
            spec = unit.spec
            if not isinstance(spec, SourceDayUnitSpec) and spec.mapping is not None:
                mapping = spec.mapping
                mode = spec.mode
        if typed:
            mapping = identity_mapping(table)
        return mapping, mode
