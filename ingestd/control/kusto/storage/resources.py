"""``.get ingestion resources`` and ``.get kusto identity token``: the project's storage URLs,
each with its own SAS, and the identity token the SDK puts in its messages."""

from __future__ import annotations

from dataclasses import dataclass

from ingestd.control.kusto.storage.sas import Signer
from ingestd.domain.kusto_storage import Resource

STORAGE_PREFIX = "/_storage"


@dataclass(frozen=True)
class ResourceUrl:
    type_name: str
    """``ResourceTypeName``: TempStorage, SecuredReadyForAggregationQueue, ..."""
    url: str
    """``StorageRoot``: ``{base}/_storage/{service}/{project}/{name}?{sas}``."""


def resource_path(project: str, resource: Resource) -> str:
    return f"{STORAGE_PREFIX}/{resource.service.value}/{project}/{resource.value}"


def ingestion_resources(
    signer: Signer, base_url: str, project_id: int, project: str
) -> list[ResourceUrl]:
    """One of each resource, in the order the service lists them."""
    base = base_url.rstrip("/")
    order = (
        Resource.READY_QUEUE,
        Resource.FAILURE_QUEUE,
        Resource.SUCCESS_QUEUE,
        Resource.TEMP_STORAGE,
        Resource.STATUS_TABLE,
    )
    return [
        ResourceUrl(r.type_name, f"{base}{resource_path(project, r)}?{signer.sas(project_id, r)}")
        for r in order
    ]
