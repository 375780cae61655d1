"""The unit state machine and the run state derived from it (DESIGN.md "Run and unit states").

Contract:

* ``UnitState`` is the one internal vocabulary for a unit of work (one source and day, or one blob).
  Every dialect's status strings are projections of it (``domain.projections``); none is stored.
* ``ALLOWED_TRANSITIONS`` is the only source of truth for which state may follow which;
  ``check_transition`` raises ``IllegalTransition`` for anything else. Terminal states have no
  successors: history is appended to, never rewritten, and a finished unit stays finished.
* ``RunState`` is never stored either: ``derive_run_state`` computes it from the unit states.

Pure: no I/O, no third-party imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType

from ingestd.errors import IllegalTransition


class UnitState(StrEnum):
    """Where one unit of work stands. Values are the stored strings."""

    ENQUEUED = "enqueued"
    STARTED = "started"
    DOWNLOADING = "downloading"
    LOADING = "loading"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    SKIPPED = "skipped"


TERMINAL_UNIT_STATES: frozenset[UnitState] = frozenset(
    {UnitState.SUCCEEDED, UnitState.FAILED, UnitState.CANCELED, UnitState.SKIPPED}
)
"""States a unit never leaves."""

ACTIVE_UNIT_STATES: frozenset[UnitState] = frozenset(
    {UnitState.STARTED, UnitState.DOWNLOADING, UnitState.LOADING}
)
"""States in which a worker holds the unit (a claim exists)."""

_NOTHING: frozenset[UnitState] = frozenset()

ALLOWED_TRANSITIONS: Mapping[UnitState, frozenset[UnitState]] = MappingProxyType(
    {
        UnitState.ENQUEUED: frozenset(
            # skipped: nothing to do is known before any work (e.g. an ingestIfNotExists hit).
            {UnitState.STARTED, UnitState.CANCELED, UnitState.SKIPPED}
        ),
        UnitState.STARTED: frozenset(
            {
                UnitState.DOWNLOADING,
                # loading straight away: sources with nothing to download (SQL queries).
                UnitState.LOADING,
                UnitState.SUCCEEDED,
                UnitState.FAILED,
                UnitState.RETRYING,
                UnitState.CANCELED,
                UnitState.SKIPPED,
            }
        ),
        UnitState.DOWNLOADING: frozenset(
            {UnitState.LOADING, UnitState.FAILED, UnitState.RETRYING, UnitState.CANCELED}
        ),
        UnitState.LOADING: frozenset(
            {UnitState.SUCCEEDED, UnitState.FAILED, UnitState.RETRYING, UnitState.CANCELED}
        ),
        UnitState.RETRYING: frozenset(
            # failed: retries exhausted, or recovery decides the unit cannot be resumed.
            {UnitState.STARTED, UnitState.FAILED, UnitState.CANCELED}
        ),
        UnitState.SUCCEEDED: _NOTHING,
        UnitState.FAILED: _NOTHING,
        UnitState.CANCELED: _NOTHING,
        UnitState.SKIPPED: _NOTHING,
    }
)
"""For each state, the states that may directly follow it."""


def check_transition(current: UnitState, new: UnitState) -> None:
    """Return if ``current → new`` is allowed; raise ``IllegalTransition`` otherwise.

    The message names both states and the allowed next states, so an API caller (e.g. one
    canceling a finished unit) learns why the request was refused.
    """
    allowed = ALLOWED_TRANSITIONS[current]
    if new in allowed:
        return
    in_order = [s for s in UnitState if s in allowed]
    choices = ", ".join(in_order) if in_order else f"none, {current} is terminal"
    raise IllegalTransition(
        f"a unit cannot go from {current} to {new}", hint=f"allowed from {current}: {choices}"
    )


class RunState(StrEnum):
    """Where a run (a set of units) stands; always derived, see ``derive_run_state``."""

    ENQUEUED = "enqueued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


_DONE_OK: frozenset[UnitState] = frozenset({UnitState.SUCCEEDED, UnitState.SKIPPED})


def derive_run_state(
    unit_states: Iterable[UnitState], *, cancel_requested: bool = False
) -> RunState:
    """The state of a run whose units are in ``unit_states``.

    Rules, first match wins:

    1. no units → ``succeeded`` (nothing to do is done);
    2. every unit ``enqueued`` → ``enqueued``;
    3. any unit not terminal → ``running`` (a cancel moves units to ``canceled``, so a run
       being canceled is ``running`` until its units have moved);
    4. ``cancel_requested`` and any unit ``canceled`` → ``canceled`` (units that finished
       before the cancel arrived do not turn the user's cancel into a partial success);
    5. every unit ``succeeded`` or ``skipped`` → ``succeeded``;
    6. no unit ``succeeded``/``skipped`` and any ``failed`` → ``failed``;
    7. every unit ``canceled`` → ``canceled``;
    8. otherwise (at least one ``succeeded``/``skipped`` and at least one ``failed`` or
       ``canceled``) → ``partially_succeeded``.
    """
    states = list(unit_states)
    if not states:
        return RunState.SUCCEEDED
    if all(s == UnitState.ENQUEUED for s in states):
        return RunState.ENQUEUED
    if any(s not in TERMINAL_UNIT_STATES for s in states):
        return RunState.RUNNING
    any_canceled = UnitState.CANCELED in states
    if cancel_requested and any_canceled:
        return RunState.CANCELED
    ok = sum(1 for s in states if s in _DONE_OK)
    if ok == len(states):
        return RunState.SUCCEEDED
    if ok == 0:
        return RunState.FAILED if UnitState.FAILED in states else RunState.CANCELED
    return RunState.PARTIALLY_SUCCEEDED
