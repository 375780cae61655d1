"""The Statsig daily status of a unit (``domain.projections.statsig_daily_status``) as a SQL
expression, so ``/ingestion/status`` filters by status in the database.

The expression is not a second copy of the rules: it is built by evaluating the Python
function on every input that can change its answer (state, backfill or not, rows loaded or
none, each mapped error code, each write dataset), so the two cannot drift apart; a test checks
them against each other on both metadata backends.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import product

from sqlalchemy import ColumnElement, and_, case, func, literal, not_
from sqlalchemy.sql.elements import SQLCoreOperations

from ingestd.domain.error_codes import STATSIG_MAPPED_CODES, STATSIG_WRITE_DATASETS
from ingestd.domain.projections import STATSIG_OTHER, statsig_daily_status
from ingestd.domain.states import UnitState

_UNKNOWN_CODE = "\x00not-a-code"
_OTHER_DATASET = "\x00other"
"""Stand-ins for "any code not in the mapping" and "any dataset not named"."""


def _failed(code: str | None, dataset: str) -> str:
    return statsig_daily_status(
        UnitState.FAILED, trigger="", rows_loaded=0, error_code=code, dataset=dataset
    )


def _by_dataset(code: str | None) -> tuple[str, ...]:
    """The status of a failure with ``code`` for each write dataset, then any other one."""
    return tuple(_failed(code, d) for d in (*STATSIG_WRITE_DATASETS, _OTHER_DATASET))


def _dataset_case(
    signature: tuple[str, ...], dataset: SQLCoreOperations[str]
) -> ColumnElement[str] | str:
    if len(set(signature)) == 1:
        return signature[0]
    whens = [
        (dataset == d, status)
        for d, status in zip(STATSIG_WRITE_DATASETS, signature[:-1], strict=True)
    ]
    return case(*whens, else_=signature[-1])


def _failure_case(
    error_code: SQLCoreOperations[str | None], dataset: SQLCoreOperations[str]
) -> ColumnElement[str]:
    groups: dict[tuple[str, ...], list[str]] = {}
    for code in sorted(STATSIG_MAPPED_CODES):
        groups.setdefault(_by_dataset(code), []).append(code)
    whens: list[tuple[ColumnElement[bool], ColumnElement[str] | str]] = [
        (error_code.is_(None), _dataset_case(_by_dataset(None), dataset))
    ]
    for signature, codes in groups.items():
        whens.append((error_code.in_(codes), _dataset_case(signature, dataset)))
    else_ = _dataset_case(_by_dataset(_UNKNOWN_CODE), dataset)
    return case(*whens, else_=else_)


def statsig_status_sql(
    state: SQLCoreOperations[str],
    trigger: SQLCoreOperations[str],
    rows_loaded: SQLCoreOperations[int],
    error_code: SQLCoreOperations[str | None],
    dataset: SQLCoreOperations[str | None],
) -> ColumnElement[str]:
    """The daily status of a unit from its columns (``dataset``: its source's dataset)."""
    backfill = trigger == "backfill"
    loaded = rows_loaded > 0
    lowered = func.lower(func.coalesce(dataset, literal("")))
    whens: list[tuple[ColumnElement[bool], ColumnElement[str] | str]] = []
    for unit_state in UnitState:
        if unit_state is UnitState.FAILED:
            whens.append((state == unit_state.value, _failure_case(error_code, lowered)))
            continue
        answers = {
            (is_backfill, has_rows): statsig_daily_status(
                unit_state,
                trigger="backfill" if is_backfill else "scheduled",
                rows_loaded=1 if has_rows else 0,
                error_code=None,
                dataset="",
            )
            for is_backfill, has_rows in product((True, False), repeat=2)
        }
        if len(set(answers.values())) == 1:
            whens.append((state == unit_state.value, next(iter(answers.values()))))
            continue
        for (is_backfill, has_rows), status in answers.items():
            condition = and_(
                state == unit_state.value,
                backfill if is_backfill else not_(backfill),
                loaded if has_rows else not_(loaded),
            )
            whens.append((condition, status))
    return case(*whens, else_="ERROR")


def matches(
    status: ColumnElement[str], wanted: Iterable[str], named: Iterable[str]
) -> ColumnElement[bool]:
    """``status`` is one of ``wanted``; ``%Other`` in ``wanted`` also matches any status not
    in ``named`` (the published list)."""
    wanted = set(wanted)
    exact = status.in_(sorted(wanted - {STATSIG_OTHER}))
    if STATSIG_OTHER not in wanted:
        return exact
    return exact | status.not_in(sorted(set(named)))
