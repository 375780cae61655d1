"""Demo data: a few days of generated events and orders, so a newcomer sees ingestd work.

Files are written under ``<data_dir>/files/demo``; a few rows are bad on purpose (an unparseable
timestamp on line 5 and a missing event name on line 10 of each day's events file, an exact
duplicate at its end) so quarantine, accounting and a source preview's errors show up.
"""

from __future__ import annotations

import contextlib
import csv
import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ingestd.control.access import KeyKind
from ingestd.control.services import Services
from ingestd.domain.connections import FileConnection
from ingestd.domain.datasets import DATASET_TABLES, mapping_from_column_mapping
from ingestd.domain.mapping import mapping_from_kusto
from ingestd.domain.sources import DataFormat, LoadMode, ReadOptions
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.errors import Conflict

PROJECT = "demo"
EVENTS_PER_DAY = 2_000
EVENT_NAMES = ("page_view", "add_to_cart", "checkout", "purchase", "search")
ORDERS = TableSpec(
    "shop",
    "orders",
    (
        Column("order_id", ColumnType.STRING, nullable=False),
        Column("customer", ColumnType.STRING, nullable=False),
        Column("amount", ColumnType.FLOAT64, nullable=False),
        Column("status", ColumnType.STRING),
        Column("updated_at", ColumnType.TIMESTAMP),
    ),
    primary_key=("order_id",),
)


@dataclass(frozen=True)
class DemoSetup:
    project_id: int
    days: list[date]
    sources: list[str]


def write_files(folder: Path, days: list[date], seed: int = 7) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for day in days:
        start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        rows = []
        for i in range(EVENTS_PER_DAY):
            user = f"user_{rng.randrange(500)}"
            rows.append(
                [
                    user,
                    rng.choice(EVENT_NAMES),
                    start + rng.randrange(86_400),
                    f"{rng.random() * 100:.2f}",
                    json.dumps({"device": rng.choice(["ios", "web"])}),
                    f"session_{i // 7}",
                ]
            )
        # Bad rows near the top, so a preview of the first rows shows them too.
        rows.insert(3, ["user_1", "purchase", "yesterday noon", "9.99", "{}", "s"])  # bad ts
        rows.insert(8, ["user_2", "", start + 5, "1", "{}", "s"])  # missing event_name
        rows.append(list(rows[0]))  # exact duplicate
        with (folder / f"events_{day.isoformat()}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["user_id", "event", "ts", "value", "meta", "session"])
            writer.writerows(rows)
        with (folder / f"orders_{day.isoformat()}.ndjson").open("w") as handle:
            for i in range(200):
                order = {
                    "order": {"id": f"o{rng.randrange(400)}", "customer": f"user_{i}"},
                    "amount": round(rng.random() * 300, 2),
                    "status": rng.choice(["new", "paid", "shipped"]),
                    "at": f"{day.isoformat()}T{rng.randrange(24):02d}:00:00Z",
                }
                handle.write(json.dumps(order) + "\n")


def set_up(services: Services, *, days_back: int = 3, today: date | None = None) -> DemoSetup:
    """Create the demo project, tables, sources and files (idempotent)."""
    today = today or services.clock().date()
    days = [today - timedelta(days=n) for n in range(days_back, 0, -1)]
    folder = services.settings.data_dir / "files" / "demo"
    write_files(folder, days)
    project_id = services.access.ensure_project(PROJECT)
    catalog = services.catalog
    for table in (DATASET_TABLES["events"], ORDERS):
        catalog.create_table(project_id, table, merge=True)
    with contextlib.suppress(Conflict):  # a second `make run` reuses the connection
        catalog.create_connection(project_id, "demo-files", FileConnection(root=str(folder)))
    existing = {s.name for s in catalog.list_sources(project_id)}
    if "demo-events" not in existing:
        column_mapping = {
            "unit_id": "user_id",
            "event_name": "event",
            "timestamp": "ts",
            "event_value": "value",
            "metadata_object": "meta",
            "ids": {"userID": "user_id"},
            "metadata": {"session": "session"},
        }
        catalog.create_source(
            project_id,
            name="demo-events",
            table="statsig.events",
            connection="demo-files",
            dataset="events",
            path_template="events_{ds}.csv",
            mapping=mapping_from_column_mapping("Events", column_mapping),
            column_mapping=column_mapping,
            schedule_hour_pst=2,
        )
    if "demo-orders" not in existing:
        mapping = mapping_from_kusto(
            "json",
            [
                {"Column": "order_id", "Properties": {"Path": "$.order.id"}},
                {"Column": "customer", "Properties": {"Path": "$.order.customer"}},
                {"Column": "amount", "Properties": {"Path": "$.amount"}},
                {"Column": "status", "Properties": {"Path": "$.status"}},
                {"Column": "updated_at", "Properties": {"Path": "$.at"}},
            ],
        )
        catalog.create_source(
            project_id,
            name="demo-orders",
            table="shop.orders",
            connection="demo-files",
            path_template="orders_{ds}.ndjson",
            read_options=ReadOptions(format=DataFormat.JSON),
            mapping=mapping,
            load_mode=LoadMode.UPSERT,
        )
    return DemoSetup(project_id, days, ["demo-events", "demo-orders"])


def demo_key(services: Services) -> str:
    return services.access.create_key(PROJECT, KeyKind.CONSOLE)
