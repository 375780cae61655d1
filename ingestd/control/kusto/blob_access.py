"""Which of a project's connections gives access to a blob URL.

Connections of kind ``s3``, ``gcs`` and ``adls`` hold the credentials for object stores (a blob
URL never names a connection; Kusto puts SAS tokens in the URL instead, which still works):

* ``s3``: config ``{"endpoint_url"?, "region"?, "buckets"?: [...], "allow_delete"?}``, secrets
  ``access_key_id``, ``secret_access_key``, ``session_token``?;
* ``gcs``: config ``{"endpoint_url"?, "buckets"?, "allow_delete"?}``, secrets
  ``hmac_access_id`` and ``hmac_secret``, or ``access_token``;
* ``adls``: config ``{"account", "endpoint"?, "containers"?, "allow_delete"?}``, secrets
  ``account_key`` or ``sas``;
* ``file``: config ``{"root", "allow_delete"?}`` (only for ``deleteAfterDownload``).

A connection that lists buckets (containers) covers only those and wins over one that lists
none; two equally good matches are a configuration error. A plain ``http(s)`` URL under a
connection's endpoint is read as a path-style URL of that store (emulators, private endpoints).
Only the project's own connections are considered: a blob is never read with the server's
ambient credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestd.control.catalog import Catalog, ConnectionView
from ingestd.dataplane.blobs.blob_urls import BlobLocation, StoreKind, split_under
from ingestd.dataplane.blobs.fetch import StoreAccess
from ingestd.errors import ConnectionConfigError

STORE_KINDS = frozenset({"s3", "gcs", "adls"})


@dataclass(frozen=True)
class ResolvedBlob:
    location: BlobLocation
    access: StoreAccess | None
    allow_delete: bool


def resolve_blob(catalog: Catalog, project_id: int, location: BlobLocation) -> ResolvedBlob:
    """The location as its store sees it and the access the project configured for it."""
    connections = [c for c in catalog.list_connections(project_id) if c.kind in STORE_KINDS]
    if location.kind is StoreKind.FILE:
        return ResolvedBlob(location, None, _file_delete_allowed(catalog, project_id, location))
    if location.kind is StoreKind.HTTP:
        for connection in connections:
            endpoint = _endpoint(connection)
            split = split_under(location.url, endpoint) if endpoint else None
            if split is None:
                continue
            first, rest = split
            if connection.kind == "adls":
                moved = location.with_store(
                    StoreKind.AZURE, account=_account(connection), bucket=first, key=rest
                )
            else:
                moved = location.with_store(StoreKind(connection.kind), bucket=first, key=rest)
            return _resolved(catalog, project_id, moved, connection)
        return ResolvedBlob(location, None, False)
    chosen = _choose(location, [c for c in connections if c.kind == location.kind.value])
    if chosen is None:
        return ResolvedBlob(location, None, False)
    return _resolved(catalog, project_id, location, chosen)


def _resolved(
    catalog: Catalog, project_id: int, location: BlobLocation, connection: ConnectionView
) -> ResolvedBlob:
    access = StoreAccess(
        kind=location.kind,
        endpoint=_endpoint(connection),
        region=_text(connection, "region"),
        secrets=catalog.connection_secrets(project_id, connection.name),
        connection=connection.name,
    )
    return ResolvedBlob(location, access, connection.config.get("allow_delete") is True)


def _choose(location: BlobLocation, candidates: list[ConnectionView]) -> ConnectionView | None:
    if location.kind is StoreKind.AZURE:
        candidates = [c for c in candidates if _account(c) == location.account]
        scope_key = "containers"
    else:
        scope_key = "buckets"
    specific, general = [], []
    for connection in candidates:
        scope = connection.config.get(scope_key)
        if scope is None:
            general.append(connection)
        elif not isinstance(scope, list):
            raise ConnectionConfigError(
                f"connection {connection.name!r}: config.{scope_key} must be a list of names"
            )
        elif location.bucket in scope:
            specific.append(connection)
    for group in (specific, general):
        if len(group) == 1:
            return group[0]
        if len(group) > 1:
            names = ", ".join(sorted(c.name for c in group))
            raise ConnectionConfigError(
                f"several {location.kind.value} connections match {location.bucket!r}: {names}",
                hint=f"list the bucket in config.{scope_key} of exactly one of them",
            )
    return None


def _text(connection: ConnectionView, key: str) -> str | None:
    value: Any = connection.config.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConnectionConfigError(f"connection {connection.name!r}: config.{key} must be text")
    return value


def _endpoint(connection: ConnectionView) -> str | None:
    endpoint = _text(connection, "endpoint_url") or _text(connection, "endpoint")
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise ConnectionConfigError(
            f"connection {connection.name!r}: the endpoint {endpoint!r} must be an http(s) URL"
        )
    return endpoint


def _account(connection: ConnectionView) -> str:
    account = _text(connection, "account")
    if account is None:
        raise ConnectionConfigError(
            f"connection {connection.name!r} of kind adls needs config.account"
        )
    return account


def _file_delete_allowed(catalog: Catalog, project_id: int, location: BlobLocation) -> bool:
    assert location.path is not None
    target = location.path.expanduser().resolve()
    for connection in catalog.list_connections(project_id):
        root = connection.config.get("root")
        if connection.kind != "file" or connection.config.get("allow_delete") is not True:
            continue
        if isinstance(root, str) and Path(root).resolve() in target.parents:
            return True
    return False
