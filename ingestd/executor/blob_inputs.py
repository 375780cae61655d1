"""Blob units: fetch the blob a unit's spec names, during the unit's ``downloading`` state.

Contract:

* ``stage_blob`` downloads into ``<staging>/extract-<unit>`` (removed after every attempt by the
  unit runner) with the limits in the spec's ``fetch`` (``FetchLimits``), through the project's
  connections (``control.kusto.blob_access``); ``file://`` blobs are read in place.
* With ``delete_after_download`` the downloaded blob is kept in the metadata database
  (``control.kusto.retained_blobs``) before it is deleted at its source; later attempts of the unit,
  on any worker, stage that copy, which is removed once the unit has ended. A failed delete is
  logged and does not fail the blob (Kusto deletes best-effort too).
* A blob of ingestd's own Kusto temporary storage (``spec.upload``) is copied from the
  metadata database (``control.kusto.storage.uploads``) into ``<staging>/extract-<unit>``,
  after checking it is the unit's project's; nothing is fetched, and no disk is shared with
  the process that accepted the upload.
* ``cancel`` (the unit's token; the unit runner always passes it) stops a download between
  chunks with ``Canceled``, as the loaders do, and leaves nothing staged.
* ``blob_format`` is the format the blob will be read as: the declared one, or the one its
  name (or, uncompressed, its first bytes) shows; ``FormatNotSupported`` if neither tells.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from ingestd.control.catalog import Catalog
from ingestd.control.kusto.blob_access import resolve_blob
from ingestd.control.kusto.retained_blobs import RetainedBlobs
from ingestd.control.kusto.storage.uploads import KustoUploads
from ingestd.dataplane.blobs.blob_urls import StoreKind, parse_blob_url
from ingestd.dataplane.blobs.egress import EgressPolicy
from ingestd.dataplane.blobs.fetch import FetchPolicy, delete, download
from ingestd.dataplane.contract import CancelToken
from ingestd.dataplane.readers.detect import compression_of, format_of
from ingestd.dataplane.readers.staged_payloads import stage_payload
from ingestd.domain.file_access import ProjectFiles
from ingestd.domain.sources import Compression, DataFormat
from ingestd.domain.unit_specs import BlobUnitSpec, FetchLimits
from ingestd.errors import FormatNotSupported, NotFound, SourceNotFound, UnitError
from ingestd.store.database import Store

log = logging.getLogger("ingestd.executor")


@dataclass(frozen=True)
class StagedBlob:
    path: Path
    name: str


def fetch_policy(limits: FetchLimits, files: ProjectFiles) -> FetchPolicy:
    """The limits the blob was accepted under, with the file policy of its project."""
    return FetchPolicy(
        max_bytes=limits.max_bytes,
        timeout_seconds=limits.timeout_seconds,
        egress=EgressPolicy(limits.allowed_networks),
        files=files,
    )


def declared_format(spec: BlobUnitSpec) -> DataFormat | None:
    """The format the spec declares, or the one the blob's name shows; None if neither."""
    if spec.read_options.format is not None:
        return spec.read_options.format
    try:
        return format_of(spec.input_name, b"")
    except FormatNotSupported:
        return None


def blob_format(spec: BlobUnitSpec, staged: StagedBlob) -> DataFormat:
    known = declared_format(spec)
    if known is not None:
        return known
    with staged.path.open("rb") as handle:
        head = handle.read(8)
    plain = compression_of(staged.name, head) is Compression.NONE
    return format_of(staged.name, head if plain else b"")


def stage_blob(
    spec: BlobUnitSpec,
    *,
    unit_id: str,
    project_id: int,
    catalog: Catalog,
    store: Store,
    staging_root: Path,
    files: ProjectFiles,
    cancel: CancelToken | None = None,
    uploads: KustoUploads | None = None,
) -> StagedBlob:
    if spec.upload and uploads is not None:
        try:
            stored = uploads.open(project_id, spec.upload)
            path = stage_payload(
                stored.read, staging_root / f"extract-{unit_id}", stored.name, cancel
            )
        except NotFound as exc:
            raise SourceNotFound(exc.message, hint="upload the data again") from exc
        return StagedBlob(path, stored.name)
    policy = fetch_policy(spec.fetch, files)
    # The whole URL (with its SAS or key) exists only here, in memory, until the fetch.
    location = parse_blob_url(store.secret_box.open(spec.sealed_url))
    resolved = resolve_blob(catalog, project_id, location)
    extract = staging_root / f"extract-{unit_id}"
    if not spec.delete_after_download:
        path = download(resolved.location, extract, policy, resolved.access, cancel)
        return StagedBlob(path, location.name)
    retained = RetainedBlobs(store)
    kept = retained.find(project_id, unit_id)
    if kept is not None:  # an earlier attempt downloaded it (and deleted it at its source)
        return StagedBlob(stage_payload(kept, extract, location.name, cancel), location.name)
    path = download(resolved.location, extract, policy, resolved.access, cancel)
    if resolved.location.kind is StoreKind.FILE:  # read in place: copy it before the delete
        extract.mkdir(parents=True, exist_ok=True)
        path = Path(shutil.copy2(path, extract / path.name))
    retained.keep(project_id, unit_id, path)
    if resolved.allow_delete:
        try:
            delete(resolved.location, policy, resolved.access)
        except UnitError as exc:
            log.warning("unit %s: deleteAfterDownload failed: %s", unit_id, exc)
    retained.sweep(keep=unit_id)
    return StagedBlob(path, location.name)
