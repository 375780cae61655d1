"""Which project each run belongs to: what a destination needs to upgrade its old layout.

Before data per project, destination rows and ledger entries carried no project, only the run
that loaded them (``_ingestd.ledger.run_id``). The metadata store knows each run's project; this
value carries that knowledge down to the destination, which must not read the metadata itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunOwners:
    """Project name by run id (every run the metadata store knows)."""

    by_run: Mapping[str, str] = field(default_factory=dict)

    def project_of(self, run_id: str | None) -> str | None:
        """The project of ``run_id``, or None when the run is unknown (deleted, or never ours)."""
        return None if run_id is None else self.by_run.get(run_id)


RunOwnersSource = Callable[[], RunOwners]
"""How a destination gets the run owners: called only when an upgrade is needed, so a start
on the current layout never reads every run."""
