"""ingestd's own copies of the blobs the Kusto ingest SDKs upload to a project's temporary
container, kept in the metadata database (``store.payloads``, kind ``kusto_upload``) so that a
unit running on any worker reads them; a unit's spec names one as ``<project id>/<blob name>``.

Contract:

* A blob is visible only once its upload completed; past ``max_bytes`` (a declared
  Content-Length past it fails before any byte is read) the write stops with
  ``UploadTooLarge`` and nothing of it is kept.
* Block uploads (Put Block, then Put Block List) keep each block as its own payload until the
  list commits them, in the order given, into the blob.
* ``open`` resolves a stored name and refuses anything that is not the project's.
* ``sweep`` drops uploads (and stale blocks, and uploads that died midway) older than the
  retention, except those a unit may still read.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime

from ingestd.dataplane.readers.staged_payloads import PayloadReader
from ingestd.domain.clock import Clock, system_clock
from ingestd.errors import InvalidInput, NotFound
from ingestd.store import payloads
from ingestd.store.database import Store
from ingestd.store.payloads import PayloadKey, PayloadWriter

KIND = "kusto_upload"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,1000}$")


class UploadTooLarge(InvalidInput):
    code = "UPLOAD_TOO_LARGE"
    http_status = 413


class UploadWriter:
    """Counts what an upload writes and refuses it past the limit, before storing it."""

    def __init__(self, target: PayloadWriter, max_bytes: int, shown: str) -> None:
        self._target = target
        self.max_bytes = max_bytes
        self.shown = shown

    @property
    def size(self) -> int:
        return self._target.size

    def write(self, chunk: bytes) -> None:
        if self._target.size + len(chunk) > self.max_bytes:
            raise self.too_large()
        self._target.write(chunk)

    def too_large(self) -> UploadTooLarge:
        return UploadTooLarge(
            f"blob {self.shown} is larger than the {self.max_bytes} bytes ingestd accepts",
            hint="raise INGESTD_KUSTO_UPLOAD_MAX_BYTES or split the data",
        )


@dataclass(frozen=True)
class StoredUpload:
    """A complete upload: its blob name, its size, and how to read it."""

    name: str
    size: int
    read: PayloadReader


class KustoUploads:
    def __init__(self, store: Store, max_bytes: int, *, clock: Clock = system_clock) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.clock = clock

    @staticmethod
    def check_name(name: str) -> str:
        if not _NAME.match(name) or ".." in name:
            raise InvalidInput(
                f"blob name {name!r} is not accepted in the temporary container",
                hint="use letters, digits, '.', '_', '-' and '=' (no '/'), as the SDK does",
            )
        return name

    def relative(self, project_id: int, name: str) -> str:
        """The stored name of blob ``name`` of the project (what a unit's spec keeps)."""
        return f"{project_id}/{self.check_name(name)}"

    def _key(self, project_id: int, name: str, block: str = "") -> PayloadKey:
        return PayloadKey(project_id, KIND, self.check_name(name), block)

    @staticmethod
    def _block_key(block_id: str) -> str:
        return hashlib.sha256(block_id.encode()).hexdigest()

    @contextmanager
    def _writing(self, key: PayloadKey, shown: str, declared: int | None) -> Iterator[UploadWriter]:
        with payloads.writing(self.store, key, now=self.clock) as target:
            writer = UploadWriter(target, self.max_bytes, shown)
            if declared is not None and declared > self.max_bytes:
                raise writer.too_large()
            yield writer

    def writer(
        self, project_id: int, name: str, *, declared: int | None = None
    ) -> AbstractContextManager[UploadWriter]:
        """Write blob ``name`` whole (Put Blob); it appears only once the block exits.
        ``declared``: the request's Content-Length, if it gave one."""
        return self._writing(self._key(project_id, name), name, declared)

    def block_writer(
        self, project_id: int, name: str, block_id: str, *, declared: int | None = None
    ) -> AbstractContextManager[UploadWriter]:
        """Write one uncommitted block of blob ``name`` (Put Block)."""
        key = self._key(project_id, name, self._block_key(block_id))
        return self._writing(key, f"{name} (block)", declared)

    def commit_blocks(self, project_id: int, name: str, block_ids: list[str]) -> int:
        """Put Block List: the blob becomes the blocks in this order; returns its size."""
        blocks = [
            payloads.find(self.store, self._key(project_id, name, self._block_key(b)))
            for b in block_ids
        ]
        missing = [b for b, found in zip(block_ids, blocks, strict=True) if found is None]
        if missing:
            raise InvalidInput(
                f"blob {name}: block(s) {missing[:3]} were not uploaded",
                hint="upload every block with Put Block before the block list",
            )
        with self._writing(self._key(project_id, name), name, None) as writer:
            for block in blocks:
                assert block is not None
                for chunk in payloads.chunks(self.store, block, f"a block of {name}"):
                    writer.write(chunk)
            size = writer.size
        payloads.delete_blocks(self.store, project_id, KIND, name)
        return size

    def open(self, project_id: int, relative: str) -> StoredUpload:
        """The upload of a stored name; ``NotFound`` if it is not the project's or is gone."""
        owner, _, name = relative.partition("/")
        if owner != str(project_id):
            raise NotFound(f"upload {relative!r} is not in this project's container")
        found = payloads.find(self.store, self._key(project_id, name))
        if found is None:
            raise NotFound(f"upload {name!r} is not in the temporary container (any more)")
        shown = f"upload {name!r}"
        return StoredUpload(name, found.size, lambda: payloads.chunks(self.store, found, shown))

    def delete(self, relative: str) -> None:
        owner, _, name = relative.partition("/")
        if owner.isdigit() and _NAME.match(name):
            payloads.delete_payload(self.store, PayloadKey(int(owner), KIND, name))

    def sweep(self, project_id: int, *, older_than: datetime, keep: set[str]) -> int:
        """Remove the project's uploads (and stale blocks) last written before
        ``older_than``, except those in ``keep`` (stored names); returns how many went."""
        prefix = f"{project_id}/"
        names = {k.removeprefix(prefix) for k in keep if k.startswith(prefix)}
        return payloads.sweep(self.store, project_id, KIND, older_than=older_than, keep=names)

    def project_ids(self) -> list[int]:
        return payloads.project_ids(self.store, KIND)


__all__ = ["KIND", "KustoUploads", "StoredUpload", "UploadTooLarge", "UploadWriter"]
