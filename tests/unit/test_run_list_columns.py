"""The run lists, run searches and status lists read units, files and history as plain rows of
chosen columns (store/run_lists.py, store/run_search.py, store/daily_status.py): those columns
must be every attribute the views read, or a list fails at its first unit."""

from __future__ import annotations

from typing import Protocol

from ingestd.domain.run_views import RunEventRow, UnitFileRow, UnitRow
from ingestd.store.daily_status import NEWEST_UNIT_COLUMNS, NewestUnitRow
from ingestd.store.run_lists import EVENT_COLUMNS, UNIT_VIEW_COLUMNS
from ingestd.store.run_search import FILE_VIEW_COLUMNS


def _members(protocol: type[Protocol]) -> set[str]:  # type: ignore[valid-type]
    return {
        name
        for klass in protocol.__mro__
        if klass is not Protocol and klass is not object and Protocol in klass.__mro__
        for name in vars(klass)
        if isinstance(vars(klass)[name], property)
    }


def test_unit_columns_are_what_a_unit_row_reads() -> None:
    assert {c.key for c in UNIT_VIEW_COLUMNS} == _members(UnitRow)


def test_event_columns_are_what_an_event_row_reads() -> None:
    assert {c.key for c in EVENT_COLUMNS} == _members(RunEventRow)


def test_file_columns_are_what_a_file_row_reads_and_its_unit() -> None:
    assert {c.key for c in FILE_VIEW_COLUMNS} == _members(UnitFileRow) | {"unit_id"}


def test_status_columns_are_what_a_newest_unit_row_reads() -> None:
    assert {c.key for c in NEWEST_UNIT_COLUMNS} == _members(NewestUnitRow)


def test_the_protocols_have_members() -> None:
    # The comparison above means something only if the introspection finds the fields.
    assert {"id", "state", "read", "table_name"} <= _members(UnitRow)
    assert _members(RunEventRow) == {"run_id", "unit_id", "state", "at", "message"}
    assert {"name", "skipped", "errors"} <= _members(UnitFileRow)
