"""What a Celery task carries: one unit to run, typed and versioned.

The task names the unit (its id, run and project) and carries its spec as the store keeps it
(``UnitSpec.to_json``), so a worker of another version refuses a task it cannot read instead of
guessing, and the log of a rejected task says what it was. The unit row stays the authority: a
worker claims the row (conditional update and lease) and runs what the row says; a task whose
spec differs from the row's is stale and is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingestd.domain import unit_specs
from ingestd.domain.unit_specs import UnitSpec
from ingestd.errors import InvalidInput

TASK_VERSION = 1
TASK_NAME = "ingestd.run_unit"
"""The Celery task name every process registers and sends (one name, whatever the module)."""


@dataclass(frozen=True)
class UnitTask:
    unit_id: str
    run_id: str
    project_id: int
    spec: UnitSpec

    def to_json(self) -> dict[str, Any]:
        return {
            "version": TASK_VERSION,
            "unit_id": self.unit_id,
            "run_id": self.run_id,
            "project_id": self.project_id,
            "spec": self.spec.to_json(),
        }

    @classmethod
    def from_json(cls, raw: object) -> UnitTask:
        """The task ``raw`` describes; ``InvalidInput`` names what is wrong with it."""
        if not isinstance(raw, dict):
            raise InvalidInput(f"a unit task is a JSON object, not {type(raw).__name__}")
        version = raw.get("version")
        if version != TASK_VERSION:
            raise InvalidInput(
                f"unit task version {version!r} is not known (this ingestd reads {TASK_VERSION})",
                hint="run workers of the same ingestd version as the serve that dispatches",
            )
        unknown = set(raw) - {"version", "unit_id", "run_id", "project_id", "spec"}
        if unknown:
            raise InvalidInput(f"unit task: unknown fields {sorted(unknown)}")
        unit_id, run_id, project_id, spec = (
            raw.get("unit_id"),
            raw.get("run_id"),
            raw.get("project_id"),
            raw.get("spec"),
        )
        if not isinstance(unit_id, str) or not isinstance(run_id, str):
            raise InvalidInput("unit task: unit_id and run_id must be strings")
        if not isinstance(project_id, int) or isinstance(project_id, bool):
            raise InvalidInput("unit task: project_id must be an integer")
        if not isinstance(spec, dict):
            raise InvalidInput("unit task: spec must be a JSON object")
        return cls(unit_id, run_id, project_id, unit_specs.from_json(spec))
