"""Control services on the real SQLite repositories of a temporary metadata store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingestd.store.database import Store
from ingestd.store.secret_box import SecretBox, generate_key

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class SteppedClock:
    """A clock the test moves by hand."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'metadata.sqlite'}", SecretBox([generate_key()]))
    opened.migrate()
    yield opened
    opened.dispose()


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()
