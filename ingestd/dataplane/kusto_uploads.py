"""ingestd's own copies of the blobs the Kusto ingest SDKs upload to a project's temporary
container: ``<data dir>/kusto-uploads/<project id>/<blob name>``.

Contract:

* A blob is written to a temporary file and renamed into place once complete, so a reader
  never sees half a blob; past ``max_bytes`` the write stops with ``UploadTooLarge`` and the
  partial file is removed.
* Block uploads (Put Block, then Put Block List) keep each block under
  ``<project id>/.blocks/<blob name>/`` until the list commits them in the order given.
* ``path`` resolves a stored name and refuses anything outside the project's directory.
* The directory belongs to ingestd (``control.file_access.owned_paths``): no source reads it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from ingestd.errors import InvalidInput, NotFound

UPLOADS_DIR = "kusto-uploads"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,1000}$")
_BLOCKS = ".blocks"


class UploadTooLarge(InvalidInput):
    code = "UPLOAD_TOO_LARGE"
    http_status = 413


class _Writer:
    def __init__(self, handle: os.PathLike[str], max_bytes: int, shown: str) -> None:
        self.path = Path(handle)
        self.file = self.path.open("wb")
        self.size = 0
        self.max_bytes = max_bytes
        self.shown = shown

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise UploadTooLarge(
                f"blob {self.shown} is larger than the {self.max_bytes} bytes ingestd accepts",
                hint="raise INGESTD_KUSTO_UPLOAD_MAX_BYTES or split the data",
            )
        self.file.write(chunk)


class UploadFiles:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def _project_dir(self, project_id: int) -> Path:
        return self.root / str(project_id)

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

    def path(self, project_id: int, relative: str) -> Path:
        """The file of a stored name; ``NotFound`` if it is not the project's or is gone."""
        owner, _, name = relative.partition("/")
        if owner != str(project_id):
            raise NotFound(f"upload {relative!r} is not in this project's container")
        path = self._project_dir(project_id) / self.check_name(name)
        if not path.is_file():
            raise NotFound(f"upload {name!r} is not in the temporary container (any more)")
        return path

    @contextmanager
    def _writing(self, target: Path, shown: str) -> Iterator[_Writer]:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        writer = _Writer(partial, self.max_bytes, shown)
        try:
            yield writer
            writer.file.close()
            os.replace(partial, target)
        finally:
            writer.file.close()
            partial.unlink(missing_ok=True)

    @contextmanager
    def writer(self, project_id: int, name: str) -> Iterator[_Writer]:
        """Write blob ``name`` whole (Put Blob); it appears only once the block exits."""
        target = self._project_dir(project_id) / self.check_name(name)
        with self._writing(target, name) as writer:
            yield writer

    def _block_dir(self, project_id: int, name: str) -> Path:
        return self._project_dir(project_id) / _BLOCKS / self.check_name(name)

    @staticmethod
    def _block_file(block_id: str) -> str:
        return hashlib.sha256(block_id.encode()).hexdigest()

    @contextmanager
    def block_writer(self, project_id: int, name: str, block_id: str) -> Iterator[_Writer]:
        """Write one uncommitted block of blob ``name`` (Put Block)."""
        target = self._block_dir(project_id, name) / self._block_file(block_id)
        with self._writing(target, f"{name} (block)") as writer:
            yield writer

    def commit_blocks(self, project_id: int, name: str, block_ids: list[str]) -> int:
        """Put Block List: the blob becomes the blocks in this order; returns its size."""
        folder = self._block_dir(project_id, name)
        parts = [folder / self._block_file(b) for b in block_ids]
        missing = [b for b, p in zip(block_ids, parts, strict=True) if not p.is_file()]
        if missing:
            raise InvalidInput(
                f"blob {name}: block(s) {missing[:3]} were not uploaded",
                hint="upload every block with Put Block before the block list",
            )
        target = self._project_dir(project_id) / name
        with self._writing(target, name) as writer:
            for part in parts:
                with part.open("rb") as handle:
                    while chunk := handle.read(1 << 20):
                        writer.write(chunk)
            size = writer.size
        shutil.rmtree(folder, ignore_errors=True)
        return size

    def delete(self, relative: str) -> None:
        owner, _, name = relative.partition("/")
        if owner.isdigit() and _NAME.match(name):
            (self.root / owner / name).unlink(missing_ok=True)

    def sweep(self, project_id: int, *, older_than: datetime, keep: set[str]) -> int:
        """Remove the project's uploads (and stale blocks) last written before
        ``older_than``, except those in ``keep`` (stored names); returns how many went."""
        folder = self._project_dir(project_id)
        if not folder.is_dir():
            return 0
        cutoff = older_than.timestamp()
        removed = 0
        for entry in folder.iterdir():
            if entry.name == _BLOCKS:
                for blocks in entry.iterdir():
                    if blocks.stat().st_mtime < cutoff:
                        shutil.rmtree(blocks, ignore_errors=True)
                continue
            if f"{project_id}/{entry.name}" in keep or entry.stat().st_mtime >= cutoff:
                continue
            entry.unlink(missing_ok=True)
            removed += 1
        return removed

    def project_ids(self) -> list[int]:
        if not self.root.is_dir():
            return []
        return sorted(int(p.name) for p in self.root.iterdir() if p.name.isdigit())


__all__ = ["UPLOADS_DIR", "UploadFiles", "UploadTooLarge"]
