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


def test_an_announcement_is_relayed_and_a_relayed_one_is_not_sent_back() -> None:
    relayed: list[str] = []
    signal, here = WorkSignal(relay=lambda: relayed.append("notice")), _Sleeper()
    signal.subscribe(here.wake)
    signal.announce()
    assert (here.woken, relayed) == (1, ["notice"])
    signal.wake_here()  # what a listener calls for another process's notice
    assert (here.woken, relayed) == (2, ["notice"])
