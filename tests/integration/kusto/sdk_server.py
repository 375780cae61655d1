"""An ingestd app served by uvicorn in a thread of the test process, on a free loopback port,
so that Microsoft's SDKs talk HTTP to it while the test reads the destination directly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.services import Services
from tests.conftest import make_services
from tests.integration.kusto.servers import free_port

START_LIMIT_SECONDS = 30.0


@dataclass
class SdkServer:
    url: str
    services: Services

    def key(self, project: str, kind: KeyKind = KeyKind.CONSOLE) -> str:
        return self.services.access.create_key(project, kind)


@contextmanager
def sdk_server(data: Path, **settings: Any) -> Iterator[SdkServer]:
    services = make_services(data, **settings)
    port = free_port()
    config = uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_LIMIT_SECONDS
    while not server.started:
        assert thread.is_alive(), "uvicorn exited at start"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield SdkServer(f"http://127.0.0.1:{port}", services)
    finally:
        server.should_exit = True
        thread.join(30)
        services.close()
