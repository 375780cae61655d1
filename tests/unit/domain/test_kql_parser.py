"""The KQL subset's parser and its SQL translation on open-ended input: whatever the text, the
answer is an AST (and SQL, or a precise KqlError), never another exception; and generated
queries of the subset always parse and translate."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestd.dataplane.queries.kql_sql import CompiledQuery, compile_query
from ingestd.domain.error_codes import kusto_request_code
from ingestd.domain.kql import KqlError, parse_query
from ingestd.domain.kql.ast import Summarize, Take, Where
from ingestd.domain.tables import Column, ColumnType, TableSpec

TABLE = TableSpec(
    "db",
    "T",
    (
        Column("name", ColumnType.STRING),
        Column("n", ColumnType.INT64),
        Column("x", ColumnType.FLOAT64),
        Column("at", ColumnType.TIMESTAMP),
        Column("ok", ColumnType.BOOL),
        Column("bag", ColumnType.JSON),
    ),
)
ALPHABET = st.sampled_from(
    [*"T|()[],.=<>!~+-*/%'\"@ \n\t0123456789abcdehlmnorstuwxyz_",
       "where ", "take ", "summarize ", "by ", "project ", "extend ", "count", "bin(", "in ",
       "between ", "..", "datetime(", "has ", "contains ", "and ", "or ", "top ", "order "]
)  # fmt: skip


def _compile(text: str) -> CompiledQuery | KqlError:
    """The SQL of ``text``, or the KqlError it raises (any other exception fails the test)."""
    try:
        return compile_query(parse_query(text), TABLE, '"db"."T"', 100)
    except KqlError as exc:
        return exc


def _translate(text: str) -> None:
    result = _compile(text)
    if isinstance(result, KqlError):
        assert result.line >= 1 and result.column >= 1
        assert kusto_request_code(result.code, result.http_status) in (
            "BadRequest_SyntaxError",
            "BadRequest_SemanticError",
        )
        assert "[line:position=" in result.message
    else:
        assert result.sql.startswith("SELECT ") and result.sql.count("?") == len(result.params)


@settings(max_examples=400, deadline=None)
@given(st.lists(ALPHABET, max_size=40).map("".join))
def test_arbitrary_text_parses_or_fails_precisely(text: str) -> None:
    _translate("T | " + text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_unicode_parses_or_fails_precisely(text: str) -> None:
    _translate(text)


_COMPARISON = st.tuples(
    st.sampled_from(["n", "x"]),
    st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
    st.integers(-(10**6), 10**6),
).map(lambda t: f"{t[0]} {t[1]} {t[2]}")
_STRING_TEST = st.tuples(
    st.sampled_from(["has", "contains", "!contains", "==", "=~", "contains_cs"]),
    st.text(st.characters(codec="ascii", exclude_characters="'\\\n\r"), max_size=10),
).map(lambda t: f"name {t[0]} '{t[1]}'")
_PREDICATE = st.recursive(
    st.one_of(_COMPARISON, _STRING_TEST, st.just("isnull(x)"), st.just("isnotempty(name)")),
    lambda inner: st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    ),
    max_leaves=6,
)
_OPERATOR = st.one_of(
    _PREDICATE.map(lambda p: f"where {p}"),
    st.integers(0, 1000).map(lambda n: f"take {n}"),
    st.sampled_from(
        [
            "summarize count() by bin(at, 1h)",
            "summarize s = sum(n), m = max(x) by name",
            "order by n asc nulls last",
            "top 3 by x",
            "extend y = n * 2 + 1",
        ]
    ),
)


@settings(max_examples=200, deadline=None)
@given(_PREDICATE, st.lists(st.integers(0, 100), max_size=2))
def test_generated_queries_of_the_subset_parse_and_translate(
    predicate: str, takes: list[int]
) -> None:
    text = f"T | where {predicate}" + "".join(f" | take {n}" for n in takes)
    query = parse_query(text)
    assert isinstance(query.operators[0], Where)
    assert [o.count for o in query.operators[1:] if isinstance(o, Take)] == takes
    compiled = compile_query(query, TABLE, '"db"."T"', 100)
    assert compiled.sql.count("?") == len(compiled.params)


@settings(max_examples=100, deadline=None)
@given(st.lists(_OPERATOR, min_size=1, max_size=4))
def test_generated_pipelines_translate(operators: list[str]) -> None:
    result = _compile("T | " + " | ".join(operators))
    if isinstance(result, KqlError):  # a column dropped by an earlier summarize, nothing else
        assert kusto_request_code(result.code, result.http_status) == "BadRequest_SemanticError", (
            result.message
        )
        assert any(o.startswith("summarize") for o in operators)
    else:
        assert result.sql.count("?") == len(result.params)


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(KqlError, match="nests deeper"):
        parse_query("T | where " + "(" * 500 + "n > 1" + ")" * 500)
    with pytest.raises(KqlError, match="nests deeper"):
        parse_query("T | where n > " + "-" * 500 + "1")


def test_summarize_names_its_columns_as_the_vendor() -> None:
    query = parse_query("T | summarize count(), sum(n), avg(x) by bin(at, 1d), name")
    compiled = compile_query(query, TABLE, '"db"."T"', 10)
    assert isinstance(query.operators[0], Summarize)
    assert [c.name for c in compiled.columns] == ["at", "name", "count_", "sum_n", "avg_x"]
    assert [c.type.value for c in compiled.columns] == [
        "datetime", "string", "long", "long", "real",
    ]  # fmt: skip


def test_identifiers_are_quoted_and_values_bound() -> None:
    table = TableSpec("db", "T", (Column('we"ird', ColumnType.STRING),))
    compiled = compile_query(
        parse_query("T | where ['we\"ird'] == \"'; DROP TABLE x; --\""), table, '"db"."T"', 5
    )
    assert '"we""ird"' in compiled.sql and "DROP" not in compiled.sql
    assert compiled.params == ["'; DROP TABLE x; --"]
