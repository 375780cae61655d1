"""A Celery task's payload: typed, versioned, and refused with a reason when it is not ours."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given

from ingestd.domain.unit_specs import SourceDayUnitSpec, UnitSpec
from ingestd.domain.unit_tasks import TASK_VERSION, UnitTask
from ingestd.errors import InvalidInput
from tests.unit.domain.test_unit_specs import specs

DAY_SPEC = SourceDayUnitSpec(table="shop.orders", source="orders", day=date(2024, 3, 1))


@given(specs)
def test_a_task_of_every_spec_kind_round_trips_through_json(spec: UnitSpec) -> None:
    task = UnitTask("u-1", "r-1", 7, spec)
    raw = json.loads(json.dumps(task.to_json()))
    assert raw["version"] == TASK_VERSION
    assert UnitTask.from_json(raw) == task


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 99}, "unit task version 99 is not known"),
        ({"extra": 1}, "unknown fields ['extra']"),
        ({"project_id": "7"}, "project_id must be an integer"),
        ({"project_id": True}, "project_id must be an integer"),
        ({"unit_id": None}, "unit_id and run_id must be strings"),
        ({"spec": []}, "spec must be a JSON object"),
        ({"spec": {"version": 1, "kind": "nope"}}, "nope"),
    ],
)
def test_a_task_that_is_not_ours_is_refused_with_the_reason(
    change: dict[str, object], message: str
) -> None:
    raw = {**UnitTask("u-1", "r-1", 7, DAY_SPEC).to_json(), **change}
    with pytest.raises(InvalidInput) as caught:
        UnitTask.from_json(raw)
    assert message in caught.value.message


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidInput, match="a unit task is a JSON object, not list"):
        UnitTask.from_json([1, 2])
