"""What loading a source's day means: its files (or its query's result) for that day.

Both the unit runner (a ``SourceDayUnitSpec``) and the data checks (a scratch load of a day)
resolve a source's day here, so the two always read the same inputs.
"""

from __future__ import annotations

from pathlib import Path

from ingestd.control.catalog import Catalog
from ingestd.control.file_access import FileAccess
from ingestd.dataplane.contract import CancelToken, LoadRequest
from ingestd.dataplane.egress import EgressPolicy
from ingestd.dataplane.files import expand
from ingestd.dataplane.sql_extract import extract
from ingestd.domain.sources import ReadOptions
from ingestd.domain.templates import render
from ingestd.domain.unit_specs import SourceDayUnitSpec
from ingestd.errors import ConnectionConfigError, NotFound


class SourceLoads:
    def __init__(
        self,
        catalog: Catalog,
        file_access: FileAccess,
        staging_root: Path,
        egress: EgressPolicy | None = None,
    ) -> None:
        self.catalog = catalog
        self.file_access = file_access
        self.staging_root = staging_root
        """A query source's result is staged in ``<staging>/extract-<unit>`` (the unit runner
        removes it after every attempt)."""
        self.egress = egress if egress is not None else EgressPolicy()
        """Hosts of SQL sources must pass it (INGESTD_FETCH_ALLOWED_NETWORKS)."""

    def request(
        self,
        project_id: int,
        spec: SourceDayUnitSpec,
        *,
        load_key: str,
        unit_id: str,
        run_id: str,
        cancel: CancelToken | None = None,
    ) -> LoadRequest:
        """The load of ``spec``'s source for its day, in the source's current configuration."""
        try:
            source = self.catalog.get_source(project_id, spec.source)
        except NotFound as exc:
            raise ConnectionConfigError(
                f"source {spec.source!r} was deleted before its unit ran"
            ) from exc
        table = self.catalog.get_table(project_id, source.table)
        if source.query is not None:
            paths, names, read_options = self._extract(
                project_id, source.connection, source.query, spec, unit_id, cancel
            )
        else:
            assert source.path_template is not None
            root = self.catalog.file_root_of(project_id, source.connection)
            rendered = render(source.path_template, spec.day)
            pattern = str(root / rendered) if root is not None else rendered
            paths = tuple(expand(pattern, self.file_access.for_project(project_id)))
            names = tuple(
                str(p.relative_to(root.resolve())) if root is not None else p.name for p in paths
            )
            read_options = source.read_options
        return LoadRequest(
            load_key=load_key,
            unit_id=unit_id,
            run_id=run_id,
            table=table,
            mapping=source.mapping,
            inputs=paths,
            input_names=names,
            read_options=read_options,
            mode=source.load_mode,
            day=spec.day,
            error_policy=source.error_policy,
        )

    def _extract(
        self,
        project_id: int,
        connection: str | None,
        query: str,
        spec: SourceDayUnitSpec,
        unit_id: str,
        cancel: CancelToken | None = None,
    ) -> tuple[tuple[Path, ...], tuple[str, ...], ReadOptions]:
        """Run a query source for the day into a staged file (the unit's "download")."""
        if connection is None:
            raise ConnectionConfigError("a query source needs a connection")
        view = self.catalog.get_connection(project_id, connection)
        extracted = extract(
            view.kind,
            view.name,
            view.config,
            self.catalog.connection_secrets(project_id, connection),
            render(query, spec.day),
            self.staging_root / f"extract-{unit_id}",
            self.file_access.for_project(project_id),
            cancel,
            self.egress,
        )
        return (extracted.path,), (extracted.name,), ReadOptions(format=extracted.format)
