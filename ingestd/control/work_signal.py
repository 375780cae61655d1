"""Tells this process's worker pools that units were just enqueued, so they claim them now.

A pool that finds nothing due sleeps until its idle interval ends or it is woken; without the
signal a freshly queued blob waits up to that interval (0.5 s) before anything happens. The
control services announce; the composition root (``ingestd.services``) subscribes each pool it
builds. Listeners are held weakly: a pool that is gone stops being woken, nothing leaks.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable


class WorkSignal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[weakref.WeakMethod[Callable[[], None]]] = []

    def subscribe(self, wake: Callable[[], None]) -> None:
        """Call the bound method ``wake`` on every ``announce`` while its object lives."""
        with self._lock:
            self._listeners.append(weakref.WeakMethod(wake))

    def announce(self) -> None:
        """New units are due: wake every live listener (each call only sets an event)."""
        with self._lock:
            alive = [(ref, ref()) for ref in self._listeners]
            self._listeners = [ref for ref, wake in alive if wake is not None]
        for _, wake in alive:
            if wake is not None:
                wake()
