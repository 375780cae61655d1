"""Canceling an operation while its blob is still downloading: the download stops at the next
chunk, the unit ends canceled, and nothing of the blob stays staged."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.integration.kusto.conftest import Env

CHUNKS = 120
GAP_SECONDS = 0.05
"""The blob takes CHUNKS x GAP_SECONDS (6 s) to serve: far longer than a cancel takes."""


@dataclass
class Trickle:
    """Serves one CSV blob at ``/trickle.csv``, one small chunk every ``GAP_SECONDS``."""

    base: str
    first_chunk_sent: threading.Event = field(default_factory=threading.Event)
    client_left: threading.Event = field(default_factory=threading.Event)
    served_everything: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def trickle() -> Iterator[Trickle]:
    state: dict[str, Trickle] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            served = state["served"]
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for i in range(CHUNKS):
                    row = f"row{i},{i}\n".encode()
                    self.wfile.write(f"{len(row):x}\r\n".encode() + row + b"\r\n")
                    self.wfile.flush()
                    served.first_chunk_sent.set()
                    if served.stop.wait(GAP_SECONDS):
                        return
                self.wfile.write(b"0\r\n\r\n")
                served.served_everything.set()
            except (BrokenPipeError, ConnectionResetError):
                served.client_left.set()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    served = Trickle(f"http://127.0.0.1:{httpd.server_address[1]}")
    state["served"] = served
    thread = threading.Thread(target=httpd.serve_forever, name="trickle", daemon=True)
    thread.start()
    yield served
    served.stop.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def test_a_cancel_mid_download_ends_the_blob_canceled_with_nothing_staged(
    env: Env, trickle: Trickle
) -> None:
    env.create_table()
    operation = env.submit([f"{trickle.base}/trickle.csv"])
    assert trickle.first_chunk_sent.wait(30), "no worker started the download"

    canceled = env.rows(f".cancel queued ingestion operation '{operation}'")
    assert canceled[0]["State"] == "Canceled"
    body = env.wait(operation)

    assert body["status"] == {"Succeeded": 0, "Failed": 0, "InProgress": 0, "Canceled": 1}
    # The worker dropped the connection: the blob was not downloaded to its end first.
    assert trickle.client_left.wait(10), "the download went on after the cancel"
    assert not trickle.served_everything.is_set()
    staging = env.services.settings.data_dir / "staging"
    assert [p.name for p in staging.rglob("*") if "extract-" in str(p) or p.suffix == ".part"] == []
