"""``control`` decides and ``store`` owns the SQL (CONVENTIONS "Structure"): no module of
``control`` builds a query or holds a session (issue 13 §3: every one is converted)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ingestd

CONTROL = Path(ingestd.__file__).parent / "control"

SQL = re.compile(r"\bselect\(|\bsession\.|\bsqlalchemy\b")
"""A query built here (``select(``), a session used here (``session.``), or SQLAlchemy itself."""

NOT_YET_CONVERTED: frozenset[str] = frozenset()
"""Modules still being converted to repositories; none are left. A module that must run SQL
for a while is named here, with the reason, never skipped silently."""


def not_yet_converted(module: str) -> bool:
    return module in NOT_YET_CONVERTED


def control_modules() -> list[str]:
    return sorted(p.relative_to(CONTROL).as_posix() for p in CONTROL.rglob("*.py"))


def test_the_allow_list_names_only_modules_that_exist() -> None:
    assert NOT_YET_CONVERTED - set(control_modules()) == set()


@pytest.mark.parametrize("module", [m for m in control_modules() if not not_yet_converted(m)])
def test_a_converted_control_module_runs_no_sql(module: str) -> None:
    source = (CONTROL / module).read_text()
    found = [
        f"line {number}: {line.strip()}"
        for number, line in enumerate(source.splitlines(), 1)
        if SQL.search(line)
    ]
    assert found == [], f"control/{module} runs SQL; move it to a repository in ingestd/store/"
