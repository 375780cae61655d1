"""An ``ingestIfNotExists`` hit ends ``skipped`` with no load (DESIGN "Run and unit states"):
no rows, no ledger entry, nothing read; Kusto still reports the blob Succeeded (§3.7)."""

from __future__ import annotations

from sqlalchemy import select

from ingestd.domain.states import UnitState
from ingestd.store.schema import StatusEvent, Unit
from tests.api.kusto.conftest import Kusto


def test_a_hit_ends_skipped_with_no_load(kusto: Kusto) -> None:
    kusto.rows(".create table T (name:string, n:long)")
    properties = {"format": "csv", "tags": ["ingest-by:batch-7"], "ingestIfNotExists": ["batch-7"]}
    first = kusto.queue([kusto.file_url("a.csv", "a,1\nb,2\n")], properties)
    assert first.status_code == 200, first.text
    kusto.drain()
    ledger_before = kusto.services.warehouse.query("SELECT count(*) FROM _ingestd.ledger")[0][0]
    repeat = kusto.queue([kusto.file_url("b.csv", "c,3\n")], properties)
    assert repeat.status_code == 200, repeat.text
    operation = repeat.json()["ingestionOperationId"]
    kusto.drain()

    status = kusto.status(operation).json()
    assert status["status"] == {"Succeeded": 1, "Failed": 0, "InProgress": 0, "Canceled": 0}
    assert sorted(kusto.table_rows()) == [("a", 1), ("b", 2)]
    ledger_after = kusto.services.warehouse.query("SELECT count(*) FROM _ingestd.ledger")[0][0]
    assert ledger_after == ledger_before
    with kusto.services.store.read() as session:
        units = session.scalars(select(Unit).order_by(Unit.created_at)).all()
        repeat_unit = units[-1]
        assert UnitState(repeat_unit.state) is UnitState.SKIPPED
        assert (repeat_unit.read, repeat_unit.inserted) == (0, 0)
        states = list(
            session.scalars(
                select(StatusEvent.state)
                .where(StatusEvent.unit_id == repeat_unit.id)
                .order_by(StatusEvent.id)
            )
        )
    assert states[-1] == "skipped"
    assert "downloading" not in states and "loading" not in states
