"""Properties of lossless coercion: text loaded into a typed column is exactly what Python
reads from it, or the row is quarantined; it is never rounded, truncated or guessed at.

Each example loads a batch of values, one per row, through the whole data plane (CSV with every
field quoted), so the accounting is checked too.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestd.domain.mapping import identity_mapping
from ingestd.domain.tables import Column, ColumnType, TableSpec

from .harness import Harness

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_keys = itertools.count()

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INTEGER = re.compile(r"[+-]?[0-9]+(\.0*)?")
_ISO_DATE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})([T ].*)?")
_DATE_PREFIX = re.compile(r"([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})")

SPACES = "".join(chr(c) for c in range(0x3001) if unicodedata.category(chr(c)) == "Zs")
"""What blank text is made of: DuckDB's trim() strips Unicode space separators (U+0020, U+00A0,
U+2000-U+200A, U+3000 ...), not tabs or newlines; the references strip the same."""

NOT_LOADED = object()
"""Reference result: the value must be quarantined."""
ANYTHING_EXACT = object()
"""Reference result: no exact reading is known; loading is allowed only if ``agrees`` says so."""

# Text that is neither empty nor NUL (a NUL byte makes a text file binary).
_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
_pad = st.sampled_from(["", " ", "  "])


def _padded(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(_pad, values, _pad).map("".join)


def _load_values(harness: Harness, column: ColumnType, values: list[str]) -> dict[int, Any]:
    """Load ``values`` (row i holds values[i]); return loaded values by row and check that every
    other row is quarantined on the value's column."""
    table = TableSpec(
        "prop",
        f"t_{column.value}",
        (Column("id", ColumnType.INT64, nullable=False), Column("v", column)),
        project="test",
    )
    key = f"k{next(_keys)}"
    lines = ['"id","v"', *(f'"{i}","' + v.replace('"', '""') + '"' for i, v in enumerate(values))]
    path = harness.write(f"{key}.csv", "\n".join(lines) + "\n")

    result = harness.load(table, identity_mapping(table), path, key=key)

    assert result.counts.read == len(values)
    loaded = dict(
        harness.warehouse.query(
            f"SELECT id, v FROM test__prop.t_{column.value} WHERE _ingestd_load_key = ?", [key]
        )
    )
    quarantined = harness.quarantine(key)
    assert len(loaded) + len(quarantined) == len(values)
    expected_code = "INVALID_TIMESTAMP" if column is ColumnType.EPOCH_SECONDS else "TYPE_MISMATCH"
    assert {(q.column, q.code) for q in quarantined} <= {("v", expected_code)}
    return loaded


def _check(
    loaded: dict[int, Any],
    values: list[str],
    reference: Callable[[str], Any],
    agrees: Callable[[str, Any], bool] | None = None,
) -> None:
    for i, text in enumerate(values):
        expected = reference(text)
        if expected is NOT_LOADED:
            assert i not in loaded, f"{text!r} must be quarantined, loaded as {loaded.get(i)!r}"
        elif expected is ANYTHING_EXACT:
            assert i not in loaded or (agrees is not None and agrees(text, loaded[i])), (
                f"{text!r} loaded as {loaded[i]!r}"
            )
        else:
            assert i in loaded, f"{text!r} must load as {expected!r}"
            got = loaded[i]
            if isinstance(expected, float) and math.isnan(expected):
                assert isinstance(got, float) and math.isnan(got)
            else:
                assert got == expected, f"{text!r} loaded as {got!r}, not {expected!r}"
                assert type(got) is type(expected) or expected is None


def _blank(text: str) -> bool:
    return text.strip(SPACES) == ""


# -- int64 ------------------------------------------------------------------------------------


def int64_reference(text: str) -> Any:
    t = text.strip(SPACES)
    if t == "":
        return None
    if not _INTEGER.fullmatch(t):
        return NOT_LOADED
    value = int(t.split(".")[0])
    return value if INT64_MIN <= value <= INT64_MAX else NOT_LOADED


int64_text = st.one_of(
    _padded(st.integers(INT64_MIN - 10, INT64_MAX + 10).map(str)),
    st.integers(-(10**20), 10**20).map(lambda n: f"+{n}" if n >= 0 else str(n)),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(2**60), 2**60).map(lambda n: f"{n}.000"),
    st.integers(2**53, 2**60).map(lambda n: f"{n}.5"),
    st.sampled_from(
        ["1e3", "0x10", "1_000", "\u0663", "\uff11\uff12", "--1", "1.", ".0", "", "   "]
    ),
    _text,
)


@SETTINGS
@given(values=st.lists(int64_text, min_size=1, max_size=40))
def test_int64_is_python_int_or_quarantined(harness: Harness, values: list[str]) -> None:
    loaded = _load_values(harness, ColumnType.INT64, values)

    _check(loaded, values, int64_reference)


# -- float64 ----------------------------------------------------------------------------------

_NON_FINITE = {"nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


def float64_reference(text: str) -> Any:
    t = text.strip(SPACES)
    if t == "":
        return None
    try:
        value = float(t)
    except ValueError:
        return NOT_LOADED
    if not math.isfinite(value) and t.lower() not in _NON_FINITE:
        return NOT_LOADED  # '1e400' is not infinity
    if t.isascii():
        return value if math.isfinite(value) else ANYTHING_EXACT
    return ANYTHING_EXACT  # Python reads other scripts' digits; quarantining them is fine


def _same_float(text: str, got: Any) -> bool:
    value = float(text.strip(SPACES))
    return isinstance(got, float) and (got == value or (math.isnan(got) and math.isnan(value)))


float64_text = st.one_of(
    _padded(st.floats(allow_nan=False, allow_infinity=False).map(repr)),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["nan", "-inf", "Infinity", "1e400", "-1e400", "1e-400", "1,5", "0x1p3", ""]),
    _text,
)


@SETTINGS
@given(values=st.lists(float64_text, min_size=1, max_size=40))
def test_float64_is_python_float_or_quarantined(harness: Harness, values: list[str]) -> None:
    loaded = _load_values(harness, ColumnType.FLOAT64, values)

    _check(loaded, values, float64_reference, _same_float)


# -- date -------------------------------------------------------------------------------------


def date_reference(text: str) -> Any:
    t = text.strip(SPACES)
    if t == "":
        return None
    extended = _ISO_DATE.fullmatch(t)
    if extended is None:
        return ANYTHING_EXACT  # e.g. 2024/1/5 or 20240101: loading the right day is fine too
    if extended.group(2) is None:
        try:
            return date.fromisoformat(t)
        except ValueError:
            return NOT_LOADED  # 2024-02-30
    try:
        return _midnight_date(t)
    except ValueError:
        return ANYTHING_EXACT


def _midnight_date(t: str) -> Any:
    moment = datetime.fromisoformat(t)
    if moment.time() != time(0) or moment.utcoffset() not in (None, timedelta(0)):
        return NOT_LOADED  # a time of day (or an offset that moves the day) is not a date
    return moment.date()


def _same_date(text: str, got: Any) -> bool:
    match = _DATE_PREFIX.match(text.strip(SPACES))
    return match is not None and got == date(*(int(g) for g in match.groups()))


date_text = st.one_of(
    _padded(st.dates().map(date.isoformat)),
    st.dates().map(lambda d: f"{d.year:04d}/{d.month}/{d.day}"),
    st.datetimes(timezones=st.just(UTC)).map(lambda m: m.isoformat(sep=" ")),
    st.datetimes().map(lambda m: m.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()),
    st.sampled_from(
        ["2024-02-30", "24-01-01", "infinity", "epoch", "2024-01-01 10:00", "20240101"]
    ),
    _text,
)


@SETTINGS
@given(values=st.lists(date_text, min_size=1, max_size=40))
def test_date_is_the_calendar_day_or_quarantined(harness: Harness, values: list[str]) -> None:
    loaded = _load_values(harness, ColumnType.DATE, values)

    _check(loaded, values, date_reference, _same_date)


# -- bool -------------------------------------------------------------------------------------

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def bool_reference(text: str) -> Any:
    t = text.strip(SPACES)
    if t == "":
        return None
    if t.isascii() and t.lower() in _TRUE:
        return True
    if t.isascii() and t.lower() in _FALSE:
        return False
    return NOT_LOADED


bool_text = st.one_of(
    _padded(st.sampled_from(sorted(_TRUE | _FALSE))).map(lambda t: t.upper() if len(t) % 2 else t),
    st.sampled_from(["on", "off", "2", "-1", "tru", "nope", "yes please", "\uff54rue", ""]),
    _text,
)


@SETTINGS
@given(values=st.lists(bool_text, min_size=1, max_size=40))
def test_bool_is_a_known_word_or_quarantined(harness: Harness, values: list[str]) -> None:
    loaded = _load_values(harness, ColumnType.BOOL, values)

    _check(loaded, values, bool_reference)


# -- epoch_seconds ----------------------------------------------------------------------------


def epoch_reference(text: str) -> Any:
    t = text.strip(SPACES)
    if t == "":
        return None
    integer = int64_reference(t)
    if integer is not NOT_LOADED:
        return integer
    try:
        moment = datetime.fromisoformat(t)
    except ValueError:
        return ANYTHING_EXACT
    if moment.microsecond:
        return NOT_LOADED  # a fraction of a second does not fit whole seconds
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _same_instant(text: str, got: Any) -> bool:
    return False  # every text this accepts is ISO-8601 or an integer, which the reference reads


epoch_text = st.one_of(
    _padded(st.integers(INT64_MIN, INT64_MAX).map(str)),
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
        ),
    ).map(lambda m: m.isoformat(sep=_sep(m))),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda m: m.replace(microsecond=0).isoformat()
    ),
    st.sampled_from(["1704067200.5", "1.5", "yesterday", "1e9", "2024-01-01T00:00:00Z", ""]),
    _text,
)


def _sep(moment: datetime) -> str:
    return "T" if moment.second % 2 else " "


@SETTINGS
@given(values=st.lists(epoch_text, min_size=1, max_size=40))
def test_epoch_seconds_are_exact_or_quarantined(harness: Harness, values: list[str]) -> None:
    loaded = _load_values(harness, ColumnType.EPOCH_SECONDS, values)

    _check(loaded, values, epoch_reference, _same_instant)


@pytest.mark.parametrize(
    ("reference", "text", "expected"),
    [
        (int64_reference, " 42 ", 42),
        (int64_reference, "9007199254740993.5", NOT_LOADED),
        (float64_reference, "1e400", NOT_LOADED),
        (date_reference, "2024-01-01 10:00", NOT_LOADED),
        (bool_reference, "Yes", True),
        (epoch_reference, "2024-01-01T00:00:00Z", 1704067200),
        (epoch_reference, "2024-01-01T00:00:00.5", NOT_LOADED),
    ],
)
def test_the_references_themselves(
    reference: Callable[[str], Any], text: str, expected: Any
) -> None:
    assert reference(text) == expected or reference(text) is expected
