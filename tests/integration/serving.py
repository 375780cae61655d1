"""A real `ingestd serve` process on a free loopback port, with a console key, for HTTP tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

CLI = [sys.executable, "-c", "from ingestd.cli.main import run; run()"]


@dataclass
class Server:
    url: str
    key: str
    data: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop serving (the process holds the DuckDB file) and wait for it to exit."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        if self.process.stderr is not None:
            self.process.stderr.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(data: Path, **settings: str) -> Iterator[Server]:
    """Create a console key for project ``acme``, start serving on ``data``, stop at the end.
    ``settings`` are extra INGESTD_* variables (name without the prefix)."""
    env = {
        **os.environ,
        "INGESTD_DATA_DIR": str(data),
        **{f"INGESTD_{name.upper()}": value for name, value in settings.items()},
    }
    created = subprocess.run(
        [*CLI, "keys", "create", "--project", "acme", "--kind", "console"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = Server(f"http://127.0.0.1:{port}", key, data, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                message = process.stderr.read().decode() if process.stderr else ""
                raise AssertionError(f"ingestd serve exited: {message}")
            assert time.monotonic() < deadline, "ingestd serve did not come up"
            time.sleep(0.2)
        yield server
    finally:
        server.stop()
