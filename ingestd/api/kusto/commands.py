"""The management commands ingestd serves over ``POST /v1/rest/mgmt`` (API-SURFACE §3.2, §3.6):
a small tokenizer and a recursive-descent parser. Anything else is a ``KustoSyntaxError`` that
says what was expected, what was found and where (1-based line and column).

    .create table T (a:string, b:long) [with (docstring="...", folder="...")]
    .create-merge table T (a:string, c:datetime)
    .show tables
    .show table T schema [as json]  |  .show table T cslschema
    .create[-or-alter] table T ingestion csv|json|avro|parquet|orc mapping "name" '[...]'
    .show table T ingestion [csv|json|...] mappings
    .ingest-from-storage-queued into table [database('db').]T [EnableTracking=true]
        [SkipBatching=false] [CompressionFactor=1.0] [with (format='csv', ...)] <| 'url' ...
    .show queued ingestion operations "id" [details]  |  ("id1", "id2")
    .cancel queued ingestion operation 'id'
    .get ingestion resources  |  .get kusto identity token
    .show ingestion failures

Names may be bracketed (``['my table']``); strings are '...' or "..." with backslash escapes,
@'...' verbatim, h'...' hidden, or ```...```; adjacent strings concatenate (the vendor's
multi-line mapping literals); ``//`` starts a comment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ingestd.control.kusto.errors import KustoSyntaxError

Value = str | bool | int | float


@dataclass(frozen=True)
class TableRef:
    database: str | None
    name: str


@dataclass(frozen=True)
class CreateTable:
    table: TableRef
    columns: tuple[tuple[str, str], ...]
    merge: bool


@dataclass(frozen=True)
class ShowTables:
    pass


@dataclass(frozen=True)
class ShowTableSchema:
    table: TableRef
    csl: bool
    """``cslschema`` (``a:string, b:long``) rather than the JSON schema."""


@dataclass(frozen=True)
class CreateMapping:
    table: TableRef
    kind: str
    name: str
    mapping: str
    replace: bool


@dataclass(frozen=True)
class ShowMappings:
    table: TableRef
    kind: str | None


@dataclass(frozen=True)
class IngestFromStorage:
    table: TableRef
    urls: tuple[str, ...]
    options: dict[str, Value] = field(default_factory=dict)
    """``EnableTracking``, ``SkipBatching``, ``CompressionFactor``."""
    properties: dict[str, Value] = field(default_factory=dict)
    """The ``with (...)`` ingestion properties."""


@dataclass(frozen=True)
class ShowOperations:
    ids: tuple[str, ...]
    details: bool


@dataclass(frozen=True)
class CancelOperation:
    id: str


@dataclass(frozen=True)
class GetIngestionResources:
    """The storage the ingest SDKs use (docs/kusto-sdk.md)."""


@dataclass(frozen=True)
class GetIdentityToken:
    pass


@dataclass(frozen=True)
class ShowIngestionFailures:
    pass


Command = (
    GetIngestionResources
    | GetIdentityToken
    | CreateTable
    | ShowTables
    | ShowTableSchema
    | CreateMapping
    | ShowMappings
    | IngestFromStorage
    | ShowOperations
    | CancelOperation
    | ShowIngestionFailures
)

SUPPORTED = (
    ".create table, .create-merge table, .create[-or-alter] table T ingestion ... mapping, "
    ".show tables, .show table T schema|cslschema|ingestion mappings, .show ingestion failures, "
    ".ingest-from-storage-queued, .show queued ingestion operations, "
    ".cancel queued ingestion operation, .get ingestion resources, .get kusto identity token"
)

# -- tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str
    """word, string, number, punct, end."""
    text: str
    value: str
    line: int
    column: int

    def shown(self) -> str:
        return "the end of the command" if self.kind == "end" else repr(self.text)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_PUNCT = ("<|", "(", ")", ",", ":", "=", "[", "]", ".", ";")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, line, line_start = 0, 1, 0

    def fail(message: str, at: int) -> KustoSyntaxError:
        return KustoSyntaxError(message, line=line, column=at - line_start + 1)

    while i < len(text):
        ch = text[i]
        if ch == "\n":
            i, line, line_start = i + 1, line + 1, i + 1
            continue
        if ch.isspace():
            i += 1
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        start = i
        column = i - line_start + 1
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end < 0:
                raise fail("a ``` string is not closed", i)
            value = text[i + 3 : end]
            i = end + 3
        elif ch in "@hH" and _string_follows(text, i):
            verbatim = "@" in text[i : i + 2]
            i += 2 if text[i : i + 2].lower() == "h@" else 1
            value, i = _read_string(text, i, verbatim=verbatim or ch == "@", fail=fail)
        elif ch in "'\"":
            value, i = _read_string(text, i, verbatim=False, fail=fail)
        elif (match := _WORD.match(text, i)) is not None:
            value = match.group(0)
            i = match.end()
            tokens.append(Token("word", value, value, line, column))
            continue
        elif (match := _NUMBER.match(text, i)) is not None:
            value = match.group(0)
            i = match.end()
            tokens.append(Token("number", value, value, line, column))
            continue
        else:
            punct = next((p for p in _PUNCT if text.startswith(p, i)), None)
            if punct is None:
                raise fail(f"unexpected character {ch!r}", i)
            i += len(punct)
            tokens.append(Token("punct", punct, punct, line, column))
            continue
        raw = text[start:i]
        line += raw.count("\n")
        if "\n" in raw:
            line_start = start + raw.rfind("\n") + 1
        tokens.append(Token("string", raw, value, line - raw.count("\n"), column))
    tokens.append(Token("end", "", "", line, len(text) - line_start + 1))
    return tokens


def _string_follows(text: str, i: int) -> bool:
    rest = text[i : i + 3]
    return rest[1:2] in ("'", '"') or (rest[:2].lower() == "h@" and rest[2:3] in ("'", '"'))


def _read_string(
    text: str, i: int, *, verbatim: bool, fail: Callable[[str, int], KustoSyntaxError]
) -> tuple[str, int]:
    quote, start = text[i], i
    i += 1
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == "\n":
            break
        if verbatim:
            if ch == quote:
                if text.startswith(quote * 2, i):
                    out.append(quote)
                    i += 2
                    continue
                return "".join(out), i + 1
        elif ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt not in _ESCAPES:
                raise fail(f"unknown escape \\{nxt} in a string", i)
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        elif ch == quote:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise fail("a string is not closed before the end of its line", start)


# -- parser -----------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.at = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.at]

    def error(self, expected: str, token: Token | None = None) -> KustoSyntaxError:
        token = token or self.current
        return KustoSyntaxError(
            f"expected {expected} but found {token.shown()}", line=token.line, column=token.column
        )

    def take(self) -> Token:
        token = self.current
        if token.kind != "end":
            self.at += 1
        return token

    def is_word(self, *words: str) -> bool:
        return self.current.kind == "word" and self.current.value.lower() in words

    def is_punct(self, punct: str) -> bool:
        return self.current.kind == "punct" and self.current.value == punct

    def word(self, *words: str) -> str:
        if not self.is_word(*words):
            raise self.error(" or ".join(repr(w) for w in words))
        return self.take().value.lower()

    def punct(self, punct: str) -> None:
        if not self.is_punct(punct):
            raise self.error(repr(punct))
        self.take()

    def string(self, what: str = "a string literal") -> str:
        if self.current.kind != "string":
            raise self.error(what)
        parts = [self.take().value]
        while self.current.kind == "string":  # adjacent literals concatenate
            parts.append(self.take().value)
        return "".join(parts)

    def name(self, what: str) -> str:
        if self.current.kind == "word":
            return self.take().value
        if self.is_punct("["):
            self.take()
            value = self.string(f"a quoted {what} name inside [ ]")
            self.punct("]")
            return value
        raise self.error(f"a {what} name")

    def value(self) -> Value:
        token = self.current
        if token.kind == "string":
            return self.string()
        if token.kind == "number":
            self.take()
            return float(token.value) if any(c in token.value for c in ".eE") else int(token.value)
        if token.kind == "word":
            self.take()
            lowered = token.value.lower()
            return lowered == "true" if lowered in ("true", "false") else token.value
        raise self.error("a value (a string, a number, true or false)")

    def end(self) -> None:
        if self.current.kind != "end":
            token = self.current
            raise KustoSyntaxError(
                f"unexpected {token.shown()} after the end of the command",
                line=token.line,
                column=token.column,
            )

    # -- commands -----------------------------------------------------------------------------

    def command(self) -> Command:
        start = self.current
        if not self.is_punct("."):
            raise self.error("a management command starting with '.'")
        self.take()
        if self.current.kind != "word":
            raise self.error("a command name after '.'")
        verb = self.take().value.lower()
        parsed: Command
        match verb:
            case "create" | "create-merge" | "create-or-alter":
                parsed = self.create(verb)
            case "show":
                parsed = self.show()
            case "ingest-from-storage-queued":
                parsed = self.ingest()
            case "get":
                parsed = self.get()
            case "cancel":
                self.word("queued")
                self.word("ingestion")
                self.word("operation")
                parsed = CancelOperation(self.string("the operation id as a string"))
            case _:
                raise KustoSyntaxError(
                    f"unknown or unsupported command '.{verb}'; ingestd serves {SUPPORTED}",
                    line=start.line,
                    column=start.column,
                )
        self.end()
        return parsed

    def get(self) -> Command:
        if self.is_word("ingestion"):
            self.take()
            self.word("resources")
            return GetIngestionResources()
        self.word("ingestion", "kusto")
        self.word("identity")
        self.word("token")
        return GetIdentityToken()

    def table_ref(self) -> TableRef:
        database = None
        if self.is_word("database") and self.tokens[self.at + 1].value == "(":
            self.take()
            self.punct("(")
            database = self.string("the database name as a string")
            self.punct(")")
            self.punct(".")
        return TableRef(database, self.name("table"))

    def create(self, verb: str) -> Command:
        self.word("table")
        table = self.table_ref()
        if self.is_word("ingestion"):
            if verb == "create-merge":
                raise self.error("'(' (.create-merge makes tables, not mappings)")
            self.take()
            kind = self.word("csv", "json", "avro", "apacheavro", "parquet", "orc")
            self.word("mapping")
            name = self.single_string("the mapping name as a string")
            mapping = self.string("the mapping as a JSON string literal")
            return CreateMapping(table, kind, name, mapping, replace=verb == "create-or-alter")
        if verb == "create-or-alter":
            raise self.error("'ingestion' (.create-or-alter table serves mappings)")
        self.punct("(")
        columns = [self.column()]
        while self.is_punct(","):
            self.take()
            columns.append(self.column())
        self.punct(")")
        if self.is_word("with"):
            self.take()
            self.properties()  # docstring and folder: accepted, not kept
        return CreateTable(table, tuple(columns), merge=verb == "create-merge")

    def column(self) -> tuple[str, str]:
        name = self.name("column")
        self.punct(":")
        if self.current.kind != "word":
            raise self.error("a column type (string, long, real, bool, datetime, dynamic, ...)")
        return name, self.take().value

    def properties(self) -> dict[str, Value]:
        self.punct("(")
        props: dict[str, Value] = {}
        while True:
            if self.current.kind != "word":
                raise self.error("a property name")
            key = self.take().value
            self.punct("=")
            props[key] = self.value()
            if not self.is_punct(","):
                break
            self.take()
        self.punct(")")
        return props

    def show(self) -> Command:
        if self.is_word("tables"):
            self.take()
            return ShowTables()
        if self.is_word("queued"):
            self.take()
            self.word("ingestion")
            self.word("operations")
            if self.is_punct("("):
                self.take()
                ids = [self.string("an operation id as a string")]
                while self.is_punct(","):
                    self.take()
                    ids.append(self.string("an operation id as a string"))
                self.punct(")")
            else:
                ids = [self.string("an operation id as a string, or '(' and a list of them")]
            details = False
            if self.is_word("details"):
                self.take()
                details = True
            return ShowOperations(tuple(ids), details)
        if self.is_word("ingestion"):
            self.take()
            self.word("failures")
            return ShowIngestionFailures()
        self.word("table", "tables", "queued")
        table = self.table_ref()
        if self.is_word("cslschema"):
            self.take()
            return ShowTableSchema(table, csl=True)
        if self.is_word("schema"):
            self.take()
            if self.is_word("as"):
                self.take()
                self.word("json")
            return ShowTableSchema(table, csl=False)
        self.word("schema", "cslschema", "ingestion")
        kind = None
        if not self.is_word("mappings"):
            kind = self.word("csv", "json", "avro", "apacheavro", "parquet", "orc", "mappings")
        self.word("mappings")
        return ShowMappings(table, kind)

    def ingest(self) -> Command:
        self.word("into")
        self.word("table")
        table = self.table_ref()
        options: dict[str, Value] = {}
        while self.current.kind == "word" and not self.is_word("with"):
            token = self.current
            key = self.take().value
            if key.lower() not in ("enabletracking", "skipbatching", "compressionfactor"):
                raise self.error(
                    "EnableTracking, SkipBatching, CompressionFactor, with or <|", token
                )
            self.punct("=")
            options[key] = self.value()
        properties: dict[str, Value] = {}
        if self.is_word("with"):
            self.take()
            properties = self.properties()
        self.punct("<|")
        if self.is_punct("."):
            token = self.current
            raise KustoSyntaxError(
                "'.list blobs' sources are not supported yet; list the blob URLs instead",
                line=token.line,
                column=token.column,
            )
        urls = [self.single_string("a blob URL as a string")]
        while self.current.kind == "string" or self.is_punct(","):
            if self.is_punct(","):
                self.take()
            urls.append(self.single_string("a blob URL as a string"))
        return IngestFromStorage(table, tuple(urls), options, properties)

    def single_string(self, what: str) -> str:
        """One literal (blob URLs are separate literals, never concatenated)."""
        if self.current.kind != "string":
            raise self.error(what)
        return self.take().value


def parse_command(text: str) -> Command:
    """Parse one management command; raises ``KustoSyntaxError``."""
    return _Parser(text).command()
