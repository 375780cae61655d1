"""The unit state machine and the derived run state (ingestd.domain.states)."""

from __future__ import annotations

import itertools

import pytest

from ingestd.domain.states import (
    ACTIVE_UNIT_STATES,
    ALLOWED_TRANSITIONS,
    TERMINAL_UNIT_STATES,
    RunState,
    UnitState,
    check_transition,
    derive_run_state,
)
from ingestd.errors import IllegalTransition

E, ST, D, L, R = "enqueued", "started", "downloading", "loading", "retrying"
OK, F, C, SK = "succeeded", "failed", "canceled", "skipped"

# Written out independently of ALLOWED_TRANSITIONS, so a change there must be made here too.
EXPECTED_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        (E, ST),
        (E, C),
        (E, SK),
        (ST, D),
        (ST, L),
        (ST, OK),
        (ST, F),
        (ST, R),
        (ST, C),
        (ST, SK),
        (D, L),
        (D, F),
        (D, R),
        (D, C),
        (L, OK),
        (L, F),
        (L, R),
        (L, C),
        (R, ST),
        (R, F),
        (R, C),
    }
)

ALL_PAIRS = list(itertools.product(UnitState, UnitState))


def test_unit_state_values() -> None:
    assert [s.value for s in UnitState] == [E, ST, D, L, R, OK, F, C, SK]


def test_run_state_values() -> None:
    assert [s.value for s in RunState] == [
        "enqueued",
        "running",
        "succeeded",
        "partially_succeeded",
        "failed",
        "canceled",
    ]


def test_terminal_and_active_sets() -> None:
    assert {s.value for s in TERMINAL_UNIT_STATES} == {OK, F, C, SK}
    assert {s.value for s in ACTIVE_UNIT_STATES} == {ST, D, L}


def test_every_state_has_an_entry() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(UnitState)


@pytest.mark.parametrize("state", sorted(TERMINAL_UNIT_STATES), ids=str)
def test_terminal_states_have_no_successor(state: UnitState) -> None:
    assert ALLOWED_TRANSITIONS[state] == frozenset()


@pytest.mark.parametrize(
    ("current", "new"),
    [pair for pair in ALL_PAIRS if (pair[0].value, pair[1].value) in EXPECTED_ALLOWED],
    ids=lambda s: str(s),
)
def test_allowed_transition_passes(current: UnitState, new: UnitState) -> None:
    check_transition(current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    [pair for pair in ALL_PAIRS if (pair[0].value, pair[1].value) not in EXPECTED_ALLOWED],
    ids=lambda s: str(s),
)
def test_other_transition_raises(current: UnitState, new: UnitState) -> None:
    with pytest.raises(IllegalTransition) as info:
        check_transition(current, new)
    assert info.value.code == "ILLEGAL_TRANSITION"
    assert info.value.http_status == 409
    text = str(info.value)
    assert f"from {current} to {new}" in text
    for allowed in ALLOWED_TRANSITIONS[current]:
        assert allowed.value in text


def test_cartesian_product_is_split_exactly() -> None:
    assert len(ALL_PAIRS) == 81
    assert sum((a.value, b.value) in EXPECTED_ALLOWED for a, b in ALL_PAIRS) == 21


def test_illegal_transition_message_lists_allowed_states_in_order() -> None:
    with pytest.raises(IllegalTransition) as info:
        check_transition(UnitState.RETRYING, UnitState.SUCCEEDED)
    assert str(info.value) == (
        "a unit cannot go from retrying to succeeded "
        "(allowed from retrying: started, failed, canceled)"
    )


def test_illegal_transition_message_from_terminal_state() -> None:
    with pytest.raises(IllegalTransition, match=r"none, succeeded is terminal"):
        check_transition(UnitState.SUCCEEDED, UnitState.CANCELED)


def _units(*names: str) -> list[UnitState]:
    return [UnitState(n) for n in names]


@pytest.mark.parametrize(
    ("units", "cancel_requested", "expected"),
    [
        pytest.param((), False, "succeeded", id="no-units"),
        pytest.param((), True, "succeeded", id="no-units-cancel-requested"),
        pytest.param((E,), False, "enqueued", id="one-enqueued"),
        pytest.param((E, E, E), False, "enqueued", id="all-enqueued"),
        pytest.param((E, E), True, "enqueued", id="all-enqueued-cancel-not-applied-yet"),
        pytest.param((E, ST), False, "running", id="enqueued-and-started"),
        pytest.param((E, OK), False, "running", id="enqueued-and-succeeded"),
        pytest.param((E, C), True, "running", id="cancel-half-applied"),
        pytest.param((D,), False, "running", id="downloading"),
        pytest.param((L, OK), False, "running", id="loading-and-succeeded"),
        pytest.param((R, F), False, "running", id="retrying-and-failed"),
        pytest.param((OK,), False, "succeeded", id="one-succeeded"),
        pytest.param((OK, SK), False, "succeeded", id="succeeded-and-skipped"),
        pytest.param((SK, SK), False, "succeeded", id="all-skipped"),
        pytest.param((OK, OK), True, "succeeded", id="cancel-arrived-after-all-succeeded"),
        pytest.param((F,), False, "failed", id="one-failed"),
        pytest.param((F, F), False, "failed", id="all-failed"),
        pytest.param((F, C), False, "failed", id="failed-and-canceled"),
        pytest.param((F, F), True, "failed", id="all-failed-cancel-requested"),
        pytest.param((C,), False, "canceled", id="one-canceled"),
        pytest.param((C, C), False, "canceled", id="all-canceled"),
        pytest.param((C, C), True, "canceled", id="all-canceled-cancel-requested"),
        pytest.param((OK, F), False, "partially_succeeded", id="succeeded-and-failed"),
        pytest.param((SK, F), False, "partially_succeeded", id="skipped-and-failed"),
        pytest.param((OK, C), False, "partially_succeeded", id="succeeded-and-canceled"),
        pytest.param((OK, F, C), False, "partially_succeeded", id="succeeded-failed-canceled"),
        pytest.param((OK, C), True, "canceled", id="cancel-requested-some-canceled"),
        pytest.param((F, C), True, "canceled", id="cancel-requested-failed-and-canceled"),
        pytest.param((OK, F), True, "partially_succeeded", id="cancel-requested-none-canceled"),
    ],
)
def test_derive_run_state(units: tuple[str, ...], cancel_requested: bool, expected: str) -> None:
    state = derive_run_state(_units(*units), cancel_requested=cancel_requested)
    assert state == RunState(expected)


def test_derive_run_state_accepts_a_generator() -> None:
    assert derive_run_state(s for s in _units(OK, F)) is RunState.PARTIALLY_SUCCEEDED
