"""The dashboard in-process: the native fixture's app, project and source (``acme``,
``orders`` loading ``shop.orders`` from files), and browsers signed in with a key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingestd.control.access import KeyKind
from tests.api.native.conftest import Native, _native

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def browser(
    native: Native, key: str | None = None, *, kind: KeyKind = KeyKind.CONSOLE
) -> TestClient:
    """A new client (its own cookie jar) signed in with ``key`` (default: acme's ``kind`` key)."""
    client = TestClient(native.client.app, follow_redirects=False)
    response = client.post("/ui/login", data={"key": key or native.keys[kind]})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"
    return client


def csrf_of(client: TestClient, path: str = "/ui/sources") -> str:
    """The session's CSRF token, as a page's forms carry it."""
    found = CSRF.search(client.get(path).text)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def load_day_with_bad_rows(native: Native, day: date) -> str:
    """Load ``day`` with two rows that fail typing (quarantined); returns the run id."""
    native.write_day(day, "id,amount\n1,10\n2,10.5\n3,x\n4,7\n")
    run = native.run([day])
    native.drain()
    return run


@pytest.fixture
def native(tmp_path: Path) -> Iterator[Native]:
    yield from _native(tmp_path / "data")
