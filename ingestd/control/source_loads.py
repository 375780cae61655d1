"""What loading a source's day means: its inputs for that day (``SourceInputResolver``: its
files, or its query's result) with the source's mapping, mode and error policy.

Both the unit runner (a ``SourceDayUnitSpec``) and the data checks (a scratch load of a day)
build their load here, and the preview resolves its inputs with the same resolver, so all three
always read the same inputs.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ingestd.control.catalog import Catalog, SourceView
from ingestd.control.file_access import FileAccess
from ingestd.control.source_inputs import SourceInputResolver, SourceInputs
from ingestd.dataplane.blobs.egress import EgressPolicy
from ingestd.dataplane.contract import CancelToken, LoadRequest
from ingestd.domain.tables import TableSpec
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
        self.staging_root = staging_root
        """A query source's result is staged in ``<staging>/extract-<unit>`` (the unit runner
        removes it after every attempt)."""
        # Hosts of SQL sources must pass the egress policy (INGESTD_FETCH_ALLOWED_NETWORKS).
        self.inputs = SourceInputResolver(
            catalog, file_access, egress if egress is not None else EgressPolicy()
        )

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
        inputs = self.inputs.resolve(
            project_id, source, spec.day, self.staging_root / f"extract-{unit_id}", cancel
        )
        return day_load(
            source, table, spec.day, inputs, load_key=load_key, unit_id=unit_id, run_id=run_id
        )


def day_load(
    source: SourceView,
    table: TableSpec,
    day: date,
    inputs: SourceInputs,
    *,
    load_key: str,
    unit_id: str,
    run_id: str,
) -> LoadRequest:
    """The load of ``inputs`` (the source's for ``day``) into ``table`` with the source's
    mapping, mode and error policy: what a unit loads and what a preview stages alike."""
    return LoadRequest(
        load_key=load_key,
        unit_id=unit_id,
        run_id=run_id,
        table=table,
        mapping=source.mapping,
        inputs=inputs.paths,
        input_names=inputs.names,
        read_options=inputs.read_options,
        mode=source.load_mode,
        day=day,
        error_policy=source.error_policy,
    )
