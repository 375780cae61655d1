"""Previews of a source's day: its first rows, mapped, typed and validated like a load's, with
the rows that would be quarantined, committing nothing.

Nothing is written anywhere but a scratch folder that the preview removes: no destination
table, ledger entry, quarantine row, run or unit; file grants are checked (the same file policy
as a load) but not used up; a query source runs its query with a row limit. The destination is
never opened, so a preview works while another process (``ingestd serve``) holds it.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from ingestd.control.catalog import Catalog, SourceView
from ingestd.control.source_inputs import SourceInputResolver
from ingestd.control.source_loads import day_load
from ingestd.dataplane import scratch
from ingestd.dataplane.preview import Previewer
from ingestd.domain.previews import DEFAULT_PREVIEW_ROWS, SourcePreview, check_limit
from ingestd.errors import PreviewFailed, UnitError

_NOT_A_LOAD = "preview"
"""Load key, unit and run of a preview's request: it has none (nothing is committed)."""


class SourcePreviews:
    def __init__(
        self,
        catalog: Catalog,
        inputs: SourceInputResolver,
        previewer: Previewer,
        staging_root: Path,
    ) -> None:
        self.catalog = catalog
        self.inputs = inputs
        self.previewer = previewer
        self.staging_root = staging_root

    def preview(
        self, project_id: int, source_name: str, day: date, *, limit: int = DEFAULT_PREVIEW_ROWS
    ) -> SourcePreview:
        """The first ``limit`` input records of the source's ``day`` (1 to 1000): NotFound for
        a source the project does not have, InvalidInput for a limit out of range,
        PreviewFailed when the source cannot be read for the day (what the unit's error
        would be)."""
        check_limit(limit)
        return self._preview(
            project_id, self.catalog.get_source(project_id, source_name), day, limit
        )

    def preview_draft(
        self, project_id: int, draft: SourceView, day: date, *, limit: int = DEFAULT_PREVIEW_ROWS
    ) -> SourcePreview:
        """``preview`` of a source definition not saved (``Catalog.source_draft``)."""
        check_limit(limit)
        return self._preview(project_id, draft, day, limit)

    def _preview(self, project_id: int, source: SourceView, day: date, limit: int) -> SourcePreview:
        source_name = source.name
        table = self.catalog.get_table(project_id, source.table)
        extract_dir = scratch.new_folder(self.staging_root, "preview-extract")
        try:
            # One row more than shown: a query's result then tells whether it has more.
            inputs = self.inputs.resolve(project_id, source, day, extract_dir, row_limit=limit + 1)
            request = day_load(
                source,
                table,
                day,
                inputs,
                load_key=_NOT_A_LOAD,
                unit_id=_NOT_A_LOAD,
                run_id=_NOT_A_LOAD,
            )
            staged = self.previewer.preview(request, limit)
        except UnitError as exc:
            raise PreviewFailed(
                f"source {source_name!r} on {day.isoformat()}: {exc.code}: {exc.message}",
                hint=exc.hint,
            ) from exc
        finally:
            shutil.rmtree(extract_dir, ignore_errors=True)
        return SourcePreview(
            source=source.name,
            day=day,
            table=table.qualified_name,
            columns=staged.columns,
            rows=staged.rows,
            errors=staged.errors,
            files=staged.files,
            rows_read=staged.rows_read,
            truncated=staged.truncated,
        )
