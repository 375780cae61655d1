"""The management command parser (ingestd.api.kusto.commands), without a server: what each
command parses to, and a syntax error with a position for everything else."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestd.api.kusto.commands import (
    CancelOperation,
    CreateMapping,
    CreateTable,
    IngestFromStorage,
    ShowMappings,
    ShowOperations,
    ShowTables,
    ShowTableSchema,
    TableRef,
    parse_command,
)
from ingestd.control.kusto.errors import KustoSyntaxError


@pytest.mark.parametrize(
    ("csl", "parsed"),
    [
        (
            ".create table T (a:string, ['b']:long)",
            CreateTable(TableRef(None, "T"), (("a", "string"), ("b", "long")), merge=False),
        ),
        (
            ".create-merge table database('db').T (a:string) // a comment",
            CreateTable(TableRef("db", "T"), (("a", "string"),), merge=True),
        ),
        (".show tables", ShowTables()),
        (".SHOW TABLES", ShowTables()),
        (".show table T cslschema", ShowTableSchema(TableRef(None, "T"), csl=True)),
        (".show table T schema as json", ShowTableSchema(TableRef(None, "T"), csl=False)),
        (".show table T ingestion mappings", ShowMappings(TableRef(None, "T"), None)),
        (".show table T ingestion csv mappings", ShowMappings(TableRef(None, "T"), "csv")),
        (
            ".create-or-alter table T ingestion json mapping 'm' '[' @'{\"c\":1}' ']'",
            CreateMapping(TableRef(None, "T"), "json", "m", '[{"c":1}]', replace=True),
        ),
        (
            '.create table T ingestion csv mapping "m"\n```[{"column":"a"}]```',
            CreateMapping(TableRef(None, "T"), "csv", "m", '[{"column":"a"}]', replace=False),
        ),
        (
            ".ingest-from-storage-queued into table T EnableTracking=true "
            "with (format='csv', ignoreFirstRecord=true, n=2) <| 'u1', h'u2' h@'u\\3'",
            IngestFromStorage(
                TableRef(None, "T"),
                ("u1", "u2", "u\\3"),
                {"EnableTracking": True},
                {"format": "csv", "ignoreFirstRecord": True, "n": 2},
            ),
        ),
        (".show queued ingestion operations 'x'", ShowOperations(("x",), details=False)),
        (
            '.show queued ingestion operations ("x", "y") details',
            ShowOperations(("x", "y"), details=True),
        ),
        (".cancel queued ingestion operation 'x;y'", CancelOperation("x;y")),
        (".show queued ingestion operations 'a\\'b'", ShowOperations(("a'b",), details=False)),
    ],
)
def test_commands_parse(csl: str, parsed: object) -> None:
    assert parse_command(csl) == parsed


@pytest.mark.parametrize(
    ("csl", "where", "says"),
    [
        (".show tabels", "1:7", "expected 'table' or 'tables' or 'queued' but found 'tabels'"),
        (".create table T (a:string", "1:26", "expected ')' but found the end of the command"),
        (".create table T (a string)", "1:20", "expected ':' but found 'string'"),
        (".drop table T", "1:1", "unknown or unsupported command '.drop'"),
        ("show tables", "1:1", "expected a management command starting with '.'"),
        ("", "1:1", "expected a management command starting with '.'"),
        (".", "1:2", "expected a command name after '.'"),
        (".show tables extra", "1:14", "unexpected 'extra' after the end of the command"),
        (".show table T", "1:14", "expected 'schema' or 'cslschema' or 'ingestion'"),
        ('.create table T ingestion csv mapping "m"', "1:42", "the mapping as a JSON string"),
        (".create table T ingestion xml mapping \"m\" '[]'", "1:27", "expected 'csv' or 'json'"),
        (".create-merge table T ingestion csv mapping 'm' '[]'", "1:23", "makes tables"),
        (".create-or-alter table T (a:string)", "1:26", "'ingestion'"),
        (".cancel queued ingestion operation", "1:35", "the operation id as a string"),
        (".show queued ingestion operations 'a\n", "1:35", "a string is not closed"),
        (".show queued ingestion operations 'a\\q'", "1:37", "unknown escape \\q"),
        (".show tables\n  | where x", "2:3", "unexpected character '|'"),
        (".ingest-from-storage-queued into table T Bogus=1 <| 'u'", "1:42", "EnableTracking"),
        (".ingest-from-storage-queued into table T with (format='csv')", "1:61", "'<|'"),
        (".ingest-from-storage-queued into table T <| .list blobs ('x')", "1:45", ".list blobs"),
        (".create table T (a:string) with (docstring=)", "1:44", "expected a value"),
        (".create table T ingestion csv mapping 'm' ```[]", "1:43", "``` string is not closed"),
    ],
)
def test_malformed_commands_are_syntax_errors_with_a_position(
    csl: str, where: str, says: str
) -> None:
    with pytest.raises(KustoSyntaxError) as info:
        parse_command(csl)
    message = info.value.message
    assert message.startswith("Syntax error: SYN0002: ")
    assert message.endswith(f"[line:position={where}]"), message
    assert says in message, message


@given(st.text(max_size=120))
def test_any_text_parses_or_is_a_syntax_error(text: str) -> None:
    error: KustoSyntaxError | None = None
    try:
        parse_command(text)
    except KustoSyntaxError as exc:
        error = exc
    if error is not None:
        assert error.line >= 1 and error.column >= 1


@given(
    st.lists(
        st.sampled_from(
            [
                ".",
                "create",
                "table",
                "T",
                "(",
                ")",
                ":",
                ",",
                "'s'",
                "show",
                "queued",
                "<|",
                "with",
                "=",
            ]
        ),
        max_size=12,
    )
)
def test_token_soup_parses_or_is_a_syntax_error(words: list[str]) -> None:
    with contextlib.suppress(KustoSyntaxError):
        parse_command(" ".join(words))
