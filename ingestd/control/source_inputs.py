"""What a source's day is made of: its files (the path template rendered for the day, globbed
under the project's file policy) or its query's result (run for the day on its connection,
staged as one file). A unit's load and a preview resolve inputs here, the same way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingestd.control.catalog import Catalog, SourceView
from ingestd.control.file_access import FileAccess
from ingestd.dataplane.blobs.egress import EgressPolicy
from ingestd.dataplane.contract import CancelToken
from ingestd.dataplane.readers.files import expand
from ingestd.dataplane.sql import extract
from ingestd.domain.sources import ReadOptions
from ingestd.domain.templates import render
from ingestd.errors import ConnectionConfigError


@dataclass(frozen=True)
class SourceInputs:
    paths: tuple[Path, ...]
    names: tuple[str, ...]
    """What users see for each path (relative to the connection's root, or the query)."""
    read_options: ReadOptions


class SourceInputResolver:
    def __init__(self, catalog: Catalog, file_access: FileAccess, egress: EgressPolicy) -> None:
        self.catalog = catalog
        self.file_access = file_access
        self.egress = egress

    def resolve(
        self,
        project_id: int,
        source: SourceView,
        day: date,
        extract_dir: Path,
        cancel: CancelToken | None = None,
        *,
        row_limit: int | None = None,
    ) -> SourceInputs:
        """The source's inputs for ``day``; a query source's result is staged in
        ``extract_dir`` (at most ``row_limit`` rows of it, for a preview)."""
        if source.query is not None:
            return self._extract(project_id, source, day, extract_dir, cancel, row_limit)
        assert source.path_template is not None
        root = self.catalog.file_root_of(project_id, source.connection)
        rendered = render(source.path_template, day)
        pattern = str(root / rendered) if root is not None else rendered
        paths = tuple(expand(pattern, self.file_access.for_project(project_id)))
        names = tuple(
            str(p.relative_to(root.resolve())) if root is not None else p.name for p in paths
        )
        return SourceInputs(paths, names, source.read_options)

    def _extract(
        self,
        project_id: int,
        source: SourceView,
        day: date,
        extract_dir: Path,
        cancel: CancelToken | None,
        row_limit: int | None,
    ) -> SourceInputs:
        """Run a query source for the day into a staged file (the unit's "download")."""
        assert source.query is not None
        if source.connection is None:
            raise ConnectionConfigError("a query source needs a connection")
        view = self.catalog.get_connection(project_id, source.connection)
        extracted = extract(
            view.kind,
            view.name,
            view.config,
            self.catalog.connection_secrets(project_id, source.connection),
            render(source.query, day),
            extract_dir,
            self.file_access.for_project(project_id),
            cancel,
            self.egress,
            row_limit,
        )
        return SourceInputs(
            (extracted.path,), (extracted.name,), ReadOptions(format=extracted.format)
        )
