"""Builds each project's file policy (``domain.file_access.ProjectFiles``) and keeps the grants.

A project reads ``<data dir>/files/<project>/`` (created on demand), the directories granted to
it (``ingestd projects grant``) and the directories of ``INGESTD_FILE_ROOTS``, which are granted
to every project. ingestd's own files are forbidden whatever the grants: everything in the data
directory except ``files/`` (metadata, destination, staging, spill, checks, keys), the stream
batches in ``files/streams``, and the metadata and destination files wherever they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingestd.domain.file_access import ProjectFiles, inside, real
from ingestd.errors import InvalidInput, NotFound
from ingestd.settings import Settings
from ingestd.store import file_grants
from ingestd.store.database import Store

KEY_FILE = "kusto-storage.key"
"""The key that signs Kusto SAS tokens (control.kusto.storage.sas)."""
STREAMS_DIR = "streams"
"""``<data dir>/files/streams``: the folders that name Amperity streams
(control.amperity.streams), and the batch files earlier versions wrote there: never readable."""
LEGACY_UPLOADS_DIR = "kusto-uploads"
"""Where earlier versions kept Kusto uploads (now in the metadata database): never readable."""

_SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True)
class ProjectRoots:
    """One project and the directories it may read, for ``ingestd projects list``."""

    project: str
    own: Path
    granted: tuple[Path, ...]
    everyone: tuple[Path, ...]
    """``INGESTD_FILE_ROOTS``: granted to every project."""


def owned_paths(settings: Settings) -> tuple[Path, ...]:
    """ingestd's own files and directories (resolved), never readable by a source."""
    data_dir = real(settings.data_dir)
    files_dir = data_dir / "files"
    owned: list[Path] = [files_dir / STREAMS_DIR]
    for name in ("staging", "spill", "checks", "secret.key", LEGACY_UPLOADS_DIR, KEY_FILE):
        owned.append(data_dir / name)
    if data_dir.is_dir():
        owned.extend(real(entry) for entry in data_dir.iterdir() if entry.name != "files")
    if settings.metadata_url.startswith("sqlite:///"):
        metadata = real(Path(settings.metadata_url.removeprefix("sqlite:///")))
        owned.extend(Path(f"{metadata}{suffix}") for suffix in _SQLITE_SIDE_FILES)
    if settings.destination_kind == "duckdb":
        destination = real(settings.destination_path)
        owned.extend((destination, Path(f"{destination}.wal")))
    return tuple(dict.fromkeys(owned))


class FileAccess:
    """The file policies of all projects and the operator's grants."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.data_dir = real(settings.data_dir)
        self.files_dir = self.data_dir / "files"
        self.owned = owned_paths(settings)
        self.everyone = tuple(
            self._checked_grant(root, "INGESTD_FILE_ROOTS", must_exist=False)
            for root in settings.file_roots
        )

    def own_dir(self, project: str) -> Path:
        """``<data dir>/files/<project>/`` (not created)."""
        own = self.files_dir / project
        if own.parent != self.files_dir or project == STREAMS_DIR:
            raise InvalidInput(
                f"project name {project!r} cannot name a files directory",
                hint="use another project name",
            )
        return own

    def for_project(self, project_id: int) -> ProjectFiles:
        """The policy of one project; creates its files directory on demand."""
        name = self._name(project_id)
        own = self.own_dir(name)
        own.mkdir(parents=True, exist_ok=True)
        granted = tuple(real(Path(p)) for p in file_grants.granted_paths(self.store, project_id))
        roots = tuple(dict.fromkeys((real(own), *granted, *self.everyone)))
        return ProjectFiles(project=name, roots=roots, forbidden=self.owned)

    def grant(self, project_id: int, directory: Path) -> Path:
        """Grant ``directory`` to the project; returns the stored (resolved) path."""
        resolved = self._checked_grant(directory, "the directory to grant")
        file_grants.add_grant(self.store, project_id, str(resolved))
        return resolved

    def revoke(self, project_id: int, directory: Path) -> Path:
        resolved = real(directory)
        for candidate in dict.fromkeys((str(directory), str(resolved))):
            if file_grants.remove_grant(self.store, project_id, candidate):
                return Path(candidate)
        raise NotFound(
            f"project {self._name(project_id)} has no grant of {directory}",
            hint="see the grants with: ingestd projects list",
        )

    def roots(self) -> list[ProjectRoots]:
        return [
            ProjectRoots(
                project=name,
                own=self.own_dir(name),
                granted=tuple(Path(p) for p in file_grants.granted_paths(self.store, project_id)),
                everyone=self.everyone,
            )
            for project_id, name in file_grants.project_names(self.store).items()
        ]

    def _name(self, project_id: int) -> str:
        names = file_grants.project_names(self.store)
        if project_id not in names:
            raise NotFound(f"project {project_id} does not exist")
        return names[project_id]

    def _checked_grant(self, directory: Path, what: str, *, must_exist: bool = True) -> Path:
        """A grant must be an absolute existing directory apart from every ingestd file."""
        if not directory.is_absolute():
            raise InvalidInput(
                f"{what} {directory} is not an absolute path", hint="give the full path"
            )
        resolved = real(directory)
        if must_exist and not resolved.is_dir():
            raise InvalidInput(
                f"{what} {directory} is not an existing directory",
                hint="create it first, then grant it",
            )
        for owned in (self.data_dir, *self.owned):
            if inside(resolved, owned) or inside(owned, resolved):
                raise InvalidInput(
                    f"{what} {directory} (resolved {resolved}) overlaps ingestd's own files "
                    f"at {owned}",
                    hint="grant a directory outside INGESTD_DATA_DIR that holds none of "
                    "ingestd's files; a project's own files go in "
                    f"{self.files_dir}/<project>/",
                )
        return resolved
