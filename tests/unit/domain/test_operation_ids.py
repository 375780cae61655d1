"""Kusto operation ids (ingestd.domain.operation_ids)."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from ingestd.domain.operation_ids import operation_id, run_id_of

names = st.text(min_size=1, max_size=40)


@given(st.uuids(), names, names)
def test_ids_are_reversible_and_name_their_target(run: uuid.UUID, db: str, table: str) -> None:
    value = operation_id(str(run), db, table)
    head, middle, guid = value.split(";")
    assert len(head) == len(middle) == 8 and guid == str(run)
    assert run_id_of(value) == str(run)
    assert run_id_of(value, db, table) == str(run)
    assert run_id_of(value, db + "x", table) is None
    assert run_id_of(value, db, table + "x") is None


@given(st.text(max_size=80))
def test_anything_else_is_not_an_id(text: str) -> None:
    if text.count(";") != 2:
        assert run_id_of(text) is None


def test_the_vendor_examples() -> None:
    assert run_id_of("ingest_op_12345") is None
    sample = "00001111;11112222;00001111-aaaa-2222-bbbb-3333cccc4444"
    assert run_id_of(sample) == "00001111-aaaa-2222-bbbb-3333cccc4444"
