"""The KQL tokenizer: words, numbers (with timespan suffixes), strings, datetime literals and
operators, each with its 1-based line and column."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal as TypingLiteral

from ingestd.domain.kql.ast import Pos
from ingestd.domain.kql.errors import KqlError

TokenKind = TypingLiteral["word", "number", "timespan", "string", "datetime", "punct", "end"]


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    """As written (for messages)."""
    value: str
    """Strings unescaped; datetime literals the text inside ``datetime(...)``."""
    pos: Pos

    def shown(self) -> str:
        return "the end of the query" if self.kind == "end" else repr(self.text)


_WORD = re.compile(r"!?[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_TIMESPAN_UNIT = re.compile(r"(?:ms|microseconds?|ticks|days?|hours?|minutes?|seconds?|[dhms])\b")
_PUNCT = (
    "==", "!=", "<>", "<=", ">=", "=~", "!~", "..",
    "|", "(", ")", ",", "=", "<", ">", "+", "-", "*", "/", "%", "[", "]", ".", "~",
)  # fmt: skip
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
_DATETIME_OPEN = re.compile(r"datetime\s*\(", re.IGNORECASE)
MAX_QUERY_CHARS = 100_000


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_QUERY_CHARS:
        raise KqlError(f"the query is longer than {MAX_QUERY_CHARS} characters", line=1, column=1)
    tokens: list[Token] = []
    i, line, line_start = 0, 1, 0
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
        pos = Pos(line, i - line_start + 1)
        if (match := _DATETIME_OPEN.match(text, i)) is not None:
            end = text.find(")", match.end())
            newline = text.find("\n", match.end())
            if end < 0 or 0 <= newline < end:
                raise _syn("a datetime( literal is not closed on its line", pos)
            inner = text[match.end() : end].strip()
            if inner[:1] in ("'", '"'):
                inner = inner[1:-1] if len(inner) > 1 and inner[-1] == inner[0] else inner
            tokens.append(Token("datetime", text[i : end + 1], inner, pos))
            i = end + 1
            continue
        if ch in "'\"" or (ch == "@" and text[i + 1 : i + 2] in ("'", '"')):
            value, end = _read_string(text, i, pos)
            tokens.append(Token("string", text[i:end], value, pos))
            i = end
            continue
        if (match := _WORD.match(text, i)) is not None and (ch != "!" or match.end() > i + 1):
            tokens.append(Token("word", match.group(0), match.group(0), pos))
            i = match.end()
            continue
        if (match := _NUMBER.match(text, i)) is not None:
            unit = _TIMESPAN_UNIT.match(text, match.end())
            if unit is not None:
                raw = text[i : unit.end()]
                tokens.append(Token("timespan", raw, raw, pos))
                i = unit.end()
            else:
                tokens.append(Token("number", match.group(0), match.group(0), pos))
                i = match.end()
            continue
        punct = next((p for p in _PUNCT if text.startswith(p, i)), None)
        if punct is None:
            raise _syn(f"unexpected character {ch!r}", pos)
        tokens.append(Token("punct", punct, punct, pos))
        i += len(punct)
    tokens.append(Token("end", "", "", Pos(line, len(text) - line_start + 1)))
    return tokens


def _syn(message: str, pos: Pos) -> KqlError:
    return KqlError(message, line=pos.line, column=pos.column)


def _sem(message: str, pos: Pos) -> KqlError:
    return KqlError(message, line=pos.line, column=pos.column, semantic=True)


def _read_string(text: str, i: int, pos: Pos) -> tuple[str, int]:
    verbatim = text[i] == "@"
    if verbatim:
        i += 1
    quote = text[i]
    i += 1
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == "\n":
            break
        if ch == "\\" and not verbatim and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt not in _ESCAPES:
                raise _syn(f"unknown escape \\{nxt} in a string", pos)
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        if ch == quote:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise _syn("a string is not closed before the end of its line", pos)
