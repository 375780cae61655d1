"""Quarantined rows: list them, and replay them once the mapping or table is fixed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingestd.control.catalog import Catalog
from ingestd.dataplane.pipeline import DataPlane
from ingestd.dataplane.warehouse import Warehouse
from ingestd.store.database import Store


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
        self, warehouse: Warehouse, dataplane: DataPlane, catalog: Catalog, store: Store
    ) -> None:
        self.warehouse = warehouse
        self.dataplane = dataplane
        self.catalog = catalog
        self.store = store

    def list(
        self,
        tables: list[str],
        *,
        unit_id: str | None = None,
        code: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[QuarantinedRow], int]:
        """Rows of the given tables (the caller's project's tables), oldest first, and the total."""
        if not tables:
            return [], 0
        where = [f"table_name IN ({', '.join('?' for _ in tables)})"]
        params: list[Any] = list(tables)
        if unit_id is not None:
            where.append("unit_id = ?")
            params.append(unit_id)
        if code is not None:
            where.append("code = ?")
            params.append(code)
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
