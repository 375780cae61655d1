"""Tells the worker pools that units were just enqueued, so they claim them now.

A pool that finds nothing due sleeps until its idle interval ends or it is woken; without the
signal a freshly queued blob waits up to that interval (0.5 s) before anything happens. The
control services announce; the composition root (``ingestd.services``) subscribes each pool it
builds. Listeners are held weakly: a pool that is gone stops being woken, nothing leaks.

The pool may run in another process (``serve --api-processes``: the API processes queue, the
parent's pool claims) or on another machine: ``relay`` carries each announcement there
(``store.work_notices``, PostgreSQL metadata), where a listener calls ``wake_here``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable


class WorkSignal:
    def __init__(self, relay: Callable[[], None] | None = None) -> None:
        """``relay``: tells the other processes too (it must not raise)."""
        self._lock = threading.Lock()
        self._listeners: list[weakref.WeakMethod[Callable[[], None]]] = []
        self._relay = relay

    def subscribe(self, wake: Callable[[], None]) -> None:
        """Call the bound method ``wake`` on every ``announce`` while its object lives."""
        with self._lock:
            self._listeners.append(weakref.WeakMethod(wake))

    def announce(self) -> None:
        """New units are due: wake every live listener here and relay it to the others."""
        self.wake_here()
        if self._relay is not None:
            self._relay()

    def wake_here(self) -> None:
        """Wake every live listener of this process (each call only sets an event)."""
        with self._lock:
            alive = [(ref, ref()) for ref in self._listeners]
            self._listeners = [ref for ref, wake in alive if wake is not None]
        for _, wake in alive:
            if wake is not None:
                wake()
