"""A recursive-descent parser for the KQL subset (docs/kusto-queries.md):

    query     := table ('|' operator)*
    operator  := take N | limit N | where expr | project items | extend items
               | summarize [items] [by items] | order by keys | sort by keys
               | top N by keys | count
    items     := [name '='] expr (',' [name '='] expr)*
    keys      := expr [asc|desc] [nulls first|last] (',' ...)*
    expr      := and ('or' and)*
    and       := test ('and' test)*
    test      := sum [cmp sum | [!]in[~] '(' expr, ... ')' | [!]between '(' sum '..' sum ')']
    sum       := product (('+'|'-') product)*
    product   := unary (('*'|'/'|'%') unary)*
    unary     := '-' unary | primary
    primary   := literal | name | name '(' args ')' | '(' expr ')'

Anything else raises ``KqlError`` naming what was found and where.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

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
    Operator,
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
from ingestd.domain.kql.tokens import Token, tokenize

OPERATORS = "take, limit, where, project, extend, summarize, order by, sort by, top, count"
_COMPARISONS = ("==", "!=", "<>", "<", "<=", ">", ">=", "=~", "!~")
_STRING_OPERATORS = ("has", "!has", "contains", "!contains", "contains_cs", "!contains_cs")
_KEYWORDS = frozenset({"and", "or", "by", "asc", "desc", "nulls", "in", "!in", "between"})
_MAX_DEPTH = 64
"""Nesting deeper than this is refused (a hostile query must not exhaust the stack)."""
MAX_TAKE = 1_000_000_000
_MAX_LONG = 2**63 - 1
_SPAN_SECONDS = {
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
    "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "m": 60.0, "minute": 60.0, "minutes": 60.0,
    "s": 1.0, "second": 1.0, "seconds": 1.0,
    "ms": 0.001, "microsecond": 1e-6, "microseconds": 1e-6,
    "tick": 1e-7, "ticks": 1e-7,
}  # fmt: skip
_SPAN = re.compile(r"([0-9]+(?:\.[0-9]+)?)([A-Za-z]+)")
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_query(text: str) -> Query:
    """Parse one query; raises ``KqlError``."""
    return _Parser(text).query()


def parse_timespan(text: str) -> timedelta:
    match = _SPAN.fullmatch(text)
    if match is None or match.group(2).lower() not in _SPAN_SECONDS:
        raise ValueError(text)
    return timedelta(seconds=float(match.group(1)) * _SPAN_SECONDS[match.group(2).lower()])


def parse_datetime(text: str) -> datetime:
    """A Kusto datetime literal as a naive UTC datetime (destinations store naive UTC)."""
    cleaned = _FRACTION.sub(r"\1", text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    value = datetime.fromisoformat(cleaned)
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.at = 0
        self.depth = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.at]

    def error(self, message: str, token: Token | None = None) -> KqlError:
        token = token or self.current
        return KqlError(message, line=token.pos.line, column=token.pos.column)

    def expected(self, what: str) -> KqlError:
        return self.error(f"expected {what} but found {self.current.shown()}")

    def take(self) -> Token:
        token = self.current
        if token.kind != "end":
            self.at += 1
        return token

    def is_word(self, *words: str) -> bool:
        return self.current.kind == "word" and self.current.value.lower() in words

    def is_punct(self, *puncts: str) -> bool:
        return self.current.kind == "punct" and self.current.value in puncts

    def word(self, *words: str) -> None:
        if not self.is_word(*words):
            raise self.expected(" or ".join(repr(w) for w in words))
        self.take()

    def punct(self, punct: str) -> None:
        if not self.is_punct(punct):
            raise self.expected(repr(punct))
        self.take()

    def name(self, what: str) -> tuple[str, Pos]:
        token = self.current
        if token.kind == "word" and not token.value.startswith("!"):
            self.take()
            return token.value, token.pos
        if self.is_punct("["):
            self.take()
            if self.current.kind != "string":
                raise self.expected(f"a quoted {what} name inside [ ]")
            value = self.take().value
            self.punct("]")
            return value, token.pos
        raise self.expected(f"a {what} name")

    def count(self) -> int:
        token = self.current
        if token.kind != "number" or not token.value.isdigit():
            raise self.expected("a whole number of rows")
        self.take()
        value = int(token.value)
        if value > MAX_TAKE:
            raise self.error(f"{value} rows is more than {MAX_TAKE}", token)
        return value

    # -- query and operators ------------------------------------------------------------------

    def query(self) -> Query:
        table, pos = self.name("table")
        operators: list[Operator] = []
        while self.is_punct("|"):
            self.take()
            operators.append(self.operator())
        if self.current.kind != "end":
            raise self.expected("'|' or the end of the query")
        return Query(table, pos, tuple(operators))

    def operator(self) -> Operator:
        token = self.current
        if token.kind != "word":
            raise self.expected(f"a query operator ({OPERATORS})")
        verb = token.value.lower()
        self.take()
        match verb:
            case "take" | "limit":
                return Take(self.count(), token.pos)
            case "where" | "filter":
                return Where(self.expr(), token.pos)
            case "project":
                return Project(self.items(), token.pos)
            case "extend":
                return Extend(self.items(), token.pos)
            case "summarize":
                aggregates = () if self.is_word("by") else self.items()
                by: tuple[Assignment, ...] = ()
                if self.is_word("by"):
                    self.take()
                    by = self.items()
                if not aggregates and not by:
                    raise self.expected("an aggregation or 'by'")
                return Summarize(aggregates, by, token.pos)
            case "order" | "sort":
                self.word("by")
                return OrderBy(self.keys(), token.pos)
            case "top":
                count = self.count()
                self.word("by")
                return Top(count, self.keys(), token.pos)
            case "count":
                return Count(token.pos)
        raise self.error(
            f"the query operator '{token.value}' is not supported; ingestd serves {OPERATORS}",
            token,
        )

    def items(self) -> tuple[Assignment, ...]:
        items = [self.item()]
        while self.is_punct(","):
            self.take()
            items.append(self.item())
        return tuple(items)

    def item(self) -> Assignment:
        nxt = self.tokens[self.at + 1] if self.current.kind != "end" else self.current
        if self.current.kind == "word" and nxt.kind == "punct" and nxt.value == "=":
            name, _ = self.name("column")
            self.take()
            return Assignment(name, self.expr())
        if self.is_punct("[") and self._bracket_assignment():
            name, _ = self.name("column")
            self.take()
            return Assignment(name, self.expr())
        return Assignment(None, self.expr())

    def _bracket_assignment(self) -> bool:
        ahead = self.tokens[self.at : self.at + 4]
        return len(ahead) == 4 and ahead[3].kind == "punct" and ahead[3].value == "="

    def keys(self) -> tuple[SortKey, ...]:
        keys = [self.key()]
        while self.is_punct(","):
            self.take()
            keys.append(self.key())
        return tuple(keys)

    def key(self) -> SortKey:
        expr = self.expr()
        descending = True  # the vendor's default order is descending
        if self.is_word("asc", "desc"):
            descending = self.take().value.lower() == "desc"
        nulls_first = not descending  # the vendor's default: nulls first ascending, last desc
        if self.is_word("nulls"):
            self.take()
            if not self.is_word("first", "last"):
                raise self.expected("'first' or 'last'")
            nulls_first = self.take().value.lower() == "first"
        return SortKey(expr, descending, nulls_first)

    # -- expressions --------------------------------------------------------------------------

    def expr(self) -> Expr:
        self.depth += 1
        try:
            if self.depth > _MAX_DEPTH:
                raise self.error(f"the expression nests deeper than {_MAX_DEPTH} levels")
            left = self.conjunction()
            while self.is_word("or"):
                token = self.take()
                left = Binary("or", left, self.conjunction(), token.pos)
            return left
        finally:
            self.depth -= 1

    def conjunction(self) -> Expr:
        left = self.test()
        while self.is_word("and"):
            token = self.take()
            left = Binary("and", left, self.test(), token.pos)
        return left

    def test(self) -> Expr:
        left = self.sum()
        token = self.current
        if self.is_punct(*_COMPARISONS):
            self.take()
            op = "!=" if token.value == "<>" else token.value
            return Binary(op, left, self.sum(), token.pos)
        if self.is_word(*_STRING_OPERATORS):
            self.take()
            return Binary(token.value.lower(), left, self.sum(), token.pos)
        if self.is_word("in", "!in"):
            self.take()
            insensitive = False
            if self.current.kind == "punct" and self.current.value == "~":
                self.take()
                insensitive = True
            self.punct("(")
            values = [self.expr()]
            while self.is_punct(","):
                self.take()
                values.append(self.expr())
            self.punct(")")
            negated = token.value.startswith("!")
            return InList(left, tuple(values), negated, insensitive, token.pos)
        if self.is_word("between", "!between"):
            self.take()
            self.punct("(")
            low = self.sum()
            self.punct("..")
            high = self.sum()
            self.punct(")")
            return Between(left, low, high, token.value.startswith("!"), token.pos)
        if token.kind == "word" and (
            token.value.startswith("!") or token.value.lower() in _UNSUPPORTED_INFIX
        ):
            raise self.error(f"the operator '{token.value}' is not supported", token)
        return left

    def sum(self) -> Expr:
        left = self.product()
        while self.is_punct("+", "-"):
            token = self.take()
            left = Binary(token.value, left, self.product(), token.pos)
        return left

    def product(self) -> Expr:
        left = self.unary()
        while self.is_punct("*", "/", "%"):
            token = self.take()
            left = Binary(token.value, left, self.unary(), token.pos)
        return left

    def unary(self) -> Expr:
        if self.is_punct("-"):
            token = self.take()
            self.depth += 1
            try:
                if self.depth > _MAX_DEPTH:
                    raise self.error(f"the expression nests deeper than {_MAX_DEPTH} levels")
                return Unary("-", self.unary(), token.pos)
            finally:
                self.depth -= 1
        return self.primary()

    def primary(self) -> Expr:
        token = self.current
        if token.kind == "number":
            self.take()
            if any(c in token.value for c in ".eE"):
                return Literal(float(token.value), LiteralKind.REAL, token.pos)
            value = int(token.value)
            if value > _MAX_LONG:
                raise self.error(f"{token.text} is larger than a long", token)
            return Literal(value, LiteralKind.LONG, token.pos)
        if token.kind == "string":
            self.take()
            return Literal(token.value, LiteralKind.STRING, token.pos)
        if token.kind == "timespan":
            self.take()
            try:
                return Literal(parse_timespan(token.value), LiteralKind.TIMESPAN, token.pos)
            except (ValueError, OverflowError) as exc:
                raise self.error(f"{token.text} is not a timespan", token) from exc
        if token.kind == "datetime":
            self.take()
            try:
                return Literal(parse_datetime(token.value), LiteralKind.DATETIME, token.pos)
            except (ValueError, OverflowError) as exc:
                raise self.error(
                    f"{token.text} is not a datetime (use datetime(2024-01-31T10:00:00Z))", token
                ) from exc
        if self.is_punct("("):
            self.take()
            inner = self.expr()
            self.punct(")")
            return inner
        if token.kind == "word" and not token.value.startswith("!"):
            lowered = token.value.lower()
            if lowered in ("true", "false"):
                self.take()
                return Literal(lowered == "true", LiteralKind.BOOL, token.pos)
            if lowered in _KEYWORDS:
                raise self.expected("an expression")
            nxt = self.tokens[self.at + 1]
            if nxt.kind == "punct" and nxt.value == "(":
                return self.call()
        if token.kind == "word" or self.is_punct("["):
            name, pos = self.name("column")
            return ColumnRef(name, pos)
        raise self.expected("an expression")

    def call(self) -> Expr:
        token = self.take()
        self.punct("(")
        args: list[Expr] = []
        if not self.is_punct(")"):
            args.append(self.expr())
            while self.is_punct(","):
                self.take()
                args.append(self.expr())
        self.punct(")")
        name = token.value.lower()
        if name == "not":
            if len(args) != 1:
                raise self.error("not() takes one argument", token)
            return Unary("not", args[0], token.pos)
        return Call(name, tuple(args), token.pos)


_UNSUPPORTED_INFIX = frozenset(
    {"startswith", "endswith", "matches", "has_any", "has_all", "hasprefix", "hassuffix", "like"}
)
