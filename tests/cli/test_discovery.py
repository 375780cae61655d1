"""server.json: written atomically with mode 0600, read back, ignored when stale or foreign."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

from ingestd.cli.remote import discovery
from ingestd.cli.remote.client import error_class
from ingestd.errors import Conflict, IngestdError, NotFound, RequestError
from tests.integration.serving import free_port

AT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _info(pid: int, token: str = "t" * 43) -> discovery.ServerInfo:
    return discovery.ServerInfo(f"http://127.0.0.1:{free_port()}", pid, AT, token)


def test_the_file_is_0600_from_the_start_and_reads_back(tmp_path: Path) -> None:
    leftover = tmp_path / f".server.json.{os.getpid()}.tmp"
    leftover.write_text("from a crash")
    leftover.chmod(0o644)
    info = _info(os.getpid())
    discovery.write(tmp_path, info)
    path = discovery.server_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert discovery.read(tmp_path) == info
    assert not leftover.exists()
    assert info.token not in repr(info)


def test_remove_leaves_a_file_another_server_wrote(tmp_path: Path) -> None:
    mine, theirs = _info(1, "a" * 43), _info(2, "b" * 43)
    discovery.write(tmp_path, theirs)
    discovery.remove(tmp_path, mine)
    assert discovery.read(tmp_path) == theirs
    discovery.remove(tmp_path, theirs)
    assert not discovery.server_file(tmp_path).exists()


def test_missing_broken_dead_or_silent_servers_are_not_running(tmp_path: Path) -> None:
    assert discovery.running(tmp_path) is None
    discovery.server_file(tmp_path).write_text("{not json")
    assert discovery.read(tmp_path) is None and discovery.running(tmp_path) is None
    discovery.server_file(tmp_path).write_text('{"url": "http://x"}')
    assert discovery.read(tmp_path) is None
    discovery.write(tmp_path, _info(os.getpid()))  # alive, but nothing listens on the port
    assert discovery.running(tmp_path) is None


def test_a_wildcard_bind_is_reached_on_loopback() -> None:
    assert discovery.client_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert discovery.client_url("::", 8000) == "http://[::1]:8000"
    assert discovery.client_url("192.0.2.7", 81) == "http://192.0.2.7:81"


def test_server_error_codes_become_the_same_error_classes() -> None:
    assert error_class("NOT_FOUND", 404) is NotFound
    assert error_class("CONFLICT", 409) is Conflict
    novel = error_class("SOMETHING_NEW", 422)
    assert issubclass(novel, RequestError) and novel.code == "SOMETHING_NEW"
    failed = error_class("DESTINATION_ERROR", 503)
    assert issubclass(failed, IngestdError) and not issubclass(failed, RequestError)
