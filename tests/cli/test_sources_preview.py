"""`ingestd sources preview`: the demo's typed rows and bad rows, the exit status (0 good,
1 a bad row, 2 bad input), --json, and a preview while `ingestd serve` holds the destination."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import ingestd
from tests.integration.serving import serving

pytestmark = pytest.mark.slow  # subprocesses


def _demo(data: Path) -> str:
    """Set up the demo; the first of its days (from its files: the demo's days follow the
    clock, the test must not)."""
    ingestd(data, "demo")
    events = sorted((data / "files" / "demo").glob("events_*.csv"))
    return events[0].stem.removeprefix("events_")


def test_the_demo_events_preview_shows_its_bad_rows_and_exits_1(tmp_path: Path) -> None:
    data = tmp_path / "data"
    day = _demo(data)
    args = ["sources", "preview", "demo-events", "--day", day, "--limit", "10", "-p", "demo"]
    shown = ingestd(data, *args, ok=False)
    assert shown.returncode == 1, shown.stderr
    assert f"events_{day}.csv:#4:3 timestamp INVALID_TIMESTAMP" in shown.stdout
    assert f"events_{day}.csv:#9:2 event_name MISSING_REQUIRED_FIELD" in shown.stdout
    assert "8 good, 2 bad. Nothing was committed." in shown.stdout
    as_json = ingestd(data, *args, "--json", ok=False)
    assert as_json.returncode == 1
    body = json.loads(as_json.stdout)
    assert (len(body["rows"]), body["rows_read"], body["truncated"]) == (8, 10, True)
    assert [e["code"] for e in body["errors"]] == ["INVALID_TIMESTAMP", "MISSING_REQUIRED_FIELD"]
    assert body["columns"][0] == {"name": "unit_id", "type": "VARCHAR"}
    good = ingestd(data, "sources", "preview", "demo-orders", "--day", day, "-p", "demo")
    assert good.returncode == 0 and "20 good, 0 bad" in good.stdout


def test_bad_input_exits_2(tmp_path: Path) -> None:
    data = tmp_path / "data"
    day = _demo(data)
    base = ["sources", "preview", "--day", day, "-p", "demo"]
    for args, said in (
        ([*base, "demo-events", "--limit", "0"], "VALIDATION_ERROR"),
        ([*base, "nope"], "NOT_FOUND"),
        (
            ["sources", "preview", "demo-events", "--day", "2001-01-01", "-p", "demo"],
            "PREVIEW_FAILED",
        ),
    ):
        result = ingestd(data, *args, ok=False)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert said in result.stderr, result.stderr


def test_a_preview_works_while_serve_holds_the_destination(tmp_path: Path) -> None:
    data = tmp_path / "data"
    day = _demo(data)
    with serving(data):
        result = ingestd(
            data, "sources", "preview", "demo-events", "--day", day, "-p", "demo", ok=False
        )
    assert result.returncode == 1, result.stderr
    assert "INVALID_TIMESTAMP" in result.stdout
