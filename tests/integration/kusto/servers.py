"""Real storage servers on loopback for the Kusto tests: a local HTTP server (in a thread),
moto's S3 server, Azurite (npm) and a GCS emulator (subprocesses on free ports).

Each ``start_*`` returns a handle whose ``stop()`` ends what it started. A tool that is not
installed raises ``Unavailable`` with the reason; the fixtures turn that into
``require_service`` (a skip locally, a failure under CI=true).
"""

from __future__ import annotations

import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[3]
TOOLS = ROOT / "tests" / ".tools"
AZURITE_VERSION = "3.37.0"
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented by Microsoft for the emulator).
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
START_LIMIT_SECONDS = 60.0


class Unavailable(Exception):
    """A server could not be installed or started here."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes] | None, name: str) -> None:
    deadline = time.monotonic() + START_LIMIT_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise Unavailable(f"{name} exited with status {process.returncode} at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise Unavailable(f"{name} did not listen on port {port} in {START_LIMIT_SECONDS:g}s")


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, grace: float = 10) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# -- the local HTTP server --------------------------------------------------------------------


@dataclass
class HttpServer:
    """Serves registered blobs under ``/blobs/<name>`` and misbehaves on purpose:

    * ``/status/<code>``: answers that status;
    * ``/reset``: resets the connection without an answer;
    * ``/slow``: answers nothing for ``slow_seconds``;
    * ``/redirect?to=<url>``: 302 to the URL;
    * ``/flaky/<name>``: 503 for the first ``flaky_failures`` requests, then the blob;
    * ``/stream/<name>``: the blob without a Content-Length (chunked).
    """

    base: str
    server: ThreadingHTTPServer
    blobs: dict[str, bytes] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    slow_seconds: float = 3.0
    flaky_failures: int = 1

    def put(self, name: str, data: bytes | str) -> str:
        self.blobs[name] = data.encode() if isinstance(data, str) else data
        return f"{self.base}/blobs/{quote(name)}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_http() -> HttpServer:
    state: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            server: HttpServer = state["server"]
            parts = urlsplit(self.path)
            path = parts.path
            server.hits[path] += 1
            if path.startswith("/blobs/"):
                name = path.removeprefix("/blobs/")
                data = server.blobs.get(unquote(name))
                if data is None:
                    self._send(404, b"no such blob")
                else:
                    self._send(200, data, Content_Type="application/octet-stream")
            elif path.startswith("/status/"):
                self._send(int(path.removeprefix("/status/")), b"as you asked")
            elif path == "/reset":
                # SO_LINGER 0: close with a TCP reset instead of an answer.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                self.close_connection = True
            elif path == "/slow":
                time.sleep(server.slow_seconds)
                self._send(200, b"a,1\n")
            elif path == "/redirect":
                target = parse_qs(parts.query)["to"][0]
                self._send(302, b"", Location=target)
            elif path.startswith("/flaky/"):
                name = unquote(path.removeprefix("/flaky/"))
                if server.hits[path] <= server.flaky_failures:
                    self._send(503, b"try again")
                else:
                    self._send(200, server.blobs[name])
            elif path.startswith("/stream/"):
                data = server.blobs[unquote(path.removeprefix("/stream/"))]
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(data), 65536):
                    chunk = data[start : start + 65536]
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            else:
                self._send(404, b"unknown path")

    port = free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    server = HttpServer(f"http://127.0.0.1:{port}", httpd)
    state["server"] = server
    threading.Thread(target=httpd.serve_forever, name="kusto-test-http", daemon=True).start()
    return server


# -- moto S3 ----------------------------------------------------------------------------------


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen[bytes]
    client: Any
    access_key: str = "testing-key"
    secret_key: str = "testing-secret"

    def put(self, bucket: str, key: str, data: bytes | str) -> str:
        self.client.put_object(
            Bucket=bucket, Key=key, Body=data.encode() if isinstance(data, str) else data
        )
        return f"s3://{bucket}/{key}"

    def bucket(self, name: str) -> None:
        self.client.create_bucket(Bucket=name)

    def stop(self) -> None:
        _stop(self.process)


def start_moto() -> S3Server:
    try:
        import boto3
        import moto.server  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"moto[server] and boto3 are not installed ({exc})") from exc
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process, "moto")
    except Unavailable:
        _stop(process)
        raise
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing-key",
        aws_secret_access_key="testing-secret",
        region_name="us-east-1",
    )
    return S3Server(endpoint, process, client)


# -- Azurite ----------------------------------------------------------------------------------


@dataclass
class AzureServer:
    endpoint: str
    """Path-style, account included: http://127.0.0.1:PORT/devstoreaccount1."""
    process: subprocess.Popen[bytes]
    service: Any
    account: str = AZURITE_ACCOUNT
    key: str = AZURITE_KEY

    def put(self, container: str, name: str, data: bytes | str) -> str:
        """Upload and return the blob's public-cloud style URL (resolved through a connection
        whose endpoint points here)."""
        blob = self.service.get_blob_client(container, name)
        blob.upload_blob(data.encode() if isinstance(data, str) else data, overwrite=True)
        return f"https://{self.account}.blob.core.windows.net/{container}/{quote(name)}"

    def container(self, name: str) -> None:
        self.service.create_container(name)

    def sas(self, container: str, name: str) -> str:
        from datetime import UTC, datetime, timedelta

        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        return generate_blob_sas(
            self.account,
            container,
            name,
            account_key=self.key,
            permission=BlobSasPermissions(read=True),
            expiry=datetime.now(UTC) + timedelta(hours=1),
        )

    def stop(self) -> None:
        # Azurite waits for idle keep-alive connections to time out before it exits; its data
        # is a temporary folder, so it gets a short grace period and is then killed.
        self.service.close()
        _stop(self.process, signal.SIGINT, grace=2)


def azurite_binary() -> Path:
    """tests/.tools/node_modules/.bin/azurite-blob, installed with npm if node is here."""
    binary = TOOLS / "node_modules" / ".bin" / "azurite-blob"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable("Azurite needs Node.js and npm (make test installs it when present)")
    done = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(TOOLS),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"azurite@{AZURITE_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0 or not binary.exists():
        raise Unavailable(f"npm install azurite failed: {done.stderr.strip()[-500:]}")
    return binary


def start_azurite(location: Path) -> AzureServer:
    try:
        from azure.storage.blob import BlobServiceClient
    except ImportError as exc:
        raise Unavailable(f"azure-storage-blob is not installed ({exc})") from exc
    binary = azurite_binary()
    port = free_port()
    process = subprocess.Popen(
        [
            str(binary),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(location),
            "--silent",
            "--skipApiVersionCheck",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process, "Azurite")
    except Unavailable:
        _stop(process)
        raise
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    service = BlobServiceClient(
        endpoint, credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    )
    return AzureServer(endpoint, process, service)


# -- GCS emulator -----------------------------------------------------------------------------


@dataclass
class GcsServer:
    endpoint: str
    process: subprocess.Popen[bytes]
    bucket: str = "gcs-bucket"

    def put(self, name: str, data: bytes | str) -> str:
        body = data.encode() if isinstance(data, str) else data
        response = httpx.put(f"{self.endpoint}/{self.bucket}/{quote(name)}", content=body)
        response.raise_for_status()
        return f"gs://{self.bucket}/{name}"

    def stop(self) -> None:
        _stop(self.process)


def start_gcs() -> GcsServer:
    try:
        import gcp_storage_emulator  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"gcp-storage-emulator is not installed ({exc})") from exc
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gcp_storage_emulator",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
            "--default-bucket",
            "gcs-bucket",
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process, "the GCS emulator")
    except Unavailable:
        _stop(process)
        raise
    return GcsServer(f"http://127.0.0.1:{port}", process)
