"""A preview's typed values as JSON (ingestd.domain.previews.json_value): what the native API's
preview answer and the CLI's ``preview --json`` both print."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ingestd.domain.previews import json_value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(None, None, id="null"),
        pytest.param("text", "text", id="string"),
        pytest.param(7, 7, id="int"),
        pytest.param(2.5, 2.5, id="float"),
        pytest.param(True, True, id="bool"),
        pytest.param(date(2024, 3, 1), "2024-03-01", id="date"),
        pytest.param(datetime(2024, 3, 1, 4, 5, 6), "2024-03-01T04:05:06Z", id="naive-utc"),
        pytest.param(
            datetime(2024, 3, 1, 4, 5, 6, tzinfo=UTC), "2024-03-01T04:05:06+00:00", id="aware-utc"
        ),
        pytest.param(
            datetime(2024, 3, 1, 4, 5, tzinfo=timezone(timedelta(hours=-8))),
            "2024-03-01T04:05:00-08:00",
            id="aware-offset",
        ),
        pytest.param(Decimal("12.50"), "12.50", id="decimal-as-text"),
        pytest.param(b"\x01", "b'\\x01'", id="bytes-as-text"),
    ],
)
def test_a_preview_value_as_json(value: object, shown: object) -> None:
    assert json_value(value) == shown
