"""The extra API processes of `ingestd serve` (INGESTD_API_PROCESSES / --api-processes > 1).

One Python process runs one request's bytecode at a time (the GIL): however many cores a
machine has, one serve process answers at most about 1 / (its CPU per request) requests a
second, and a load running in its worker pool competes for the same lock. With N processes,
the serve process binds the port and starts N - 1 API processes that inherit the listening
socket and accept on it beside it; the kernel gives each new connection to one of them.

Only the serve process runs the worker pool, the scheduler and the background (and announces
itself in server.json); an API process answers requests and nothing else (``create_app`` with
``background=False``). It is started with the serve process's settings (its environment,
with the data directory it was given), gets the operator token on its standard input (never
in its arguments or environment, which other users may read), ends when the serve process
ends (it is told, or it notices that its parent is gone), and is started again if it exits on
its own. API processes share one machine with the serve process by construction, so their
HTTP metrics are summed through a directory of the data directory (observability.metrics).

This needs PostgreSQL for the metadata and the destination (``control.deployment``): the
DuckDB file is one process's, and so is the SQLite write lock.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("ingestd.serve")

RESTART_DELAY_SECONDS = 1.0
"""How long a supervisor waits before starting an API process that exited again (a process
that cannot start at all is not restarted in a tight loop)."""
PARENT_CHECK_SECONDS = 1.0
"""How often an API process checks that the serve process that started it still runs."""


@dataclass
class ApiProcesses:
    """The serve process's side: starts ``count`` API processes on ``sock``, restarts any that
    exits while serving, and stops them all (``stop``)."""

    sock: socket.socket
    count: int
    data_dir: Path
    operator_token: str
    debug: bool = False
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _supervisor: threading.Thread | None = None

    def start(self) -> None:
        self._children = [self._spawn() for _ in range(self.count)]
        self._supervisor = threading.Thread(
            target=self._supervise, name="ingestd-api-processes", daemon=True
        )
        self._supervisor.start()

    def pids(self) -> list[int]:
        return [child.pid for child in self._children]

    def terminate(self) -> None:
        """Ask every API process to finish its requests and exit (none is started again)."""
        self._stopping.set()
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join()
        for child in self._children:
            if child.poll() is None:
                child.terminate()

    def stop(self, timeout: float = 30.0) -> None:
        """``terminate``, then wait for each; kill those still running after ``timeout``."""
        self.terminate()
        for child in self._children:
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def _spawn(self) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ingestd.cli.serve_processes",
                str(self.sock.fileno()),
                "debug" if self.debug else "quiet",
            ],
            # The settings the serve process runs with, and its data directory even when
            # it came from --data-dir; INGESTD_API_PROCESSES=1 keeps a child from counting
            # itself among the processes to start.
            env={
                **os.environ,
                "INGESTD_DATA_DIR": str(self.data_dir),
                "INGESTD_API_PROCESSES": "1",
            },
            pass_fds=(self.sock.fileno(),),
            stdin=subprocess.PIPE,
            # Its own session: a Ctrl-C in the terminal reaches the serve process, which
            # stops the API processes itself (none is restarted while it stops).
            start_new_session=True,
        )
        assert child.stdin is not None
        try:
            child.stdin.write(self.operator_token.encode() + b"\n")
            child.stdin.close()
        except BrokenPipeError:
            pass  # it exited before reading: the supervisor sees that and starts another
        return child

    def _supervise(self) -> None:
        while not self._stopping.wait(RESTART_DELAY_SECONDS):
            for i, child in enumerate(self._children):
                code = child.poll()
                if code is None or self._stopping.is_set():
                    continue
                log.warning("API process %d exited with code %d; starting another", child.pid, code)
                try:
                    self._children[i] = self._spawn()
                except OSError as exc:
                    # Out of processes or memory, for now: the next tick tries again, and the
                    # ones still running keep serving.
                    log.error("could not start an API process: %s", exc)


def _watch_parent(parent: int, stop: threading.Event, server: uvicorn.Server) -> None:
    """Stop serving once the serve process is gone (killed, so it could not stop us): an API
    process alone would answer requests with no scheduler or pool behind it."""
    while not stop.wait(PARENT_CHECK_SECONDS):
        if os.getppid() != parent:
            server.should_exit = True
            return


def main() -> None:
    """An API process: ``python -m ingestd.cli.serve_processes <fd> debug|quiet``, the operator
    token on standard input."""
    import uvicorn

    from ingestd.api.app import create_app
    from ingestd.observability import logging as observability_logging
    from ingestd.services import Services
    from ingestd.settings import Settings

    fd, verbosity = int(sys.argv[1]), sys.argv[2]
    parent = os.getppid()
    token = sys.stdin.readline().strip()
    settings = Settings()
    observability_logging.configure(
        settings.log_format, debug=verbosity == "debug", access_log=True
    )
    services = Services(settings)
    services.access.accept_operator_token(token)
    sock = socket.socket(fileno=fd)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services, background=False),
            log_level="warning",
            lifespan="on",
            log_config=None,
            access_log=False,
        )
    )
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch_parent, args=(parent, stop, server), name="ingestd-parent", daemon=True
    )
    watcher.start()
    try:
        server.run(sockets=[sock])
    finally:
        stop.set()
        services.close()


if __name__ == "__main__":
    main()
