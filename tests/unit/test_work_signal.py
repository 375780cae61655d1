"""The signal that wakes worker pools when units are queued (control.work_signal)."""

from __future__ import annotations

import gc

from ingestd.control.work_signal import WorkSignal


class _Sleeper:
    def __init__(self) -> None:
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1


def test_every_subscriber_is_woken_on_each_announce() -> None:
    signal, first, second = WorkSignal(), _Sleeper(), _Sleeper()
    signal.subscribe(first.wake)
    signal.subscribe(second.wake)
    signal.announce()
    signal.announce()
    assert (first.woken, second.woken) == (2, 2)


def test_a_subscriber_that_is_gone_is_dropped_and_the_others_still_woken() -> None:
    signal, kept, gone = WorkSignal(), _Sleeper(), _Sleeper()
    signal.subscribe(gone.wake)
    signal.subscribe(kept.wake)
    del gone
    gc.collect()
    signal.announce()
    assert kept.woken == 1
    assert len(signal._listeners) == 1  # the dead reference no longer held
