"""Ids and timestamps of the Amperity wire (pure; ``ingestd.api.amperity.translate``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestd.api.amperity import translate
from ingestd.errors import InvalidInput, NotFound

moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@given(st.uuids())
def test_job_and_workflow_ids_map_back_to_their_run(value: uuid.UUID) -> None:
    run_id = str(value)
    assert translate.run_of_job(translate.job_id(run_id)) == run_id
    assert translate.run_of_workflow(translate.workflow_id(run_id)) == run_id
    assert translate.job_id(run_id) == translate.job_id(run_id).lower()


@pytest.mark.parametrize(
    "value", ["isj-", "isj-xyz", "isj-" + "0" * 31, "isj-" + "0" * 33, "wf-" + "0" * 32, ""]
)
def test_malformed_job_ids_are_not_found(value: str) -> None:
    with pytest.raises(NotFound):
        translate.run_of_job(value)


def test_feed_ids_name_the_source_or_else_the_table() -> None:
    assert translate.feed_id(12, "crm.customers") == "df-12"
    table_feed = translate.feed_id(None, "crm.customers")
    assert table_feed == translate.feed_id(None, "crm.customers") != translate.feed_id(None, "a.b")
    assert translate.source_of_feed("df-12") == 12
    assert translate.source_of_feed(table_feed) is None
    assert translate.source_of_feed("df-012") is None


@given(moments)
def test_wire_times_are_utc_milliseconds_and_parse_back(moment: datetime) -> None:
    text = translate.wire_time(moment)
    assert text.endswith("Z") and len(text) == len("2024-06-01T04:02:54.433Z")
    parsed = translate.parse_time(text, "t")
    assert parsed == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@given(moments, st.integers(min_value=-12 * 60, max_value=14 * 60))
def test_offsets_are_converted_to_utc(moment: datetime, minutes: int) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=minutes)))
    assert translate.parse_time(local.isoformat(), "t") == moment


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-10", datetime(2024, 10, 1, tzinfo=UTC)),
        ("2024-10-01", datetime(2024, 10, 1, tzinfo=UTC)),
        ("2024-10-01T04", datetime(2024, 10, 1, 4, tzinfo=UTC)),
        ("2024-10-01t04:05z", datetime(2024, 10, 1, 4, 5, tzinfo=UTC)),
        ("2024-10-01T04:05:06.433+02:00", datetime(2024, 10, 1, 2, 5, 6, 433000, tzinfo=UTC)),
    ],
)
def test_partial_timestamps_are_utc(text: str, expected: datetime) -> None:
    assert translate.parse_time(text, "t") == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2024-13-01",
        "2024-10-32",
        "10/01/2024",
        # A valid local time whose offset puts it before year 1 in UTC (found by the
        # contract test's generated queries: it was a 500).
        "0001-01-01T00:01:00+23:17",
    ],
)
def test_other_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        translate.parse_time(text, "created_from")


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:01", "9999-12-31T23:59:59-01:00"])
def test_a_timestamp_before_or_after_every_utc_instant_is_refused(text: str) -> None:
    # Found by the contract test's fuzzing: it once answered 500 (OverflowError).
    with pytest.raises(InvalidInput, match="outside the timestamps that exist in UTC"):
        translate.parse_time(text, "created_to")


@pytest.mark.parametrize(
    ("state", "pairs"),
    [
        (
            "Succeeded",
            {
                ("succeeded", False),
                ("succeeded", True),
                ("partially_succeeded", False),
                ("partially_succeeded", True),
            },
        ),
        ("stopped", {("canceled", True)}),
        ("In progress", set()),
    ],
)
def test_workflow_states_select_run_states(state: str, pairs: set[tuple[str, bool]]) -> None:
    assert {(s.value, stop) for s, stop in translate.run_states_named(state)} == pairs
