"""``<data dir>/server.json``: how a CLI finds the ``ingestd serve`` of its data directory.

``serve`` writes it (mode 0600, atomically: a reader sees the old file or the whole new one)
once it accepts connections, and removes it when it stops cleanly. It holds the URL, the pid,
the start time and a random operator token. The token grants what reading the data directory
already grants (the directory holds the secret key and the metadata database): the native API
accepts it as ``Authorization: Bearer``, compared in constant time, with ``X-Ingestd-Project``
naming the project it acts in as a console key. A file whose pid is gone, or whose URL does not
answer ``/healthz``, is stale: ignored by the CLI, replaced by the next ``serve``.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

FILE_NAME = "server.json"
_HEALTH_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class ServerInfo:
    url: str
    pid: int
    started_at: datetime
    token: str

    def __repr__(self) -> str:  # the token is a credential: never in a repr or a log line
        return f"ServerInfo(url={self.url!r}, pid={self.pid}, started_at={self.started_at!r})"


def server_file(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def new_token() -> str:
    return secrets.token_urlsafe(32)


def client_url(host: str, port: int) -> str:
    """The URL a local client reaches a server bound to ``host:port`` at (a wildcard bind is
    reached on loopback)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def write(data_dir: Path, info: ServerInfo) -> None:
    """Write ``server.json`` with mode 0600: a temporary file created with that mode (never
    readable by others, even for an instant), then renamed over the old one."""
    target = server_file(data_dir)
    temporary = target.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    body = json.dumps(
        {
            "url": info.url,
            "pid": info.pid,
            "started_at": info.started_at.isoformat(),
            "token": info.token,
        }
    ).encode()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a file left by a crash
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, target)


def read(data_dir: Path) -> ServerInfo | None:
    """The file's content, or None when there is none or it is not one ``serve`` wrote."""
    try:
        raw = json.loads(server_file(data_dir).read_text())
        return ServerInfo(
            url=str(raw["url"]),
            pid=int(raw["pid"]),
            started_at=datetime.fromisoformat(str(raw["started_at"])),
            token=str(raw["token"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove(data_dir: Path, info: ServerInfo) -> None:
    """Remove the file if it is still this server's (a later ``serve`` may have replaced it)."""
    current = read(data_dir)
    if current is not None and current.token == info.token:
        server_file(data_dir).unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def running(data_dir: Path) -> ServerInfo | None:
    """The server of ``data_dir`` if its file is there and it answers, else None (stale)."""
    info = read(data_dir)
    if info is None or not _pid_alive(info.pid):
        return None
    try:
        answer = httpx.get(f"{info.url}/healthz", timeout=_HEALTH_TIMEOUT_SECONDS)
    except httpx.HTTPError:
        return None
    return info if answer.status_code == 200 else None
