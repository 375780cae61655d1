"""The typed AST of the KQL subset: a table, then tabular operators in pipe order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True)
class Pos:
    line: int
    column: int


class LiteralKind(StrEnum):
    STRING = "string"
    LONG = "long"
    REAL = "real"
    BOOL = "bool"
    DATETIME = "datetime"
    TIMESPAN = "timespan"
    NULL = "null"


LiteralValue = str | int | float | bool | datetime | timedelta | None


@dataclass(frozen=True)
class Literal:
    value: LiteralValue
    kind: LiteralKind
    pos: Pos


@dataclass(frozen=True)
class ColumnRef:
    name: str
    pos: Pos


@dataclass(frozen=True)
class Unary:
    op: str
    """``-`` or ``not``."""
    operand: Expr
    pos: Pos


@dataclass(frozen=True)
class Binary:
    op: str
    """``and or == != < <= > >= =~ !~ + - * / %`` and the string operators ``has``,
    ``!has``, ``contains``, ``!contains``, ``contains_cs``, ``!contains_cs``."""
    left: Expr
    right: Expr
    pos: Pos


@dataclass(frozen=True)
class InList:
    operand: Expr
    values: tuple[Expr, ...]
    negated: bool
    case_insensitive: bool
    pos: Pos


@dataclass(frozen=True)
class Between:
    operand: Expr
    low: Expr
    high: Expr
    negated: bool
    pos: Pos


@dataclass(frozen=True)
class Call:
    name: str
    """Lower-cased function name."""
    args: tuple[Expr, ...]
    pos: Pos


Expr = Literal | ColumnRef | Unary | Binary | InList | Between | Call


@dataclass(frozen=True)
class Assignment:
    name: str | None
    """``name = expr``; None when the query gives no name (the column is named for the
    expression, as the vendor does: ``count_``, ``sum_x``, the column itself, ``Column1``)."""
    expr: Expr


@dataclass(frozen=True)
class SortKey:
    expr: Expr
    descending: bool
    nulls_first: bool


@dataclass(frozen=True)
class Take:
    count: int
    pos: Pos


@dataclass(frozen=True)
class Where:
    predicate: Expr
    pos: Pos


@dataclass(frozen=True)
class Project:
    items: tuple[Assignment, ...]
    pos: Pos


@dataclass(frozen=True)
class Extend:
    items: tuple[Assignment, ...]
    pos: Pos


@dataclass(frozen=True)
class Summarize:
    aggregates: tuple[Assignment, ...]
    by: tuple[Assignment, ...]
    pos: Pos


@dataclass(frozen=True)
class OrderBy:
    keys: tuple[SortKey, ...]
    pos: Pos


@dataclass(frozen=True)
class Top:
    count: int
    keys: tuple[SortKey, ...]
    pos: Pos


@dataclass(frozen=True)
class Count:
    pos: Pos


Operator = Take | Where | Project | Extend | Summarize | OrderBy | Top | Count


@dataclass(frozen=True)
class Query:
    table: str
    table_pos: Pos
    operators: tuple[Operator, ...]
