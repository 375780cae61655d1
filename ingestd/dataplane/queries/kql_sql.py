"""KQL (``ingestd.domain.kql``) to the SQL that DuckDB and PostgreSQL share, with ``?``
placeholders: every value is bound, every identifier quoted and checked against the columns
in scope (the table's, then each operator's output), so a query can read nothing but the one
table it names, through the relation the caller gives (``Destination.table_sql``).

Each operator wraps the previous one as a subquery. Order (``order by``/``top``) is carried as
a hidden ``row_number()`` column, so operators after it keep it as the vendor does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ingestd.domain.kql.ast import (
    Assignment,
    Between,
    Binary,
    Call,
    ColumnRef,
    Count,
    Expr,
    Extend,
    InList,
    Literal,
    LiteralKind,
    OrderBy,
    Pos,
    Project,
    Query,
    SortKey,
    Summarize,
    Take,
    Top,
    Unary,
    Where,
)
from ingestd.domain.kql.errors import KqlError
from ingestd.domain.kql.types import KQL_TYPES, KqlType, ResultColumn
from ingestd.domain.names import quote
from ingestd.domain.tables import TableSpec

ORDER_COLUMN = "__kql_row_order"
_SQL_TYPES = {
    KqlType.STRING: "TEXT",
    KqlType.LONG: "BIGINT",
    KqlType.REAL: "DOUBLE PRECISION",
    KqlType.BOOL: "BOOLEAN",
    KqlType.DATETIME: "TIMESTAMP",
}
_AGGREGATES = frozenset({"count", "countif", "dcount", "sum", "min", "max", "avg"})
_FUNCTIONS = "isnull, isnotnull, isempty, isnotempty, tolower, toupper, strlen, bin, not"
_NOT_TERM = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    params: list[Any]
    columns: tuple[ResultColumn, ...]


@dataclass(frozen=True)
class _Sql:
    text: str
    params: list[Any]
    type: KqlType


@dataclass
class _Stage:
    sql: str
    params: list[Any]
    columns: list[ResultColumn]
    ordered: bool = False
    depth: int = field(default=0)

    def scope(self) -> dict[str, KqlType]:
        return {c.name: c.type for c in self.columns}


def compile_query(query: Query, table: TableSpec, relation_sql: str, limit: int) -> CompiledQuery:
    """The SQL of ``query`` over ``relation_sql`` (the table's name in the destination), with
    at most ``limit`` rows; raises ``KqlError`` for what the subset does not serve."""
    columns = [ResultColumn(c.name, KQL_TYPES[c.type]) for c in table.columns]
    select = ", ".join(quote(c.name) for c in columns)
    stage = _Stage(f"SELECT {select} FROM {relation_sql}", [], columns)
    for operator in query.operators:
        stage = _apply(stage, operator)
    visible = ", ".join(quote(c.name) for c in stage.columns)
    order = f" ORDER BY {quote(ORDER_COLUMN)}" if stage.ordered else ""
    sql = f"SELECT {visible} FROM ({stage.sql}) AS q_final{order} LIMIT {int(limit)}"
    return CompiledQuery(sql, stage.params, tuple(stage.columns))


def _wrap(stage: _Stage) -> str:
    return f"({stage.sql}) AS q{stage.depth}"


def _hidden(stage: _Stage) -> str:
    return f", {quote(ORDER_COLUMN)}" if stage.ordered else ""


def _apply(stage: _Stage, operator: object) -> _Stage:
    depth = stage.depth + 1
    scope = stage.scope()
    match operator:
        case Take(count):
            order = f" ORDER BY {quote(ORDER_COLUMN)}" if stage.ordered else ""
            sql = f"SELECT * FROM {_wrap(stage)}{order} LIMIT {int(count)}"
            return _Stage(sql, stage.params, stage.columns, stage.ordered, depth)
        case Where(predicate, pos):
            cond = _expr(predicate, scope)
            _require(cond, KqlType.BOOL, "the where predicate", pos)
            sql = f"SELECT * FROM {_wrap(stage)} WHERE {cond.text}"
            return _Stage(sql, stage.params + cond.params, stage.columns, stage.ordered, depth)
        case Project(items):
            return _select(stage, _assignments(items, scope), keep=False)
        case Extend(items):
            return _select(stage, _assignments(items, scope), keep=True)
        case Summarize(aggregates, by, pos):
            return _summarize(stage, aggregates, by, pos)
        case OrderBy(keys):
            return _order(stage, keys, None)
        case Top(count, keys):
            return _order(stage, keys, count)
        case Count():
            sql = f'SELECT count(*) AS "Count" FROM {_wrap(stage)}'
            return _Stage(sql, stage.params, [ResultColumn("Count", KqlType.LONG)], False, depth)
    raise AssertionError(f"unknown operator {operator!r}")


def _assignments(
    items: tuple[Assignment, ...], scope: dict[str, KqlType]
) -> list[tuple[str, _Sql, Pos]]:
    out: list[tuple[str, _Sql, Pos]] = []
    for index, item in enumerate(items, start=1):
        compiled = _expr(item.expr, scope)
        name = item.name or _default_name(item.expr, f"Column{index}")
        _check_name(name, _pos(item.expr))
        out.append((name, compiled, _pos(item.expr)))
    return out


def _select(stage: _Stage, items: list[tuple[str, _Sql, Pos]], *, keep: bool) -> _Stage:
    new = {name: (sql, pos) for name, sql, pos in items}
    parts: list[str] = []
    params: list[Any] = []
    columns: list[ResultColumn] = []
    if keep:  # extend: the columns in place (a new value replaces one), then the new ones
        for column in stage.columns:
            if column.name in new:
                sql, _ = new.pop(column.name)
                parts.append(f"{sql.text} AS {quote(column.name)}")
                params += sql.params
                columns.append(ResultColumn(column.name, sql.type))
            else:
                parts.append(quote(column.name))
                columns.append(column)
    for name, (sql, pos) in new.items():
        if any(c.name == name for c in columns):
            raise _sem(f"the column '{name}' is named twice", pos)
        parts.append(f"{sql.text} AS {quote(name)}")
        params += sql.params
        columns.append(ResultColumn(name, sql.type))
    sql_text = f"SELECT {', '.join(parts)}{_hidden(stage)} FROM {_wrap(stage)}"
    return _Stage(sql_text, params + stage.params, columns, stage.ordered, stage.depth + 1)


def _summarize(
    stage: _Stage, aggregates: tuple[Assignment, ...], by: tuple[Assignment, ...], pos: Pos
) -> _Stage:
    scope = stage.scope()
    parts: list[str] = []
    params: list[Any] = []
    columns: list[ResultColumn] = []
    for index, item in enumerate(by, start=1):
        compiled = _expr(item.expr, scope)
        if compiled.type is KqlType.DYNAMIC:
            raise _sem("summarize cannot group by a dynamic value", pos)
        name = item.name or _default_name(item.expr, f"Column{index}")
        columns.append(ResultColumn(name, compiled.type))
        parts.append(f"{compiled.text} AS {quote(name)}")
        params += compiled.params
    for item in aggregates:
        compiled, default = _aggregate(item.expr, scope)
        name = item.name or default
        columns.append(ResultColumn(name, compiled.type))
        parts.append(f"{compiled.text} AS {quote(name)}")
        params += compiled.params
    names = [c.name for c in columns]
    for name in names:
        _check_name(name, pos)
        if names.count(name) > 1:
            raise _sem(f"the column '{name}' is named twice", pos)
    group = ""
    if by:
        group = " GROUP BY " + ", ".join(str(i) for i in range(1, len(by) + 1))
    sql = f"SELECT {', '.join(parts)} FROM {_wrap(stage)}{group}"
    return _Stage(sql, params + stage.params, columns, False, stage.depth + 1)


def _order(stage: _Stage, keys: tuple[SortKey, ...], count: int | None) -> _Stage:
    scope = stage.scope()
    parts: list[str] = []
    params: list[Any] = []
    for key in keys:
        compiled = _expr(key.expr, scope)
        if compiled.type is KqlType.DYNAMIC:
            raise _sem("cannot order by a dynamic value", _pos(key.expr))
        direction = "DESC" if key.descending else "ASC"
        nulls = "FIRST" if key.nulls_first else "LAST"
        parts.append(f"{compiled.text} {direction} NULLS {nulls}")
        params += compiled.params
    if stage.ordered:  # ties keep the earlier order, as a stable sort does
        parts.append(quote(ORDER_COLUMN))
    visible = ", ".join(quote(c.name) for c in stage.columns)
    window = f"row_number() OVER (ORDER BY {', '.join(parts)}) AS {quote(ORDER_COLUMN)}"
    sql = f"SELECT {visible}, {window} FROM {_wrap(stage)}"
    ordered = _Stage(sql, params + stage.params, stage.columns, True, stage.depth + 1)
    if count is None:
        return ordered
    return _apply(ordered, Take(count, Pos(0, 0)))


# -- expressions ------------------------------------------------------------------------------


def _pos(expr: Expr) -> Pos:
    return expr.pos


def _syn(message: str, pos: Pos) -> KqlError:
    return KqlError(message, line=pos.line, column=pos.column)


def _sem(message: str, pos: Pos) -> KqlError:
    return KqlError(message, line=pos.line, column=pos.column, semantic=True)


def _check_name(name: str, pos: Pos) -> None:
    if name == ORDER_COLUMN or not name or len(name) > 256:
        raise _sem(f"'{name}' cannot name a column", pos)


def _default_name(expr: Expr, fallback: str) -> str:
    if isinstance(expr, ColumnRef):
        return expr.name
    if isinstance(expr, Call) and expr.name == "bin" and expr.args:
        return _default_name(expr.args[0], fallback)
    return fallback


def _require(value: _Sql, kind: KqlType, what: str, pos: Pos) -> None:
    if value.type is not kind:
        raise _sem(f"{what} must be {kind.value}, not {value.type.value}", pos)


def _literal(value: Any, kind: KqlType) -> _Sql:
    return _Sql(f"CAST(? AS {_SQL_TYPES[kind]})", [value], kind)


def _comparable(a: KqlType, b: KqlType) -> bool:
    return a == b or (a.numeric and b.numeric)


def _expr(expr: Expr, scope: dict[str, KqlType]) -> _Sql:
    match expr:
        case Literal(value, kind, pos):
            if kind is LiteralKind.TIMESPAN:
                raise _sem("a timespan is served only as the step of bin()", pos)
            return _literal(value, KqlType(kind.value))
        case ColumnRef(name, pos):
            if name not in scope:
                known = ", ".join(scope) or "none"
                raise _sem(f"failed to resolve the column '{name}' (columns: {known})", pos)
            return _Sql(quote(name), [], scope[name])
        case Unary("-", operand, pos):
            inner = _expr(operand, scope)
            if not inner.type.numeric:
                raise _sem("'-' needs a number", pos)
            return _Sql(f"(-{inner.text})", inner.params, inner.type)
        case Unary(_, operand, pos):
            inner = _expr(operand, scope)
            _require(inner, KqlType.BOOL, "not()", pos)
            return _Sql(f"(NOT {inner.text})", inner.params, KqlType.BOOL)
        case Binary(op, left, right, pos):
            return _binary(op, _expr(left, scope), _expr(right, scope), pos)
        case InList(operand, values, negated, insensitive, pos):
            return _in(
                _expr(operand, scope), [_expr(v, scope) for v in values], negated, insensitive, pos
            )
        case Between(operand, low, high, negated, pos):
            tested, lo, hi = _expr(operand, scope), _expr(low, scope), _expr(high, scope)
            if not (tested.type.numeric or tested.type is KqlType.DATETIME) or not (
                _comparable(tested.type, lo.type) and _comparable(tested.type, hi.type)
            ):
                raise _sem("between needs numbers or datetimes of one kind", pos)
            word = "NOT BETWEEN" if negated else "BETWEEN"
            return _Sql(
                f"({tested.text} {word} {lo.text} AND {hi.text})",
                tested.params + lo.params + hi.params,
                KqlType.BOOL,
            )
        case Call(name, args, pos):
            return _call(name, args, pos, scope)
    raise AssertionError(f"unknown expression {expr!r}")


def _binary(op: str, left: _Sql, right: _Sql, pos: Pos) -> _Sql:
    params = left.params + right.params
    if op in ("and", "or"):
        _require(left, KqlType.BOOL, f"the left side of '{op}'", pos)
        _require(right, KqlType.BOOL, f"the right side of '{op}'", pos)
        return _Sql(f"({left.text} {op.upper()} {right.text})", params, KqlType.BOOL)
    if op in ("==", "!=", "<", "<=", ">", ">="):
        if not _comparable(left.type, right.type) or KqlType.DYNAMIC in (left.type, right.type):
            raise _sem(
                f"cannot compare {left.type.value} with {right.type.value} using '{op}'", pos
            )
        sql_op = {"==": "=", "!=": "<>"}.get(op, op)
        return _Sql(f"({left.text} {sql_op} {right.text})", params, KqlType.BOOL)
    if op in ("=~", "!~"):
        _require(left, KqlType.STRING, f"the left side of '{op}'", pos)
        _require(right, KqlType.STRING, f"the right side of '{op}'", pos)
        sql_op = "=" if op == "=~" else "<>"
        return _Sql(f"(lower({left.text}) {sql_op} lower({right.text}))", params, KqlType.BOOL)
    if op in ("+", "-", "*", "/", "%"):
        if not (left.type.numeric and right.type.numeric):
            raise _sem(f"'{op}' needs numbers", pos)
        if op == "/":  # real division in both databases (DuckDB's / on integers is too)
            return _Sql(
                f"(CAST({left.text} AS DOUBLE PRECISION) / NULLIF({right.text}, 0))",
                params,
                KqlType.REAL,
            )
        kind = KqlType.REAL if KqlType.REAL in (left.type, right.type) else KqlType.LONG
        if op == "%":
            if kind is KqlType.REAL:
                raise _sem("'%' needs whole numbers", pos)
            return _Sql(f"({left.text} % NULLIF({right.text}, 0))", params, kind)
        return _Sql(f"({left.text} {op} {right.text})", params, kind)
    return _string_operator(op, left, right, pos)


def _string_operator(op: str, left: _Sql, right: _Sql, pos: Pos) -> _Sql:
    _require(left, KqlType.STRING, f"the left side of '{op}'", pos)
    _require(right, KqlType.STRING, f"the right side of '{op}'", pos)
    negated = op.startswith("!")
    base = op.lstrip("!")
    if base == "contains_cs":
        text = f"(strpos({left.text}, {right.text}) > 0)"
        params = left.params + right.params
    elif base == "contains":
        text = f"(strpos(lower({left.text}), lower({right.text})) > 0)"
        params = left.params + right.params
    else:  # has: a whole term (a run of ASCII letters and digits), case-insensitively
        if right.text != "CAST(? AS TEXT)":
            raise _sem("has needs a string literal on its right", pos)
        term = _NOT_TERM.sub(" ", str(right.params[0]).lower()).strip()
        text = (
            f"(strpos(' ' || regexp_replace(lower({left.text}), '[^a-z0-9]+', ' ', 'g') || ' ', "
            f"CAST(? AS TEXT)) > 0)"
        )
        params = [*left.params, f" {term} "]
    return _Sql(f"(NOT {text})" if negated else text, params, KqlType.BOOL)


def _in(value: _Sql, values: list[_Sql], negated: bool, insensitive: bool, pos: Pos) -> _Sql:
    if value.type is KqlType.DYNAMIC or not all(_comparable(value.type, v.type) for v in values):
        raise _sem(f"in needs values of the same kind as the {value.type.value} it tests", pos)
    if insensitive and value.type is not KqlType.STRING:
        raise _sem("in~ needs strings", pos)

    def wrap(text: str) -> str:
        return f"lower({text})" if insensitive else text

    word = "NOT IN" if negated else "IN"
    params = value.params + [p for v in values for p in v.params]
    listed = ", ".join(wrap(v.text) for v in values)
    return _Sql(f"({wrap(value.text)} {word} ({listed}))", params, KqlType.BOOL)


def _call(name: str, args: tuple[Expr, ...], pos: Pos, scope: dict[str, KqlType]) -> _Sql:
    if name in _AGGREGATES:
        raise _sem(f"the aggregation {name}() is served only in summarize", pos)
    if name == "bin":
        return _bin(args, pos, scope)
    if len(args) != 1:
        raise _sem(f"{name}() takes one argument", pos)
    arg = _expr(args[0], scope)
    match name:
        case "isnull" | "isnotnull":
            word = "IS NULL" if name == "isnull" else "IS NOT NULL"
            return _Sql(f"({arg.text} {word})", arg.params, KqlType.BOOL)
        case "isempty" | "isnotempty":
            empty = (
                f"({arg.text} IS NULL OR {arg.text} = '')"
                if arg.type is KqlType.STRING
                else f"({arg.text} IS NULL)"
            )
            params = arg.params * 2 if arg.type is KqlType.STRING else arg.params
            return _Sql(empty if name == "isempty" else f"(NOT {empty})", params, KqlType.BOOL)
        case "tolower" | "toupper":
            _require(arg, KqlType.STRING, f"the argument of {name}()", pos)
            return _Sql(f"{name[2:]}({arg.text})", arg.params, KqlType.STRING)
        case "strlen":
            _require(arg, KqlType.STRING, "the argument of strlen()", pos)
            return _Sql(f"CAST(length({arg.text}) AS BIGINT)", arg.params, KqlType.LONG)
    raise _syn(
        f"the function {name}() is not supported; ingestd serves {_FUNCTIONS} and, in "
        "summarize, count, countif, dcount, sum, min, max, avg",
        pos,
    )


def _bin(args: tuple[Expr, ...], pos: Pos, scope: dict[str, KqlType]) -> _Sql:
    if len(args) != 2 or not isinstance(args[1], Literal):
        raise _sem("bin() takes a column and a literal step", pos)
    value, step = _expr(args[0], scope), args[1]
    if value.type is KqlType.DATETIME:
        if not isinstance(step.value, timedelta) or step.value.total_seconds() <= 0:
            raise _syn("bin() of a datetime needs a positive timespan step", pos)
        seconds = step.value.total_seconds()
        text = (
            "CAST(to_timestamp(floor(CAST(extract(epoch FROM CAST("
            f"{value.text} AS TIMESTAMP)) AS DOUBLE PRECISION) / CAST(? AS DOUBLE PRECISION)) "
            "* CAST(? AS DOUBLE PRECISION)) AS TIMESTAMP)"
        )
        return _Sql(text, [*value.params, seconds, seconds], KqlType.DATETIME)
    if not value.type.numeric or isinstance(step.value, (bool, datetime, timedelta)):
        raise _sem("bin() needs a number or a datetime", pos)
    if not isinstance(step.value, (int, float)) or step.value <= 0:
        raise _sem("bin() needs a positive step", pos)
    whole = value.type is KqlType.LONG and isinstance(step.value, int)
    text = (
        f"(floor(CAST({value.text} AS DOUBLE PRECISION) / CAST(? AS DOUBLE PRECISION)) "
        "* CAST(? AS DOUBLE PRECISION))"
    )
    step_value = float(step.value)
    if whole:
        return _Sql(
            f"CAST({text} AS BIGINT)", [*value.params, step_value, step_value], KqlType.LONG
        )
    return _Sql(text, [*value.params, step_value, step_value], KqlType.REAL)


def _aggregate(expr: Expr, scope: dict[str, KqlType]) -> tuple[_Sql, str]:
    if not isinstance(expr, Call) or expr.name not in _AGGREGATES:
        raise _sem(
            "summarize takes aggregations: count(), countif(), dcount(), sum(), min(), max(), "
            "avg()",
            _pos(expr),
        )
    name, args, pos = expr.name, expr.args, expr.pos
    if name == "count":
        if args:
            raise _sem("count() takes no argument", pos)
        return _Sql("count(*)", [], KqlType.LONG), "count_"
    if len(args) != 1:
        raise _sem(f"{name}() takes one argument", pos)
    arg = _expr(args[0], scope)
    suffix = args[0].name if isinstance(args[0], ColumnRef) else ""
    if name == "countif":
        _require(arg, KqlType.BOOL, "the argument of countif()", pos)
        return _Sql(f"count(*) FILTER (WHERE {arg.text})", arg.params, KqlType.LONG), "countif_"
    if name == "dcount":
        if arg.type is KqlType.DYNAMIC:
            raise _sem("dcount() of a dynamic value", pos)
        return _Sql(f"count(DISTINCT {arg.text})", arg.params, KqlType.LONG), f"dcount_{suffix}"
    if name in ("sum", "avg"):
        if not arg.type.numeric:
            raise _sem(f"{name}() needs numbers", pos)
        kind = KqlType.REAL if name == "avg" else arg.type
        return _Sql(
            f"CAST({name}({arg.text}) AS {_SQL_TYPES[kind]})", arg.params, kind
        ), f"{name}_{suffix}"
    if not (arg.type.numeric or arg.type in (KqlType.STRING, KqlType.DATETIME)):
        raise _sem(f"{name}() needs numbers, strings or datetimes", pos)
    return _Sql(f"{name}({arg.text})", arg.params, arg.type), f"{name}_{suffix}"
