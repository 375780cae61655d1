"""No user string is spliced into the data plane's SQL: each one tries to break out.

Every value below reaches DuckDB SQL during a load (file paths, read options, source column
names, mapping constants, JSON path keys, zip member names and patterns, target column names).
Each either loads as plain data or is refused with a clear error; none runs SQL of its own: no
canary file is written and no host file is read into the table.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestd.dataplane.pipeline import DataPlane
from ingestd.dataplane.transform.coerce import sql_literal
from ingestd.domain.mapping import FieldMapping, Mapping, RefKind, SourceRef
from ingestd.domain.sources import ReadOptions
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.errors import IngestdError

from .harness import PEOPLE, PEOPLE_BY_NAME, Harness, open_destination


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    warehouse = open_destination("duckdb", tmp_path)
    try:
        yield Harness(tmp_path, warehouse, DataPlane(warehouse, tmp_path / "staging"))
    finally:
        warehouse.close()


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    """Where an injected COPY would write; must never exist."""
    return tmp_path / "canary.csv"


def _breakout(canary: Path) -> str:
    return f"x'); COPY (SELECT 42) TO '{canary}' (FORMAT csv); SELECT ('"


TEXT = TableSpec("demo", "text", (Column("v", ColumnType.STRING),), project="test")


def _by_column(target: str, source: str) -> Mapping:
    return Mapping((FieldMapping(target, SourceRef(RefKind.COLUMN, source)),))


def test_sql_literal_doubles_every_quote() -> None:
    assert sql_literal("a'b''c") == "'a''b''''c'"


def test_a_path_with_quotes_is_read_as_that_file(h: Harness, canary: Path) -> None:
    path = h.write(f"p{_breakout(canary)}.csv", "id,name,score\n1,Ann,1.5\n")
    h.load(PEOPLE, PEOPLE_BY_NAME, path)
    assert h.rows(PEOPLE) == [(1, "Ann", 1.5)]
    assert not canary.exists()


@pytest.mark.parametrize("option", ["delimiter", "quote", "escape"])
def test_a_quote_as_a_dialect_character_is_data(h: Harness, canary: Path, option: str) -> None:
    if option == "delimiter":
        content, options = "id'name'score\n1'Ann'1.5\n", ReadOptions(delimiter="'")
    elif option == "quote":
        content, options = "id,name,score\n1,'A,nn',1.5\n", ReadOptions(quote="'")
    else:
        content, options = 'id,name,score\n1,"A\'"nn",1.5\n', ReadOptions(escape="'")
    path = h.write("d.csv", content)
    h.load(PEOPLE, PEOPLE_BY_NAME, path, options=options)
    expected = {"delimiter": "Ann", "quote": "A,nn", "escape": 'A"nn'}[option]
    assert h.rows(PEOPLE) == [(1, expected, 1.5)]
    assert not canary.exists()


def test_a_multi_character_dialect_option_is_refused(canary: Path) -> None:
    with pytest.raises(IngestdError, match="must be one character"):
        ReadOptions(delimiter=_breakout(canary))


def test_an_encoding_that_tries_to_break_out_is_refused(h: Harness, canary: Path) -> None:
    path = h.write("e.csv", "id,name,score\n1,Ann,1.5\n")
    with pytest.raises(IngestdError) as caught:
        h.load(PEOPLE, PEOPLE_BY_NAME, path, options=ReadOptions(encoding=_breakout(canary)))
    assert "encoding" in caught.value.message
    assert not canary.exists()
    assert h.count(PEOPLE) == 0


def test_a_source_column_name_with_quotes_is_an_identifier(h: Harness, canary: Path) -> None:
    name = f'we"ird{_breakout(canary)}'
    header = '"' + name.replace('"', '""') + '"'
    path = h.write("c.csv", f"{header}\nhello\n")
    h.load(TEXT, _by_column("v", name), path)
    assert h.rows(TEXT) == [("hello",)]
    assert not canary.exists()


def test_a_mapping_constant_is_a_literal(h: Harness, canary: Path) -> None:
    value = f"{_breakout(canary)} || (SELECT content FROM read_text('/etc/passwd'))"
    mapping = Mapping((FieldMapping("v", SourceRef(RefKind.CONST, value)),))
    path = h.write("k.csv", "a\n1\n")
    h.load(TEXT, mapping, path)
    assert h.rows(TEXT) == [(value,)]
    assert not canary.exists()


def test_a_mapping_column_cannot_be_a_table_function(h: Harness) -> None:
    """A mapping names columns; it has no expression language, so SQL in it is a name."""
    path = h.write("f.csv", "a\n1\n")
    with pytest.raises(IngestdError, match="read_text"):
        h.load(TEXT, _by_column("v", "(SELECT content FROM read_text('/etc/passwd'))"), path)
    assert h.count(TEXT) == 0


def test_a_json_path_key_with_quotes_is_data(h: Harness, canary: Path) -> None:
    key = f'k"{_breakout(canary)}'.replace("'", "")  # JSON paths in brackets hold no '
    mapping = Mapping(
        (FieldMapping("v", SourceRef(RefKind.PATH, f"$.outer['{key}']")),),
    )
    path = h.write("j.ndjson", json.dumps({"outer": {key: "deep"}}) + "\n")
    h.load(TEXT, mapping, path)
    assert h.rows(TEXT) == [("deep",)]
    assert not canary.exists()


def test_zip_member_names_and_patterns_with_quotes_are_data(h: Harness, canary: Path) -> None:
    member = f"m{_breakout(canary)}.csv"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(member, "id,name,score\n1,Ann,1.5\n")
    path = h.write("z.zip", out.getvalue())
    result = h.load(PEOPLE, PEOPLE_BY_NAME, path, options=ReadOptions(zip_pattern="m*'*"))
    assert [f.name for f in result.files] == [f"z.zip/{member}"]
    assert h.rows(PEOPLE) == [(1, "Ann", 1.5)]
    with pytest.raises(IngestdError, match="no member matches"):
        h.load(PEOPLE, PEOPLE_BY_NAME, path, key="k2", options=ReadOptions(zip_pattern="'); --"))
    assert not canary.exists()


def test_a_target_column_name_in_a_rule_message_is_quoted(h: Harness, canary: Path) -> None:
    """A too-long value's message names the column inside a SQL literal."""
    name = f"v{_breakout(canary)}"
    table = TableSpec(
        "demo", "limited", (Column(name, ColumnType.STRING, max_length=2),), project="test"
    )
    path = h.write("l.csv", "a\nabc\nok\n")
    result = h.load(table, _by_column(name, "a"), path)
    assert (result.counts.inserted, result.counts.rejected + result.counts.errors) == (1, 1)
    (row,) = h.quarantine()
    assert row.message.startswith(f"{name} has 3 characters")
    assert not canary.exists()
