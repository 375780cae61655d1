"""Which local files one project may read: its own files folder and the operator's grants.

Every file reader (file sources, ``file://`` blobs, ``deleteAfterDownload``, the database file
of a DuckDB or SQLite connection) checks its path with ``ProjectFiles.check``: the path is
resolved (``os.path.realpath``: ``..`` and every symlink followed) and must then lie inside one
of ``roots`` and inside none of ``forbidden`` (ingestd's own files). The check returns the
resolved path, which the reader opens; a symlink swapped in (for the file or a directory on
its way) between the check and the open is the remaining window (docs/security/files.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ingestd.errors import FetchNotAllowed


def real(path: Path) -> Path:
    """``path`` with ``~`` expanded, made absolute and every symlink and ``..`` resolved."""
    return Path(os.path.realpath(path.expanduser()))


def inside(path: Path, directory: Path) -> bool:
    """True when ``path`` is ``directory`` or lies below it (both already resolved)."""
    return path == directory or directory in path.parents


@dataclass(frozen=True)
class ProjectFiles:
    """The file policy of one project (built by control for the unit's project)."""

    project: str
    roots: tuple[Path, ...]
    """Resolved directories the project may read: ``<data dir>/files/<project>/`` and grants."""
    forbidden: tuple[Path, ...] = ()
    """Resolved files and directories of ingestd itself, never readable whatever the roots."""

    def allows(self, resolved: Path) -> bool:
        return any(inside(resolved, root) for root in self.roots) and not any(
            inside(resolved, owned) for owned in self.forbidden
        )

    def check(self, path: Path) -> Path:
        """The resolved ``path``; FetchNotAllowed unless the project may read it."""
        resolved = real(path)
        if any(inside(resolved, owned) for owned in self.forbidden):
            raise FetchNotAllowed(
                f"{path} is one of ingestd's own files (metadata, destination, staging, spill, "
                f"stream batches or keys); project {self.project} may not read it",
                hint="no grant makes ingestd's own files readable; read a copy placed in "
                "the project's files directory",
            )
        if not any(inside(resolved, root) for root in self.roots):
            shown = ", ".join(str(r) for r in self.roots) or "none"
            via = f" (it resolves to {resolved})" if resolved != path else ""
            raise FetchNotAllowed(
                f"{path}{via} is outside the directories project {self.project} may read",
                hint=f"the project may read: {shown}; to read another directory, ask the "
                f"operator to grant it: ingestd projects grant {self.project} <dir>",
            )
        return resolved


NO_FILES = ProjectFiles(project="(none)", roots=())
"""A policy that allows no local file (the default of a FetchPolicy built without one)."""
