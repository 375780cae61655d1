"""Per-file error policy: continue quarantines bad rows, skip_file sets a file aside (its good
rows too, as FILE_SKIPPED), abort fails the unit and commits nothing."""

from __future__ import annotations

import pytest

from ingestd.domain.sources import ErrorPolicy, OnError
from ingestd.errors import ErrorLimitExceeded, InvalidInput

from .harness import PEOPLE, PEOPLE_BY_NAME, Count, Harness, QuarantineRow, count_of

CLEAN = "id,name,score\n10,Jo,1\n11,Kim,2\n"


def _file_with_bad_rows(harness: Harness, bad: int, *, name: str = "mixed.csv") -> None:
    """Four rows, the first ``bad`` of them wrong (a ragged row, then bad ids)."""
    rows = [*["1,Ann", "x2,Bob,2", "x3,Cy,3", "x4,Di,4"][:bad], "1,Ann,1", "2,Bob,2", "3,Cy,3"]
    harness.write(name, "id,name,score\n" + "\n".join(rows[:4]) + "\n")


def test_continue_loads_good_rows_and_quarantines_bad_ones(harness: Harness) -> None:
    _file_with_bad_rows(harness, 2)
    clean = harness.write("clean.csv", CLEAN)

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, harness.root / "in" / "mixed.csv", clean)

    assert [(f.name, count_of(f.counts), f.skipped) for f in result.files] == [
        ("mixed.csv", Count(4, 2, 0, 0, 2), False),
        ("clean.csv", Count(2, 2, 0, 0, 0), False),
    ]
    assert [r[0] for r in harness.rows(PEOPLE)] == [1, 2, 10, 11]
    assert [(q.line, q.record, q.code) for q in harness.quarantine()] == [
        (2, None, "WRONG_NUMBER_OF_FIELDS"),
        (None, 1, "TYPE_MISMATCH"),
    ]


def test_skip_file_sets_the_whole_file_aside(harness: Harness) -> None:
    _file_with_bad_rows(harness, 2)
    clean = harness.write("clean.csv", CLEAN)

    result = harness.load(
        PEOPLE,
        PEOPLE_BY_NAME,
        harness.root / "in" / "mixed.csv",
        clean,
        policy=ErrorPolicy(OnError.SKIP_FILE),
    )

    assert [(f.name, count_of(f.counts), f.skipped) for f in result.files] == [
        ("mixed.csv", Count(4, 0, 0, 0, 4), True),
        ("clean.csv", Count(2, 2, 0, 0, 0), False),
    ]
    assert count_of(result.counts) == Count(6, 2, 0, 0, 4)
    assert [r[0] for r in harness.rows(PEOPLE)] == [10, 11]
    quarantined = harness.quarantine()
    assert [(q.file, q.line, q.record, q.code) for q in quarantined] == [
        ("mixed.csv", 2, None, "WRONG_NUMBER_OF_FIELDS"),
        ("mixed.csv", None, 1, "TYPE_MISMATCH"),
        ("mixed.csv", None, 2, "FILE_SKIPPED"),
        ("mixed.csv", None, 3, "FILE_SKIPPED"),
    ]
    skipped = quarantined[2]
    assert skipped == QuarantineRow(
        "mixed.csv",
        None,
        2,
        None,
        "FILE_SKIPPED",
        "the file had 2 bad rows, over the error policy's limit",
        '{"id":1,"name":"Ann","score":1.0}',
    )


LIMITS = {
    "max-errors-1-with-1-bad-keeps": (ErrorPolicy(OnError.SKIP_FILE, max_errors=1), 1, False),
    "max-errors-1-with-2-bad-skips": (ErrorPolicy(OnError.SKIP_FILE, max_errors=1), 2, True),
    "max-errors-0-with-1-bad-skips": (ErrorPolicy(OnError.SKIP_FILE, max_errors=0), 1, True),
    "percent-25-with-1-of-4-keeps": (
        ErrorPolicy(OnError.SKIP_FILE, max_error_percent=25),
        1,
        False,
    ),
    "percent-25-with-2-of-4-skips": (ErrorPolicy(OnError.SKIP_FILE, max_error_percent=25), 2, True),
    "both-limits-either-skips": (
        ErrorPolicy(OnError.SKIP_FILE, max_errors=5, max_error_percent=40),
        2,
        True,
    ),
}


@pytest.mark.parametrize(("policy", "bad", "skipped"), LIMITS.values(), ids=LIMITS.keys())
def test_skip_file_limits(harness: Harness, policy: ErrorPolicy, bad: int, skipped: bool) -> None:
    _file_with_bad_rows(harness, bad)

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, harness.root / "in" / "mixed.csv", policy=policy)

    [file] = result.files
    assert file.skipped is skipped
    if skipped:
        assert count_of(file.counts) == Count(4, 0, 0, 0, 4)
        assert harness.count(PEOPLE) == 0
        assert [q.code for q in harness.quarantine()].count("FILE_SKIPPED") == 4 - bad
    else:
        assert count_of(file.counts) == Count(4, 4 - bad, 0, 0, bad)
        assert harness.count(PEOPLE) == 4 - bad
        assert "FILE_SKIPPED" not in [q.code for q in harness.quarantine()]


def test_abort_fails_the_unit_and_commits_nothing(harness: Harness) -> None:
    clean = harness.write("clean.csv", CLEAN)
    before = harness.load(PEOPLE, PEOPLE_BY_NAME, clean)
    _file_with_bad_rows(harness, 3)
    rows, ledger = harness.rows(PEOPLE), harness.ledger()

    with pytest.raises(ErrorLimitExceeded) as caught:
        harness.load(
            PEOPLE,
            PEOPLE_BY_NAME,
            clean,
            harness.root / "in" / "mixed.csv",
            policy=ErrorPolicy(OnError.ABORT),
        )

    assert caught.value.code == "ERROR_LIMIT_EXCEEDED"
    assert "mixed.csv: 3 bad rows" in caught.value.message
    assert "(line 2, column score: WRONG_NUMBER_OF_FIELDS" in caught.value.message
    assert harness.rows(PEOPLE) == rows
    assert harness.ledger() == ledger
    assert ledger[0]["fingerprint"] == before.fingerprint
    assert harness.quarantine() == []


def test_abort_with_clean_files_loads(harness: Harness) -> None:
    clean = harness.write("clean.csv", CLEAN)

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, clean, policy=ErrorPolicy(OnError.ABORT))

    assert count_of(result.counts) == Count(2, 2, 0, 0, 0)


@pytest.mark.parametrize(
    "raw",
    [
        {"on_error": "skip_file", "max_errors": -1},
        {"on_error": "skip_file", "max_error_percent": 101},
        {"on_error": "continue", "max_errors": 3},
        {"on_error": "sometimes"},
        {"on_error": "abort", "limit": 3},
    ],
    ids=["negative-max", "percent-over-100", "limit-without-skip", "unknown-policy", "unknown-key"],
)
def test_invalid_error_policies_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        ErrorPolicy.from_dict(raw)


def test_error_policy_round_trips_through_a_dict() -> None:
    policy = ErrorPolicy(OnError.SKIP_FILE, max_errors=3, max_error_percent=12.5)

    assert ErrorPolicy.from_dict(policy.to_dict()) == policy
