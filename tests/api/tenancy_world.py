"""Two projects, ``alpha`` and ``beta``, with keys of every kind and one of every resource,
built through the three dialects' own APIs, for the tenancy attack matrix.

Beta's resources carry planted marker strings (``BETA-MARKER``...) in everything a response
could echo (hosts, column names, mapping names, record values, docstrings), so that a leak is
found by grepping any response body for them. Where a name is the handle (source ``orders``,
Statsig dataset ``Events``, Kusto ``db.T``, Amperity stream ``signups``), alpha has a resource of
the SAME name, so that a lookup by name that forgot the project would find beta's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import Table, select

from ingestd.api.amperity import router as amperity
from ingestd.api.amperity.deps import configure as configure_amperity
from ingestd.api.amperity.translate import job_id, workflow_id
from ingestd.api.kusto import router as kusto
from ingestd.api.kusto.storage import router as kusto_storage
from ingestd.api.native import router as native
from ingestd.api.rate_limit import RateLimiter
from ingestd.api.statsig import router as statsig
from ingestd.control.access import KeyKind
from ingestd.control.amperity.oauth import ClientCredentials
from ingestd.domain.sources import LoadMode
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.services import Services
from ingestd.store.schema import ApiKey, Base, utcnow

PROJECTS = ("alpha", "beta")
MARKER = "BETA-MARKER"
"""Every beta-only string the matrix plants starts with this (or contains ``beta_marker``)."""
MARKERS = (MARKER, "beta_marker", "beta-marker")
DAYS = ("2026-01-05", "2026-01-06")
MAPPING = {
    "unit_id": "user",
    "event_name": "event",
    "timestamp": "ts",
    "ids": {"userID": "user"},
    "metadata": {"page": "page"},
}
STREAM_TABLE = TableSpec(
    "crm",
    "signups",
    (Column("id", ColumnType.INT64, nullable=False), Column("name", ColumnType.STRING)),
    primary_key=("id",),
)


@dataclass
class Tenant:
    """One project: its keys by kind, and the handles of what was created in it."""

    name: str
    project_id: int
    keys: dict[KeyKind, str]
    revoked_key: str
    ids: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    client: TestClient
    services: Services
    alpha: Tenant
    beta: Tenant
    clients: dict[KeyKind, ClientCredentials] = field(default_factory=dict)
    """Alpha's OAuth clients by kind (the Amperity token grant)."""

    # -- callers --------------------------------------------------------------------------

    def statsig(
        self,
        method: str,
        path: str,
        key: str | None,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Response:
        headers = {} if key is None else {"STATSIG-API-KEY": key}
        return self.client.request(method, path, json=body, params=params, headers=headers)

    def amperity(
        self,
        method: str,
        path: str,
        key: str | None,
        tenant: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
    ) -> Response:
        headers = {"amperity-tenant": tenant, "api-version": "2024-04-01"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if content is not None:
            headers["Content-Type"] = "application/json"
            return self.client.request(method, path, content=content, headers=headers)
        return self.client.request(method, path, json=body, params=params, headers=headers)

    def kusto(
        self,
        method: str,
        path: str,
        key: str | None,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Response:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return self.client.request(method, path, json=body, params=params, headers=headers)

    def native(
        self,
        method: str,
        path: str,
        key: str | None,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Response:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return self.client.request(
            method, "/ingestd/v1" + path, json=body, params=params, headers=headers
        )

    def mgmt(self, csl: str, key: str | None, db: str = "db") -> Response:
        return self.kusto("POST", "/v1/rest/mgmt", key, body={"db": db, "csl": csl})

    def drain(self) -> None:
        pool = self.services.pool(workers=1)
        while pool.run_once():
            pass

    # -- beta's state -----------------------------------------------------------------------

    def metadata_of(self, tenant: Tenant) -> dict[str, list[tuple[Any, ...]]]:
        """Every metadata row of the project: tables with ``project_id`` filtered on it, and
        their children (rows with a foreign key to such a row) filtered through it."""
        scoped: dict[str, Table] = {}
        for table in Base.metadata.sorted_tables:
            if "project_id" in table.c:
                scoped[table.name] = table
        rows: dict[str, list[tuple[Any, ...]]] = {}
        with self.services.store.read() as session:
            for name, table in scoped.items():
                # A key's last use is stamped when it authenticates, also on a call refused
                # afterwards (alpha's key naming tenant beta): the caller's own bookkeeping,
                # not a change to any project's resources.
                columns = [c for c in table.c if (name, c.name) != ("api_keys", "last_used_at")]
                query = select(*columns).where(table.c.project_id == tenant.project_id)
                rows[name] = sorted(
                    (tuple(r) for r in session.execute(query)), key=lambda r: repr(r)
                )
            for table in Base.metadata.sorted_tables:
                if table.name in scoped or table.name == "projects":
                    continue
                for fk in table.foreign_keys:
                    parent = fk.column.table
                    if parent.name in scoped:
                        ids = select(fk.column).where(
                            scoped[parent.name].c.project_id == tenant.project_id
                        )
                        query = select(table).where(fk.parent.in_(ids))
                        rows[table.name] = sorted(
                            (tuple(r) for r in session.execute(query)), key=lambda r: repr(r)
                        )
                        break
        return rows

    def views_of(self, tenant: Tenant) -> dict[str, Any]:
        """What the project's own console key sees through every read endpoint."""
        key = tenant.keys[KeyKind.CONSOLE]
        views: dict[str, Any] = {}

        def keep(label: str, response: Response) -> None:
            views[label] = (response.status_code, _stable(response))

        window = {"startDate": "2026-01-01", "endDate": "2026-01-31"}
        count = {"start_date": "2026-01-01", "end_date": "2026-01-31"}
        keep(
            "statsig source",
            self.statsig(
                "GET",
                "/console/v1/ingestion",
                key,
                params={"type": "file", "dataset": "Events", "source_name": "orders"},
            ),
        )
        keep("statsig runs", self.statsig("GET", "/console/v1/ingestion/runs", key))
        keep(
            "statsig status",
            self.statsig("GET", "/console/v1/ingestion/status", key, params=window),
        )
        keep(
            "statsig schedule",
            self.statsig(
                "GET", "/console/v1/ingestion/schedule", key, params={"dataset": "Events"}
            ),
        )
        for kind in ("file", "postgres", "databricks"):
            keep(
                f"statsig connection {kind}",
                self.statsig("GET", f"/console/v1/ingestion/connection/{kind}", key),
            )
        keep(
            "statsig count",
            self.statsig("GET", "/console/v1/ingestion/events/count", key, params=count),
        )
        keep(
            "statsig delta",
            self.statsig("GET", "/console/v1/ingestion/events/delta", key, params=count),
        )
        keep(
            "amperity workflows",
            self.amperity("GET", "/api/workflow/runs", key, tenant.name, params={"limit": 1000}),
        )
        for csl in (
            ".show tables",
            ".show table T schema as json",
            ".show table T ingestion csv mappings",
            f'.show queued ingestion operations "{tenant.ids["kusto_op"]}" details',
        ):
            keep(f"kusto {csl}", self.mgmt(csl, key))
        keep(
            "kusto op status",
            self.kusto(
                "GET",
                f"/v1/rest/ingestion/queued/db/T/{tenant.ids['kusto_op']}",
                key,
                params={"details": "true"},
            ),
        )
        for label, path, params in (
            ("native runs", "/runs", {"limit": 500}),
            ("native status", "/status", {"start": DAYS[0], "end": DAYS[1]}),
            ("native quarantine", "/quarantine", None),
            ("native keys", "/keys", None),
            ("native connections", "/connections", None),
            ("native tables", "/tables", None),
            ("native sources", "/sources", None),
        ):
            keep(label, self.native("GET", path, key, params=params))
        # Taking this view authenticates with beta's own key, which stamps its last use (at
        # most once a minute): the observer's footprint, not alpha's; a slow machine would
        # otherwise see beta "change" between two views a minute apart.
        status, listed = views["native keys"]
        if isinstance(listed, dict) and isinstance(listed.get("data"), list):
            for item in listed["data"]:
                if isinstance(item, dict):
                    item.pop("last_used_at", None)
        views["native keys"] = (status, listed)
        return views

    def state_of(self, tenant: Tenant) -> dict[str, Any]:
        return {"metadata": self.metadata_of(tenant), "views": self.views_of(tenant)}


_VOLATILE = ("timestamp", "activityId", "clientRequestId")


def _stable(response: Response) -> Any:
    """A response body without what changes from call to call (Kusto's error context)."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    return _strip(body)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def leaked(response: Response, sent: str = "") -> list[str]:
    """Beta's markers in a response body that the request itself did not carry."""
    text = response.text
    return [m for m in MARKERS if m in text and m not in sent]


def build_app(services: Services) -> FastAPI:
    """The three dialects' routers as ``create_app`` mounts them, with the Amperity per-tenant
    limit raised so that the matrix's many calls are refused for who they are, never for their
    rate (a 429 would make every cell pass for the wrong reason)."""
    app = FastAPI()
    app.state.services = services
    app.include_router(statsig.router)
    configure_amperity(app, services, limiter=RateLimiter([(1_000_000, 1.0)]))
    app.include_router(amperity.router)
    app.include_router(kusto.router)
    app.include_router(kusto_storage.build_router(services))
    app.include_router(native.build_router())
    return app


def _tenant(services: Services, name: str) -> Tenant:
    keys = {kind: services.access.create_key(name, kind) for kind in KeyKind}
    project_id = services.access.project_id(name)
    tenant = Tenant(name, project_id, keys, revoked_key="")
    tenant.ids["read_key_prefix"] = keys[KeyKind.READ][:16]
    return tenant


def _revoke(services: Services, raw_key: str) -> None:
    """Revoke one key (``Access.revoke_keys`` revokes a whole project's)."""
    with services.store.write() as session:
        for row in session.scalars(select(ApiKey).where(ApiKey.prefix == raw_key[:16])):
            row.revoked_at = utcnow()


def _ok(response: Response) -> Any:
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json() if response.content else None


def populate(world: World, tenant: Tenant, files: Path) -> None:
    """One of every resource in ``tenant``; beta's carry the markers, alpha's do not."""
    beta = tenant.name == "beta"
    tag = MARKER if beta else "alpha"
    key = tenant.keys[KeyKind.CONSOLE]
    root = files / tenant.name
    for day in DAYS:
        folder = root / "events" / day
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "a.csv").write_text(
            "user,event,ts,page\n"
            f"{tag}-user,{tag}-click,1767600000,/{tag}\n"
            f"{tag}-user2,{tag}-view,1767600001,/{tag}\n"
        )
    # Statsig: connections of several types, sources (same name ``orders`` in both), schedule.
    _ok(
        world.statsig(
            "POST", "/console/v1/ingestion/connection/file", key, body={"root": str(root)}
        )
    )
    _ok(
        world.statsig(
            "POST",
            "/console/v1/ingestion/connection/postgres",
            key,
            body={
                "host": f"{tag.lower()}-host.example",
                "port": 5432,
                "database": f"{tag.lower()}_db",
                "user": f"{tag.lower()}_user",
                "password": f"{tag}-password",
            },
        )
    )
    _ok(
        world.statsig(
            "POST",
            "/console/v1/ingestion/connection/databricks",
            key,
            body={
                "token": f"{tag}-token",
                "host": f"{tag.lower()}.databricks.example",
                "path": "/sql/1",
            },
        )
    )
    for name in ["orders", *(["beta_marker_only"] if beta else ["alpha_only"])]:
        _ok(
            world.statsig(
                "POST",
                "/console/v1/ingestion",
                key,
                body={
                    "type": "file",
                    "dataset": "Events",
                    "source_name": name,
                    "query": "events/{ds}/*.csv",
                    "column_mapping": MAPPING,
                },
            )
        )
    _ok(
        world.statsig(
            "POST",
            "/console/v1/ingestion/schedule",
            key,
            body={"dataset": "Events", "scheduled_hour_pst": 7 if beta else 3},
        )
    )
    run = _ok(
        world.statsig(
            "POST",
            "/console/v1/ingestion/backfill",
            key,
            body={
                "type": "file",
                "dataset": "Events",
                "datestamp_start": DAYS[0],
                "datestamp_end": DAYS[1],
                "source": "orders",
            },
        )
    )
    tenant.ids["statsig_run"] = run["data"]["runID"]
    tenant.ids["job"] = job_id(tenant.ids["statsig_run"])
    tenant.ids["workflow"] = workflow_id(tenant.ids["statsig_run"])
    sources = world.services.catalog.list_sources(tenant.project_id)
    tenant.ids["orders_source_id"] = str(next(s.id for s in sources if s.name == "orders"))
    # Amperity: a stream (same id ``signups`` in both) with a pending record.
    world.services.catalog.create_table(tenant.project_id, STREAM_TABLE)
    world.services.streams.create_stream(
        tenant.project_id, "signups", "crm.signups", load_mode=LoadMode.UPSERT
    )
    record = json.dumps({"id": 1, "name": f"{tag}-signup"}).encode()
    accepted = world.amperity("POST", "/stream/v0/data/signups", key, tenant.name, content=record)
    assert accepted.status_code == 202, accepted.text
    # Kusto: table db.T (same name in both) with a mapping, a tracked queued ingestion with
    # tags, and a beta-only table.
    column = "beta_marker_col" if beta else "alpha_col"
    _ok(world.mgmt(f".create table T (name:string, n:long, {column}:string)", key))
    _ok(
        world.mgmt(
            f'.create table T ingestion csv mapping "{"beta_marker_map" if beta else "alpha_map"}" '
            '\'[{"column":"name","Properties":{"Ordinal":"0"}},'
            '{"column":"n","Properties":{"Ordinal":"1"}}]\'',
            key,
        )
    )
    if beta:
        _ok(world.mgmt(".create table BetaMarkerOnly (beta_marker_x:string)", key))
    blob = root / "kusto" / "rows.csv"
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_text(f"{tag}-row,1,{tag}\n{tag}-bad,not-a-number,{tag}\n")
    queued = _ok(
        world.kusto(
            "POST",
            "/v1/rest/ingestion/queued/db/T",
            key,
            body={
                "blobs": [{"url": blob.as_uri()}],
                "properties": {
                    "enableTracking": True,
                    "format": "csv",
                    "tags": [f"drop-by:{tag}-tag", f"ingest-by:{tag}-tag"],
                },
            },
        )
    )
    tenant.ids["kusto_op"] = queued["ingestionOperationId"]


def make_world(services: Services) -> Iterator[World]:
    files = services.settings.data_dir / "files"
    alpha, beta = (_tenant(services, name) for name in PROJECTS)
    for tenant in (alpha, beta):
        tenant.revoked_key = services.access.create_key(tenant.name, KeyKind.CONSOLE)
        _revoke(services, tenant.revoked_key)
    with TestClient(build_app(services)) as client:
        world = World(client, services, alpha, beta)
        world.clients = {kind: services.oauth.create_client("alpha", kind) for kind in KeyKind}
        populate(world, beta, files)
        populate(world, alpha, files)
        world.drain()
        for tenant in (beta, alpha):
            _pending(world, tenant, files)
        yield world


def _pending(world: World, tenant: Tenant, files: Path) -> None:
    """Work that has not run yet (the pool is not drained again): a Statsig run, which is also
    an Amperity workflow to stop, and a Kusto queued operation to cancel."""
    key = tenant.keys[KeyKind.CONSOLE]
    run = _ok(
        world.statsig(
            "POST",
            "/console/v1/ingestion/backfill",
            key,
            body={
                "type": "file",
                "dataset": "Events",
                "datestamp_start": DAYS[0],
                "datestamp_end": DAYS[0],
                "source": "orders",
            },
        )
    )
    tenant.ids["pending_run"] = run["data"]["runID"]
    pending = world.services.runs.get_run(tenant.project_id, run["data"]["runID"])
    tenant.ids["pending_unit"] = pending.units[0].id
    tenant.ids["pending_workflow"] = workflow_id(run["data"]["runID"])
    blob = files / tenant.name / "kusto" / "rows.csv"
    queued = _ok(
        world.kusto(
            "POST",
            "/v1/rest/ingestion/queued/db/T",
            key,
            body={"blobs": [{"url": blob.as_uri()}], "properties": {"enableTracking": True}},
        )
    )
    tenant.ids["pending_op"] = queued["ingestionOperationId"]
