"""Cancellation and progress: a canceled unit raises Canceled and commits nothing."""

from __future__ import annotations

import pytest

from ingestd.dataplane.contract import CancelToken, Progress
from ingestd.errors import Canceled

from .harness import PEOPLE, PEOPLE_BY_NAME, Harness, cancel_after_the_first_file, csv_text

HEADER = ["id", "name", "score"]


def test_a_token_canceled_before_the_load_commits_nothing(harness: Harness) -> None:
    earlier = harness.write("a.csv", csv_text(HEADER, [(1, "Ann", 1)]))
    harness.load(PEOPLE, PEOPLE_BY_NAME, earlier)
    rows, ledger = harness.rows(PEOPLE), harness.ledger()
    rerun = harness.write("b.csv", csv_text(HEADER, [(2, "Bob", "bad")]))
    token = CancelToken()
    token.cancel()

    with pytest.raises(Canceled) as caught:
        harness.load(PEOPLE, PEOPLE_BY_NAME, rerun, cancel=token)

    assert caught.value.code == "CANCELED"
    assert harness.rows(PEOPLE) == rows
    assert harness.ledger() == ledger
    assert harness.quarantine() == []
    assert list((harness.root / "staging").iterdir()) == []


def test_canceling_during_the_load_commits_nothing(harness: Harness) -> None:
    first = harness.write("a.csv", csv_text(HEADER, [(1, "Ann", 1)]))
    second = harness.write("b.csv", csv_text(HEADER, [(2, "Bob", 2)]))
    token = CancelToken()
    seen: list[Progress] = []

    with pytest.raises(Canceled):
        harness.load(
            PEOPLE,
            PEOPLE_BY_NAME,
            first,
            second,
            cancel=token,
            progress=cancel_after_the_first_file(token, seen),
        )

    assert [(p.files_done, p.files_total, p.rows_read, p.phase) for p in seen] == [
        (1, 2, 1, "reading")
    ]
    assert harness.ledger() == []
    assert harness.quarantine() == []
    # The table may exist (it is created first); it holds nothing.
    assert (
        harness.warehouse.query(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'people'"
        )
        == [(0,)]
        or harness.count(PEOPLE) == 0
    )


def test_progress_reports_each_file(harness: Harness) -> None:
    paths = [
        harness.write(f"{i}.csv", csv_text(HEADER, [(i, "x", i), (i + 10, "y", i)]))
        for i in range(3)
    ]
    seen: list[Progress] = []

    harness.load(PEOPLE, PEOPLE_BY_NAME, *paths, progress=seen.append)

    reading = [p for p in seen if p.phase == "reading"]
    writing = seen[len(reading) :]
    assert [(p.files_done, p.files_total, p.rows_read) for p in reading] == [
        (1, 3, 2),
        (2, 3, 4),
        (3, 3, 6),
    ]
    assert writing, "the write reports its progress too"
    assert {(p.phase, p.files_done, p.rows_read) for p in writing} == {("writing", 3, 6)}
    assert [p.rows_written for p in writing] == sorted(p.rows_written for p in writing)
    assert writing[-1].rows_written == 6


def test_canceling_while_writing_commits_nothing(harness: Harness) -> None:
    earlier = harness.write("a.csv", csv_text(HEADER, [(1, "Ann", 1)]))
    harness.load(PEOPLE, PEOPLE_BY_NAME, earlier)
    rows, ledger = harness.rows(PEOPLE), harness.ledger()
    rerun = harness.write("b.csv", csv_text(HEADER, [(2, "Bob", 2), (3, "Cy", "bad")]))
    token = CancelToken()

    def cancel_once_rows_are_written(progress: Progress) -> None:
        if progress.phase == "writing" and progress.rows_written > 0:
            token.cancel()

    with pytest.raises(Canceled):
        harness.load(
            PEOPLE, PEOPLE_BY_NAME, rerun, cancel=token, progress=cancel_once_rows_are_written
        )

    assert harness.rows(PEOPLE) == rows
    assert harness.ledger() == ledger
    assert harness.quarantine() == []
