"""The tenancy attack matrix: every endpoint of every dialect, called with every key kind of
project alpha against project beta's resources (nothing of beta's read, nothing changed), and
the key-kind matrix within one project (read keys change nothing, ingest keys only ingest;
revoked, missing, malformed and wrong-tenant credentials get nothing).

The matrix is the list ``CELLS``; ``test_every_route_is_in_the_matrix`` fails when the app
serves a route that no cell covers, so a new endpoint must be added here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from httpx2 import Response

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind, Permission
from ingestd.domain.kusto_storage import Resource
from tests.api.tenancy_world import (
    DAYS,
    MAPPING,
    MARKER,
    Tenant,
    World,
    _stable,
    leaked,
    make_world,
)
from tests.conftest import make_services

DASHBOARD_ROUTES = frozenset(
    {
        ("GET", "/"),
        ("GET", "/ui/static"),
        ("GET", "/ui/login"),
        ("POST", "/ui/login"),
        ("POST", "/ui/logout"),
        ("GET", "/ui/days/{source}/{day}"),
        ("GET", "/ui/runs"),
        ("GET", "/ui/runs/{run_id}"),
        ("GET", "/ui/runs/{run_id}/progress"),
        ("POST", "/ui/runs/{run_id}/cancel"),
        ("GET", "/ui/kusto"),
        ("GET", "/ui/workers"),
        ("GET", "/ui/quarantine"),
        ("POST", "/ui/quarantine/replay"),
        ("GET", "/ui/sources"),
        ("GET", "/ui/sources/{name}"),
        ("POST", "/ui/sources/{name}/backfill"),
        ("GET", "/ui/sources/{name}/preview"),
    }
)
NOT_TENANT_ROUTES = frozenset(
    {
        ("GET", "/healthz"),  # liveness: no project's data, no key
        # Operator-only (INGESTD_METRICS_TOKEN or a loopback client); no project key opens
        # it: tests/api/observability/test_metrics_endpoint.py.
        ("GET", "/metrics"),
        ("GET", "/ingestd/v1/readiness"),  # readiness: check names and codes, no key
        ("GET", "/openapi.json"),  # FastAPI's schema of the routes: no data
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/docs-assets"),  # Swagger UI's own JS and CSS, from swagger-ui-bundle: no data
        ("GET", "/redoc"),
        ("HEAD", "/openapi.json"),
        ("HEAD", "/docs"),
        ("HEAD", "/docs/oauth2-redirect"),
        ("HEAD", "/redoc"),
        # The dashboard is opened with a session cookie, not a key in a header: its own
        # matrix is tests/api/dashboard/test_dashboard_tenancy.py (and its assets hold no data).
        *DASHBOARD_ROUTES,
        # The dashboard's 404 page for a /ui/ path no route serves: no data, no key.
        *(
            (method, "/ui/{path:path}")
            for method in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
        ),
    }
)
"""Routes outside the matrix, on purpose: they serve no project's data, or (the dashboard)
are checked by their own tenancy tests."""

Call = Callable[[World, "str | None", str, Tenant], Response]
"""(world, key, amperity tenant header, the project whose resources are addressed)."""


@dataclass(frozen=True)
class Cell:
    method: str
    path: str
    """The route's path template, as ``app.routes`` lists it."""
    label: str
    needs: Permission
    call: Call
    only_in_target: bool
    """The addressed resource exists only in the target project: another project's key must
    be refused (4xx). Otherwise alpha has one of the same name, and may act on its own."""
    refused_as: int = 404
    """The status another project's key gets: the dialect's answer for an unknown handle."""


def _st(method: str, path: str, **kw: object) -> Call:
    def call(w: World, key: str | None, tenant: str, target: Tenant) -> Response:
        return w.statsig(method, path, key, **kw)  # type: ignore[arg-type]

    return call


def _src_body(name: str, **extra: object) -> dict[str, object]:
    return {"type": "file", "dataset": "Events", "source_name": name, **extra}


def _cells() -> list[Cell]:
    c: list[Cell] = []
    read, ingest, conf = Permission.READ, Permission.INGEST, Permission.CONFIGURE
    src = "/console/v1/ingestion"
    for name, only in (("orders", False), ("beta_marker_only", True)):
        params = {"type": "file", "dataset": "Events", "source_name": name}
        c += [
            Cell("GET", src, f"read source {name}", read, _st("GET", src, params=params), only),
            Cell(
                "PATCH",
                src,
                f"disable source {name}",
                conf,
                _st("PATCH", src, body=_src_body(name, enabled=False)),
                only,
            ),
            Cell(
                "POST",
                "/console/v1/ingestion/backfill",
                f"backfill {name}",
                ingest,
                _st(
                    "POST",
                    "/console/v1/ingestion/backfill",
                    body={
                        "type": "file",
                        "dataset": "Events",
                        "datestamp_start": DAYS[0],
                        "datestamp_end": DAYS[0],
                        "source": name,
                    },
                ),
                only,
                400,  # Statsig: a source name not in the dataset is a bad request
            ),
        ]
    c.append(
        Cell(
            "DELETE",
            src,
            "delete source beta_marker_only",
            conf,
            _st(
                "DELETE",
                src,
                params={"type": "file", "dataset": "Events", "source_name": "beta_marker_only"},
            ),
            True,
        )
    )
    c.append(
        Cell(
            "POST",
            src,
            "create source beta_marker_only",
            conf,
            _st(
                "POST",
                src,
                body=_src_body(
                    "beta_marker_only", query="events/{ds}/*.csv", column_mapping=MAPPING
                ),
            ),
            False,
        )
    )

    def run_of(kind: str) -> Call:
        def call(w: World, key: str | None, tenant: str, target: Tenant) -> Response:
            return w.statsig("GET", f"/console/v1/ingestion/runs/{target.ids[kind]}", key)

        return call

    c += [
        Cell(
            "GET", "/console/v1/ingestion/runs", "list runs", read, _st("GET", f"{src}/runs"), False
        ),
        Cell(
            "GET",
            "/console/v1/ingestion/runs/{run_id}",
            "read run",
            read,
            run_of("statsig_run"),
            True,
        ),
        Cell(
            "GET",
            "/console/v1/ingestion/status",
            "list status",
            read,
            _st(
                "GET", f"{src}/status", params={"startDate": "2026-01-01", "endDate": "2026-01-31"}
            ),
            False,
        ),
        Cell(
            "GET",
            "/console/v1/ingestion/schedule",
            "read schedule",
            read,
            _st("GET", f"{src}/schedule", params={"dataset": "Events"}),
            False,
        ),
        Cell(
            "POST",
            "/console/v1/ingestion/schedule",
            "update schedule",
            conf,
            _st("POST", f"{src}/schedule", body={"dataset": "Events", "scheduled_hour_pst": 11}),
            False,
        ),
        Cell(
            "POST",
            "/v1/mark_data_ready_dwh",
            "mark data ready",
            ingest,
            _st(
                "POST", "/v1/mark_data_ready_dwh", body={"type": "events", "datestamps": [DAYS[0]]}
            ),
            False,
        ),
        Cell(
            "POST",
            "/console/v1/ingestion/connection/databricks",
            "replace databricks connection",
            conf,
            _st(
                "POST",
                f"{src}/connection/databricks",
                body={"token": "t", "host": "h.example", "path": "/p"},
            ),
            False,
        ),
        Cell(
            "POST",
            "/console/v1/ingestion/connection/{connection_type}",
            "replace postgres connection",
            conf,
            _st(
                "POST",
                f"{src}/connection/postgres",
                body={
                    "host": "h.example",
                    "port": 5432,
                    "database": "d",
                    "user": "u",
                    "password": "p",
                },
            ),
            False,
        ),
        Cell(
            "GET",
            "/console/v1/ingestion/connection/{connection_type}",
            "read postgres connection",
            read,
            _st("GET", f"{src}/connection/postgres"),
            False,
        ),
        Cell(
            "GET",
            "/console/v1/ingestion/events/count",
            "event count",
            read,
            _st(
                "GET",
                f"{src}/events/count",
                params={"start_date": "2026-01-01", "end_date": "2026-01-31"},
            ),
            False,
        ),
        Cell(
            "GET",
            "/console/v1/ingestion/events/delta",
            "event delta",
            read,
            _st(
                "GET",
                f"{src}/events/delta",
                params={"start_date": "2026-01-01", "end_date": "2026-01-31"},
            ),
            False,
        ),
        # Destructive ones last: alpha's own same-named resources go away with them.
        Cell(
            "DELETE",
            "/console/v1/ingestion/connection/{connection_type}",
            "delete databricks connection",
            conf,
            _st("DELETE", f"{src}/connection/databricks"),
            False,
        ),
    ]

    # -- Amperity ---------------------------------------------------------------------------
    def am(method: str, path_of: Callable[[Tenant], str], **kw: object) -> Call:
        def call(w: World, key: str | None, tenant: str, target: Tenant) -> Response:
            body = kw.get("body")
            kw2 = {**kw, "body": body(target)} if callable(body) else kw
            return w.amperity(method, path_of(target), key, tenant, **kw2)

        return call

    window = {"created_from": "2020-01-01T00:00:00Z", "created_to": "2020-01-07T00:00:00Z"}
    c += [
        Cell(
            "GET",
            "/api/ingest/jobs",
            "list jobs",
            read,
            am("GET", lambda t: "/api/ingest/jobs", params=window),
            False,
        ),
        Cell(
            "GET",
            "/api/ingest/jobs/{job_id:amperity_any}",
            "read job",
            read,
            am("GET", lambda t: f"/api/ingest/jobs/{t.ids['job']}"),
            True,
        ),
        Cell(
            "GET",
            "/api/workflow/runs",
            "list workflows",
            read,
            am("GET", lambda t: "/api/workflow/runs", params={"limit": 1000}),
            False,
        ),
        Cell(
            "GET",
            "/api/workflow/runs/{workflow_id:amperity_any}",
            "read workflow",
            read,
            am(
                "GET",
                lambda t: f"/api/workflow/runs/{t.ids['workflow']}",
                params={"view": "verbose"},
            ),
            True,
        ),
        Cell(
            "POST",
            "/api/workflow/runs",
            "start beta's feed by id",
            ingest,
            am(
                "POST",
                lambda t: "/api/workflow/runs",
                body=lambda t: {
                    "config_id": f"df-{t.ids['orders_source_id']}",
                    "range_from": "2026-01-05T00:00:00Z",
                },
            ),
            True,
            400,  # §2.5: an unknown config_id is a bad request
        ),
        Cell(
            "POST",
            "/api/workflow/runs/{workflow_id:amperity_any}/stop",
            "stop beta's pending workflow",
            ingest,
            am("POST", lambda t: f"/api/workflow/runs/{t.ids['pending_workflow']}/stop"),
            True,
        ),
        Cell(
            "POST",
            "/stream/v0/data/{stream_id:amperity_any}",
            "stream a record to signups",
            ingest,
            am("POST", lambda t: "/stream/v0/data/signups", body={"id": 2, "name": "alpha-push"}),
            False,
        ),
        Cell("POST", "/api/v0/oauth2/token", "token for tenant", read, _token, False),
    ]

    # -- Kusto SDK storage (SAS-authorised) ------------------------------------------------
    def sa(method: str, resource: Resource, suffix: str = "", content: bytes = b"") -> Call:
        """The caller's own SAS for ``resource`` (if its key may get one), used on the
        target's path."""

        def call(w: World, key: str | None, tenant: str, target: Tenant) -> Response:
            sas = ""
            listed = w.mgmt(".get ingestion resources", key)
            if listed.status_code == 200:
                rows = {r[0]: r[1] for r in listed.json()["Tables"][0]["Rows"]}
                sas = rows[resource.type_name].partition("?")[2]
            path = f"/_storage/{resource.service.value}/{target.name}/{resource.value}{suffix}"
            joiner = "&" if "?" in path else "?"
            return w.client.request(method, f"{path}{joiner}{sas}", content=content)

        return call

    blob_path = "/_storage/blob/{account}/{container}/{blob}"
    messages = "/_storage/queue/{account}/{queue}/messages"
    message = b"<QueueMessage><MessageText>e30=</MessageText></QueueMessage>"
    c += [
        Cell(
            "PUT",
            blob_path,
            "upload a blob",
            ingest,
            sa("PUT", Resource.TEMP_STORAGE, "/x.csv", b"x,1\n"),
            True,
            403,
        ),
        Cell(
            "GET",
            blob_path,
            "read a blob",
            ingest,
            sa("GET", Resource.TEMP_STORAGE, "/x.csv"),
            True,
            403,
        ),
        Cell(
            "POST",
            messages,
            "post an ingestion message",
            ingest,
            sa("POST", Resource.READY_QUEUE, "/messages", message),
            True,
            403,
        ),
        Cell(
            "GET",
            messages,
            "receive notifications",
            ingest,
            sa("GET", Resource.FAILURE_QUEUE, "/messages"),
            True,
            403,
        ),
        Cell(
            "DELETE",
            messages,
            "clear notifications",
            ingest,
            sa("DELETE", Resource.SUCCESS_QUEUE, "/messages"),
            True,
            403,
        ),
        Cell(
            "DELETE",
            messages + "/{message_id}",
            "delete a notification",
            ingest,
            sa("DELETE", Resource.FAILURE_QUEUE, "/messages/m?popreceipt=r"),
            True,
            403,
        ),
    ]
    for method in ("GET", "POST", "PUT", "PATCH", "MERGE", "DELETE"):
        c.append(
            Cell(
                method,
                "/_storage/table/{account}/{path:path}",
                f"{method} status table",
                # The status table's signature grants "rau" to every kind: no key may delete
                # an entity, so DELETE is listed as needing more than any ingest key has.
                conf if method == "DELETE" else ingest,
                sa(method, Resource.STATUS_TABLE),
                True,
                403,
            )
        )

    # -- Kusto ------------------------------------------------------------------------------
    def ku(method: str, path_of: Callable[[Tenant], str], **kw: object) -> Call:
        def call(w: World, key: str | None, tenant: str, target: Tenant) -> Response:
            return w.kusto(method, path_of(target), key, **kw)  # type: ignore[arg-type]

        return call

    def mg(csl_of: Callable[[Tenant], str]) -> Call:
        def call(w: World, key: str | None, tenant: str, target: Tenant) -> Response:
            return w.mgmt(csl_of(target), key)

        return call

    mgmt = ("POST", "/v1/rest/mgmt")

    c += [
        Cell(
            "POST",
            "/v1/rest/ingestion/queued/{database}/{table}",
            "queue into BetaMarkerOnly",
            ingest,
            _queue("BetaMarkerOnly"),
            True,
        ),
        Cell(
            "POST",
            "/v1/rest/ingestion/queued/{database}/{table}",
            "queue into db.T",
            ingest,
            _queue("T"),
            False,
        ),
        Cell(
            "POST",
            "/v1/rest/ingest/{database}/{table}",
            "stream into BetaMarkerOnly",
            ingest,
            _stream("BetaMarkerOnly"),
            True,
        ),
        Cell(
            "POST",
            "/v1/rest/ingest/{database}/{table}",
            "stream into db.T",
            ingest,
            _stream("T"),
            False,
        ),
        Cell(
            "GET",
            "/v1/rest/ingestion/queued/{database}/{table}/{operation_id}",
            "operation status",
            read,
            ku(
                "GET",
                lambda t: f"/v1/rest/ingestion/queued/db/T/{t.ids['kusto_op']}",
                params={"details": "true"},
            ),
            True,
        ),
        Cell(
            "GET",
            "/v1/rest/ingestion/queued/{database}/{table}/",
            "empty operation id",
            read,
            ku("GET", lambda t: "/v1/rest/ingestion/queued/db/T/"),
            True,
        ),
        Cell(
            "GET",
            "/v1/rest/ingestion/configuration",
            "configuration",
            ingest,
            ku("GET", lambda t: "/v1/rest/ingestion/configuration"),
            False,
        ),
        Cell(*mgmt, ".show tables", read, mg(lambda t: ".show tables"), False),
        Cell(
            *mgmt,
            ".show ingestion failures",
            read,
            mg(lambda t: ".show ingestion failures"),
            False,
        ),
        *(
            Cell(
                "POST",
                path,
                f"query BetaMarkerOnly ({path})",
                read,
                ku(
                    "POST", lambda t, p=path: p, body={"db": "db", "csl": "BetaMarkerOnly | take 5"}
                ),
                True,
            )
            for path in ("/v1/rest/query", "/v2/rest/query")
        ),
        Cell(
            *mgmt, ".show table schema", read, mg(lambda t: ".show table T schema as json"), False
        ),
        Cell(
            *mgmt,
            ".show table BetaMarkerOnly schema",
            read,
            mg(lambda t: ".show table BetaMarkerOnly cslschema"),
            True,
        ),
        Cell(
            *mgmt,
            ".show mappings",
            read,
            mg(lambda t: ".show table T ingestion csv mappings"),
            False,
        ),
        Cell(
            *mgmt,
            ".show queued ingestion operations",
            read,
            mg(lambda t: f'.show queued ingestion operations "{t.ids["kusto_op"]}" details'),
            True,
        ),
        Cell(
            *mgmt,
            ".cancel queued ingestion operation",
            ingest,
            mg(lambda t: f".cancel queued ingestion operation '{t.ids['pending_op']}'"),
            True,
        ),
        Cell(
            *mgmt,
            ".create-merge table T",
            conf,
            mg(lambda t: ".create-merge table T (alpha_extra:string)"),
            False,
        ),
        Cell(
            *mgmt,
            ".create-or-alter mapping on T",
            conf,
            mg(
                lambda t: (
                    '.create-or-alter table T ingestion csv mapping "beta_marker_map" '
                    '\'[{"column":"name","Properties":{"Ordinal":"1"}}]\''
                )
            ),
            False,
        ),
        Cell(
            *mgmt,
            ".ingest-from-storage-queued into BetaMarkerOnly",
            ingest,
            _mgmt_ingest("BetaMarkerOnly"),
            True,
        ),
        Cell(*mgmt, ".ingest-from-storage-queued into T", ingest, _mgmt_ingest("T"), False),
        Cell(
            *mgmt,
            ".create-merge table BetaMarkerOnly",
            conf,
            mg(lambda t: ".create-merge table BetaMarkerOnly (alpha_extra:string)"),
            False,
        ),
    ]
    return c


def _nv(method: str, path: Callable[[Tenant], str], **kw: object) -> Call:
    """A native API call; ``path`` (below /ingestd/v1) is built from the target project."""

    def call(w: World, key: str | None, tenant: str, target: Tenant) -> Response:
        return w.native(method, path(target), key, **kw)  # type: ignore[arg-type]

    return call


def _draft_preview(w: World, key: str | None, tenant: str, target: Tenant) -> Response:
    """Preview a source definition whose files are the target project's own (beta's, for
    alpha's keys: the file policy must refuse them)."""
    day = DAYS[0]
    path = w.services.settings.data_dir / "files" / target.name / "events" / day / "a.csv"
    body = {"table": "crm.signups", "path_template": str(path), "day": day}
    return w.native("POST", "/sources/preview", key, body=body)


def _native_cells() -> list[Cell]:
    read, ingest, conf = Permission.READ, Permission.INGEST, Permission.CONFIGURE
    v1 = "/ingestd/v1"
    window = {"start": DAYS[0], "end": DAYS[1]}
    return [
        Cell(
            "GET",
            f"{v1}/projects",
            "native projects",
            read,
            _nv("GET", lambda t: "/projects"),
            False,
        ),
        Cell(
            "GET",
            f"{v1}/projects/{{name}}",
            "native project beta",
            read,
            _nv("GET", lambda t: f"/projects/{t.name}"),
            True,
        ),
        Cell("GET", f"{v1}/keys", "native keys", conf, _nv("GET", lambda t: "/keys"), False),
        Cell(
            "POST",
            f"{v1}/keys",
            "native create key",
            conf,
            _nv("POST", lambda t: "/keys", body={"kind": "read"}),
            False,
        ),
        Cell(
            "DELETE",
            f"{v1}/keys/{{prefix}}",
            "native revoke beta's key",
            conf,
            _nv("DELETE", lambda t: f"/keys/{t.ids['read_key_prefix']}"),
            True,
        ),
        Cell(
            "GET",
            f"{v1}/connections",
            "native connections",
            read,
            _nv("GET", lambda t: "/connections"),
            False,
        ),
        Cell(
            "GET",
            f"{v1}/connections/{{name}}",
            "native read connection postgres",
            read,
            _nv("GET", lambda t: "/connections/postgres"),
            False,
        ),
        Cell(
            "POST",
            f"{v1}/connections",
            "native create connection",
            conf,
            _nv(
                "POST",
                lambda t: "/connections",
                body={"name": "postgres", "kind": "postgres", "config": {"host": "h.example"}},
            ),
            False,
            409,
        ),
        Cell(
            "DELETE",
            f"{v1}/connections/{{name}}",
            "native delete connection",
            conf,
            _nv("DELETE", lambda t: "/connections/databricks"),
            False,
        ),
        Cell("GET", f"{v1}/tables", "native tables", read, _nv("GET", lambda t: "/tables"), False),
        Cell(
            "GET",
            f"{v1}/tables/{{name}}",
            "native table db.T",
            read,
            _nv("GET", lambda t: "/tables/db.T"),
            False,
        ),
        Cell(
            "GET", f"{v1}/sources", "native sources", read, _nv("GET", lambda t: "/sources"), False
        ),
        Cell(
            "GET",
            f"{v1}/sources/{{name}}",
            "native source orders",
            read,
            _nv("GET", lambda t: "/sources/orders"),
            False,
        ),
        Cell(
            "POST",
            f"{v1}/sources/{{name}}/runs",
            "native start a run of source orders",
            ingest,
            _nv("POST", lambda t: "/sources/orders/runs", body={"day": DAYS[0]}),
            False,
        ),
        Cell(
            "GET",
            f"{v1}/sources/{{name}}/preview",
            "native preview orders",
            read,
            _nv("GET", lambda t: "/sources/orders/preview", params={"day": DAYS[0]}),
            False,
        ),
        Cell(
            "GET",
            f"{v1}/sources/{{name}}/preview",
            "native preview beta_marker_only",
            read,
            _nv("GET", lambda t: "/sources/beta_marker_only/preview", params={"day": DAYS[0]}),
            True,
        ),
        Cell("POST", f"{v1}/sources/preview", "native draft preview", conf, _draft_preview, False),
        Cell("GET", f"{v1}/runs", "native runs", read, _nv("GET", lambda t: "/runs"), False),
        Cell(
            "GET",
            f"{v1}/runs/{{run_id}}",
            "native read run",
            read,
            _nv("GET", lambda t: f"/runs/{t.ids['statsig_run']}"),
            True,
        ),
        Cell(
            "POST",
            f"{v1}/runs/{{run_id}}/cancel",
            "native cancel run",
            ingest,
            _nv("POST", lambda t: f"/runs/{t.ids['pending_run']}/cancel"),
            True,
        ),
        Cell(
            "POST",
            f"{v1}/units/{{unit_id}}/cancel",
            "native cancel unit",
            ingest,
            _nv("POST", lambda t: f"/units/{t.ids['pending_unit']}/cancel"),
            True,
        ),
        Cell(
            "GET",
            f"{v1}/status",
            "native status grid",
            read,
            _nv("GET", lambda t: "/status", params=window),
            False,
        ),
        # Worker names and unit counts of every project, never which units or whose.
        Cell(
            "GET", f"{v1}/workers", "native workers", read, _nv("GET", lambda t: "/workers"), False
        ),
        Cell(
            "GET",
            f"{v1}/quarantine",
            "native quarantine db.T",
            read,
            _nv("GET", lambda t: "/quarantine", params={"table": "db.T"}),
            False,
        ),
        Cell(
            "POST",
            f"{v1}/quarantine/replay",
            "native replay db.T",
            ingest,
            _nv("POST", lambda t: "/quarantine/replay", body={"table": "db.T"}),
            False,
        ),
    ]


def _blob(w: World) -> str:
    return (w.services.settings.data_dir / "files" / "alpha" / "kusto" / "rows.csv").as_uri()


def _queue(table: str) -> Call:
    def call(w: World, key: str | None, tenant: str, target: Tenant) -> Response:
        body = {
            "blobs": [{"url": _blob(w)}],
            "properties": {"enableTracking": True, "format": "csv"},
        }
        return w.kusto("POST", f"/v1/rest/ingestion/queued/db/{table}", key, body=body)

    return call


def _stream(table: str) -> Call:
    def call(w: World, key: str | None, tenant: str, target: Tenant) -> Response:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return w.client.post(
            f"/v1/rest/ingest/db/{table}",
            params={"streamFormat": "csv"},
            content=b"x,1\n",
            headers=headers,
        )

    return call


def _mgmt_ingest(table: str) -> Call:
    def call(w: World, key: str | None, tenant: str, target: Tenant) -> Response:
        csl = (
            f".ingest-from-storage-queued into table {table} EnableTracking=true "
            f"with (format='csv') <| '{_blob(w)}'"
        )
        return w.mgmt(csl, key)

    return call


def _token(w: World, key: str | None, tenant: str, target: Tenant) -> Response:
    """The token grant: the caller's key kind picks which of alpha's clients asks; the
    tenant header names ``tenant``. No key: no credentials."""
    form = {"grant_type": "client_credentials"}
    if key is not None:
        kind = next((k for k, v in w.alpha.keys.items() if v == key), None)
        client = w.clients[kind or KeyKind.READ]
        # Any other key stands for a wrong secret of a real client.
        secret = client.client_secret if kind is not None else key
        form |= {"client_id": client.client_id, "client_secret": secret}
    return w.client.post("/api/v0/oauth2/token", data=form, headers={"amperity-tenant": tenant})


# The native cells come first: the other dialects' cells create alpha's own resources named
# like beta's (``beta_marker_only``...), which the native lists would then rightly show.
CELLS = _native_cells() + _cells()
ALPHA_KINDS = (KeyKind.CONSOLE, KeyKind.INGEST, KeyKind.READ)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    services = make_services(
        tmp_path_factory.mktemp("tenancy") / "data",
        retry_base_seconds=0.01,
        statsig_mutations_per_10s=1_000_000,
        statsig_mutations_per_15m=1_000_000,
    )
    yield from make_world(services)
    services.close()


def _dialect(cell: Cell) -> str:
    if cell.path.startswith(("/v1/rest", "/v2/rest")):
        return "kusto"
    if cell.path.startswith(("/api", "/stream")):
        return "amperity"
    return "statsig"


def _routes(routes: Iterable[object], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """Every (path, methods) the app serves, through included routers at any depth."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _routes(inner.routes, prefix + str(getattr(context, "prefix", "") or ""))
            continue
        path = getattr(route, "path", None)
        if isinstance(route, APIRoute) or path is not None:
            methods = getattr(route, "methods", None) or {"GET"}
            yield prefix + str(path), set(methods)


def test_every_route_is_in_the_matrix(tmp_path: Path) -> None:
    services = make_services(tmp_path / "data")
    try:
        app = create_app(services, background=False)
        served = {(method, path) for path, methods in _routes(app.routes) for method in methods}
    finally:
        services.close()
    covered = {(c.method, c.path) for c in CELLS}
    missing = sorted(served - covered - NOT_TENANT_ROUTES)
    assert not missing, f"routes not in the tenancy matrix (add cells to CELLS): {missing}"
    stale = sorted(covered - served)
    assert not stale, f"cells for routes the app no longer serves: {stale}"


def test_alpha_keys_read_and_change_nothing_of_beta(world: World) -> None:
    failures: list[str] = []
    for cell in CELLS:
        before = world.state_of(world.beta)
        for kind in ALPHA_KINDS:
            key = world.alpha.keys[kind]
            response = cell.call(world, key, "alpha", world.beta)
            sent = (
                json.dumps(str(response.request.url)) + (response.request.content or b"").decode()
            )
            found = leaked(response, sent)
            if found:
                failures.append(f"{cell.label} [{kind}]: beta's {found} in {response.text[:300]}")
            refused = response.status_code == cell.refused_as
            if cell.only_in_target and kind_may(kind, cell) and not refused:
                failures.append(
                    f"{cell.label} [{kind}]: {response.status_code}, not {cell.refused_as}"
                )
        after = world.state_of(world.beta)
        if before != after:
            failures.append(f"{cell.label}: beta changed: {_diff(before, after)}")
    assert not failures, "\n".join(failures)


def kind_may(kind: KeyKind, cell: Cell) -> bool:
    grants = {
        KeyKind.CONSOLE: set(Permission),
        KeyKind.INGEST: {Permission.READ, Permission.INGEST},
        KeyKind.READ: {Permission.READ},
    }
    return cell.needs in grants[kind]


def _diff(before: dict[str, object], after: dict[str, object]) -> str:
    out = []
    for part in ("metadata", "views"):
        b, a = before[part], after[part]
        assert isinstance(b, dict) and isinstance(a, dict)
        for k in sorted(set(b) | set(a)):
            if b.get(k) != a.get(k):
                out.append(f"{part}/{k}: {str(b.get(k))[:200]} -> {str(a.get(k))[:200]}")
    return "; ".join(out)


REFUSED = frozenset({401, 403})


def test_key_kinds_within_a_project(world: World) -> None:
    """Read keys change nothing, ingest keys may not configure: every cell whose permission a
    kind lacks is refused (401/403) and leaves the project as it was."""
    failures: list[str] = []
    for kind in (KeyKind.READ, KeyKind.INGEST):
        for cell in CELLS:
            if kind_may(kind, cell) or cell.path == "/api/v0/oauth2/token":
                continue
            before = world.metadata_of(world.alpha)
            response = cell.call(world, world.alpha.keys[kind], "alpha", world.alpha)
            if response.status_code not in REFUSED:
                failures.append(
                    f"{cell.label} [{kind}]: {response.status_code} {response.text[:200]}"
                )
            if world.metadata_of(world.alpha) != before:
                failures.append(f"{cell.label} [{kind}]: alpha's metadata changed")
    assert not failures, "\n".join(failures)


def test_ingest_and_read_keys_may_do_what_they_are_granted(world: World) -> None:
    """The other half: a kind is not refused what it is granted (else the refusals above
    would prove nothing)."""
    failures: list[str] = []
    for kind in (KeyKind.READ, KeyKind.INGEST):
        for cell in CELLS:
            if not kind_may(kind, cell) or cell.path == "/api/v0/oauth2/token":
                continue
            response = cell.call(world, world.alpha.keys[kind], "alpha", world.alpha)
            if response.status_code in REFUSED:
                failures.append(
                    f"{cell.label} [{kind}]: {response.status_code} {response.text[:200]}"
                )
    assert not failures, "\n".join(failures)


def test_bad_credentials_get_nothing(world: World) -> None:
    """No key, a malformed key, a revoked key, beta's key under tenant alpha and alpha's key
    under tenant beta: 401 on every cell, and neither project changes."""
    bad: list[tuple[str, str | None, str]] = [
        ("no key", None, "alpha"),
        ("malformed key", "console-not-a-real-key", "alpha"),
        ("revoked alpha key", world.alpha.revoked_key, "alpha"),
        ("revoked beta key", world.beta.revoked_key, "beta"),
        ("alpha console key, tenant beta", world.alpha.keys[KeyKind.CONSOLE], "beta"),
    ]
    failures: list[str] = []
    before = (world.metadata_of(world.alpha), world.metadata_of(world.beta))
    for label, key, tenant in bad:
        for cell in CELLS:
            dialect = _dialect(cell)
            if (
                tenant == "beta"
                and key == world.alpha.keys[KeyKind.CONSOLE]
                and dialect != "amperity"
            ):
                continue  # only Amperity has a tenant header
            if (
                cell.path == "/api/v0/oauth2/token"
                and key is not None
                and label.startswith("revoked")
            ):
                continue  # the grant takes client credentials, not keys
            response = cell.call(world, key, tenant, world.beta)
            if response.status_code != 401 and not (
                cell.path == "/api/v0/oauth2/token" and response.status_code == 400 and key is None
            ):
                failures.append(
                    f"{cell.label} [{label}]: {response.status_code} {response.text[:200]}"
                )
            found = leaked(response, str(response.request.url))
            if found:
                failures.append(f"{cell.label} [{label}]: beta's {found}")
    after = (world.metadata_of(world.alpha), world.metadata_of(world.beta))
    if before != after:
        failures.append("a refused call changed a project's metadata")
    assert not failures, "\n".join(failures)


def test_same_names_change_only_their_own_project(world: World) -> None:
    """Alpha acts on its resources named like beta's: beta's stay as they were."""
    key = world.alpha.keys[KeyKind.CONSOLE]
    backfill = {
        "type": "file",
        "dataset": "Events",
        "datestamp_start": DAYS[1],
        "datestamp_end": DAYS[1],
        "source": "orders",
    }
    shared = {"Idempotency-Key": "shared-idempotency-key"}
    beta_run = world.client.post(
        "/console/v1/ingestion/backfill",
        json=backfill,
        headers={"STATSIG-API-KEY": world.beta.keys[KeyKind.CONSOLE], **shared},
    )
    assert beta_run.status_code == 200, beta_run.text
    before = world.state_of(world.beta)
    # The same Idempotency-Key in alpha is alpha's own: a new run, not beta's stored answer.
    alpha_run = world.client.post(
        "/console/v1/ingestion/backfill", json=backfill, headers={"STATSIG-API-KEY": key, **shared}
    )
    assert alpha_run.status_code == 200, alpha_run.text
    assert alpha_run.json()["data"]["runID"] != beta_run.json()["data"]["runID"]
    deleted = world.statsig(
        "DELETE",
        "/console/v1/ingestion",
        key,
        params={"type": "file", "dataset": "Events", "source_name": "orders"},
    )
    assert deleted.status_code == 200, deleted.text
    dropped = world.statsig("DELETE", "/console/v1/ingestion/connection/postgres", key)
    assert dropped.status_code == 200, dropped.text
    cancelled = world.mgmt(
        f".cancel queued ingestion operation '{world.alpha.ids['pending_op']}'", key
    )
    assert cancelled.status_code == 200, cancelled.text
    stopped = world.amperity(
        "POST", f"/api/workflow/runs/{world.alpha.ids['pending_workflow']}/stop", key, "alpha"
    )
    assert stopped.status_code == 200, stopped.text
    assert world.state_of(world.beta) == before, _diff(before, world.state_of(world.beta))
    beta_orders = world.statsig(
        "GET",
        "/console/v1/ingestion",
        world.beta.keys[KeyKind.CONSOLE],
        params={"type": "file", "dataset": "Events", "source_name": "orders"},
    )
    assert beta_orders.status_code == 200 and "orders" in beta_orders.text


def test_destination_rows_are_per_project(tmp_path: Path) -> None:
    """Data level (task A makes destination rows project-scoped): each project's loads of the
    same Statsig dataset, Kusto table and Amperity stream land in its own rows, and alpha's
    reloads do not replace or show beta's."""
    services = make_services(
        tmp_path / "data",
        retry_base_seconds=0.01,
        statsig_mutations_per_10s=1_000_000,
        statsig_mutations_per_15m=1_000_000,
    )
    try:
        for world in make_world(services):
            beta_key, alpha_key = (
                world.beta.keys[KeyKind.CONSOLE],
                world.alpha.keys[KeyKind.CONSOLE],
            )
            for tenant in (world.alpha, world.beta):
                world.services.streams.flush(tenant.project_id, "signups")
            world.drain()
            count = {"start_date": "2026-01-01", "end_date": "2026-01-31"}
            beta_counts = world.statsig(
                "GET", "/console/v1/ingestion/events/count", beta_key, params=count
            )
            alpha_counts = world.statsig(
                "GET", "/console/v1/ingestion/events/count", alpha_key, params=count
            )
            failures: list[str] = []
            if leaked(alpha_counts):
                failures.append(
                    f"alpha's event count shows beta's events: {alpha_counts.text[:300]}"
                )
            if MARKER_EVENT not in beta_counts.text:
                failures.append(f"beta's event count lost beta's events: {beta_counts.text[:300]}")
            # Alpha reloads dataset Events: beta's rows stay.
            _ = world.statsig(
                "POST",
                "/console/v1/ingestion/backfill",
                alpha_key,
                body={
                    "type": "file",
                    "dataset": "Events",
                    "datestamp_start": DAYS[0],
                    "datestamp_end": DAYS[1],
                },
            )
            world.drain()
            again = world.statsig(
                "GET", "/console/v1/ingestion/events/count", beta_key, params=count
            )
            if _stable(again) != _stable(beta_counts):
                failures.append(f"alpha's backfill changed beta's counts: {again.text[:300]}")
            # Kusto db.T: each project sees only its rows (the blob rows are loaded per project).
            for tenant, other in ((world.alpha, "beta"), (world.beta, "alpha")):
                status = world.kusto(
                    "GET",
                    f"/v1/rest/ingestion/queued/db/T/{tenant.ids['kusto_op']}",
                    tenant.keys[KeyKind.CONSOLE],
                    params={"details": "true"},
                )
                if status.status_code != 200 or other in status.text.replace(tenant.name, ""):
                    failures.append(
                        f"{tenant.name}'s db.T operation: {status.status_code} {status.text[:200]}"
                    )
            # Kusto ingestIfNotExists: beta's ``ingest-by`` tag on db.T must not skip alpha's
            # ingestion into its own db.T (nor tell alpha that beta used the tag).
            blob = world.services.settings.data_dir / "files" / "alpha" / "kusto" / "iine.csv"
            blob.write_text("alpha-iine-row,5,alpha\n")
            queued = world.kusto(
                "POST",
                "/v1/rest/ingestion/queued/db/T",
                alpha_key,
                body={
                    "blobs": [{"url": blob.as_uri()}],
                    "properties": {
                        "enableTracking": True,
                        "format": "csv",
                        "ingestIfNotExists": [f"{MARKER}-tag"],
                    },
                },
            )
            assert queued.status_code == 200, queued.text
            world.drain()
            names = world.services.warehouse.query(
                "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2"
            )
            everything = ""
            for schema, table in names:
                text = repr(world.services.warehouse.query(f'SELECT * FROM "{schema}"."{table}"'))
                everything += text
                if schema == "_ingestd":
                    # The bookkeeping is one table for every project, a project on each row
                    # (docs/security/data-per-project.md): no row may mix them, and each row
                    # carries the project whose data it describes.
                    failures += _bookkeeping_leaks(world, table)
                elif "alpha" in text and MARKER in text:
                    failures.append(f"warehouse table {schema}.{table} holds rows of both projects")
            # Stream ``signups`` upserts by id into crm.signups in both projects, same id 1:
            # each project's record must survive the other's load.
            for record in ("alpha-signup", f"{MARKER}-signup"):
                if record not in everything:
                    failures.append(f"record {record!r} of stream signups was lost (overwritten?)")
            if "alpha-iine-row" not in everything:
                failures.append(
                    "alpha's ingestion into its db.T was skipped by beta's ingest-by tag "
                    "(ingestIfNotExists sees the other project's tags)"
                )
            assert not failures, "\n".join(failures)
    finally:
        services.close()


MARKER_EVENT = "BETA-MARKER-click"


def _bookkeeping_leaks(world: World, table: str) -> list[str]:
    """Rows of ``_ingestd.<table>`` filed under a project their content is not of: every row
    has a project, and a row that holds beta's marker is beta's."""
    warehouse = world.services.warehouse
    columns = [
        str(name)
        for (name,) in warehouse.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = '_ingestd' "
            "AND table_name = ?",
            [table],
        )
    ]
    if table in ("ledger", "quarantine") and "project" not in columns:
        return [f"_ingestd.{table} has no project column"]
    if "project" not in columns:
        return []
    failures = []
    for project, text in warehouse.query(
        f'SELECT project, CAST(t AS VARCHAR) FROM "_ingestd"."{table}" t'
    ):
        if project not in ("alpha", "beta"):
            failures.append(f"_ingestd.{table} files a row under project {project!r}: {text}")
        elif MARKER in text and project != "beta":
            failures.append(f"_ingestd.{table} files beta's row under {project}: {text[:200]}")
    return failures


def test_the_planted_markers_are_visible_to_their_own_project(world: World) -> None:
    """The leak checks can fire: beta's own key reads beta's markers through the same cells,
    and beta's snapshot holds rows of every kind of resource the matrix protects."""
    key = world.beta.keys[KeyKind.CONSOLE]
    seen = [
        cell.label
        for cell in CELLS
        if cell.needs is Permission.READ and leaked(cell.call(world, key, "beta", world.beta))
    ]
    for expected in ("read source beta_marker_only", "read postgres connection", ".show mappings"):
        assert expected in seen, seen
    assert len(seen) >= 7, seen
    metadata = world.metadata_of(world.beta)
    for table in ("connections", "sources", "runs", "api_keys"):
        assert metadata.get(table), f"beta has no {table} rows: {sorted(metadata)}"
