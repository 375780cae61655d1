"""``/ingestd/v1/keys``: a console key manages its project's keys.

Listing shows prefixes, never keys; a new key is shown once, in the answer that creates it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ingestd.api.native.deps import Configurer, ServicesDep
from ingestd.api.native.errors import NativeRoute, responses
from ingestd.api.native.schemas import Key, KeyCreate, KeyCreated, KeyList
from ingestd.control.access import key_prefix

router = APIRouter(route_class=NativeRoute, tags=["keys"])


@router.get("/keys", responses=responses(400, 401, 403))
def list_keys(who: Configurer, svc: ServicesDep, revoked: bool = False) -> KeyList:
    """The project's keys by prefix and kind (with ``revoked=true``, revoked ones too)."""
    return KeyList(data=[Key.of(k) for k in svc.access.list_keys(who.project, revoked=revoked)])


@router.post("/keys", status_code=201, responses=responses(400, 401, 403))
def create_key(body: KeyCreate, who: Configurer, svc: ServicesDep) -> KeyCreated:
    """A new key of the caller's project. The answer is the only place the key appears."""
    raw = svc.access.add_key(who.project_id, body.kind)
    return KeyCreated(key=raw, prefix=key_prefix(raw), kind=body.kind, project=who.project)


@router.delete("/keys/{prefix}", responses=responses(400, 401, 403, 404))
def revoke_key(
    prefix: Annotated[str, Path(min_length=1, max_length=64)], who: Configurer, svc: ServicesDep
) -> Key:
    """Revoke the one active key of the project whose prefix starts with ``prefix``; it stops
    working at once. A prefix that two keys share is a 400 that names them."""
    return Key.of(svc.access.revoke_key(prefix, who.project))
