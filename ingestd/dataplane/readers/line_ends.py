"""Delimited text whose records end in a mix of CRLF, LF and CR, rewritten with LF only.

DuckDB's strict CSV reader takes one line terminator per file and refuses the whole file when
another one appears ("the CSV Parser state machine reached an invalid state"); its non-strict
mode reads such files but silently drops the extra fields of too-long rows. So a file the strict
read refused is rewritten here, once, with every record terminator outside quotes made an LF,
and read strictly again. Terminators inside quoted fields are data and stay as they are, and one
terminator becomes one terminator, so line numbers (quarantine ``line``) are those of the
original file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_CHUNK = 1 << 20


@dataclass
class LineEnds:
    """How the records of a file end (terminators outside quoted fields)."""

    crlf: int = 0
    lf: int = 0
    cr: int = 0

    @property
    def mixed(self) -> bool:
        return sum(1 for n in (self.crlf, self.lf, self.cr) if n) > 1


@dataclass
class _State:
    in_quote: bool = False
    held: bytes = b""
    """Bytes held back from the end of a chunk: a CR whose LF may start the next one, or a run
    of escape characters whose meaning depends on what follows."""


class _Normalizer:
    def __init__(self, quote: bytes, escape: bytes) -> None:
        self.quote = quote
        # An escape equal to the quote is the doubled quote (""), which toggles twice: plain
        # parity handles it. Only a distinct escape (\") needs looking at.
        self.escape = escape if escape and escape != quote else b""
        self.state = _State()
        self.ends = LineEnds()

    def feed(self, chunk: bytes, *, final: bool = False) -> bytes:
        data = self.state.held + chunk
        self.state.held = b""
        if not final:
            keep = len(data)
            if self.escape:
                keep = len(data.rstrip(self.escape))
            if keep and data[keep - 1 : keep] == b"\r":
                keep -= 1
            data, self.state.held = data[:keep], data[keep:]
        if not self.quote:
            return self._outside(data)
        out: list[bytes] = []
        parts = data.split(self.quote)
        inside = self.state.in_quote
        for i, part in enumerate(parts):
            out.append(part if inside else self._outside(part))
            if i == len(parts) - 1:
                break
            if inside and self.escape and _odd_tail(part, self.escape):
                continue  # an escaped quote: still inside the field
            inside = not inside
        self.state.in_quote = inside
        return self.quote.join(out)

    def _outside(self, part: bytes) -> bytes:
        crlf = part.count(b"\r\n")
        if not crlf and b"\r" not in part:
            self.ends.lf += part.count(b"\n")
            return part
        part = part.replace(b"\r\n", b"\n")
        cr = part.count(b"\r")
        self.ends.crlf += crlf
        self.ends.cr += cr
        self.ends.lf += part.count(b"\n") - crlf
        return part.replace(b"\r", b"\n") if cr else part


def _odd_tail(part: bytes, escape: bytes) -> bool:
    return (len(part) - len(part.rstrip(escape))) % 2 == 1


def rewrite_with_lf(
    source: BinaryIO, target: Path, *, quote: str, escape: str | None, encoding: str
) -> LineEnds:
    """Copy ``source`` to ``target`` with every record terminator outside quotes made an LF;
    returns the terminators found. Only for encodings where CR, LF and the quote are single
    ASCII bytes (the caller checks ``rewritable``)."""
    normalizer = _Normalizer(quote.encode(encoding), (escape or "").encode(encoding))
    with target.open("wb") as out:
        while chunk := source.read(_CHUNK):
            out.write(normalizer.feed(chunk))
        out.write(normalizer.feed(b"", final=True))
    return normalizer.ends


def rewritable(encoding: str, quote: str, escape: str | None) -> bool:
    """Whether CR, LF, the quote and the escape are one byte each, the same in any position
    (true of UTF-8 and Latin-1 and their kin, not of UTF-16 or UTF-32)."""
    try:
        return (
            all(len(ch.encode(encoding)) == 1 for ch in ("\r", "\n", quote, escape or "") if ch)
            and "\r\n".encode(encoding) == b"\r\n"
        )
    except (LookupError, UnicodeEncodeError):
        return False
