"""A tiny HTTP server on 127.0.0.1 that answers fixed JSON per path prefix: stands in for a
cloud service's error answers (refused login, rejected query) so the real driver meets them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Routes = dict[str, tuple[int, Any]]
"""Path prefix -> (status, JSON body); the longest matching prefix answers, else 404."""


@contextmanager
def http_stub(routes: Routes) -> Iterator[str]:
    """Serve ``routes``; yields the base URL (``http://127.0.0.1:PORT``)."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            matches = [p for p in routes if self.path.startswith(p)]
            status, body = routes[max(matches, key=len)] if matches else (404, {})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
