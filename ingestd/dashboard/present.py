"""How values look on a page: status badges (a symbol and words, never colour alone),
thousands separators and timestamps. Jinja filters only; no data is fetched here."""

from __future__ import annotations

from datetime import datetime

from jinja2 import Environment

from ingestd.domain.states import RunState, UnitState

# Each status has a symbol and a word, so it reads without colour (and in a screen reader);
# the tone picks the colour in dashboard.css.
_BADGES: dict[str, tuple[str, str]] = {
    UnitState.SUCCEEDED: ("✔", "ok"),
    UnitState.SKIPPED: ("↷", "ok"),
    UnitState.FAILED: ("✖", "bad"),
    UnitState.CANCELED: ("⊘", "muted"),
    UnitState.RETRYING: ("↻", "warn"),
    UnitState.ENQUEUED: ("…", "wait"),
    UnitState.STARTED: ("▶", "busy"),
    UnitState.DOWNLOADING: ("⇣", "busy"),
    UnitState.LOADING: ("⇢", "busy"),
    RunState.RUNNING: ("▶", "busy"),
    RunState.PARTIALLY_SUCCEEDED: ("◐", "warn"),
}


def tone(state: str) -> str:
    return _BADGES.get(state, ("•", "muted"))[1]


def symbol(state: str) -> str:
    return _BADGES.get(state, ("•", "muted"))[0]


def label(state: str) -> str:
    return str(state).replace("_", " ")


def thousands(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def when(value: datetime | None) -> str:
    """UTC, to the second: operators compare times across machines."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def install(env: Environment) -> None:
    env.filters.update(tone=tone, symbol=symbol, label=label, thousands=thousands, when=when)
