"""The errors of the KQL subset: what is wrong and where (1-based line and column)."""

from __future__ import annotations

from ingestd.errors import CommandSemanticError, CommandSyntaxError


class KqlError(CommandSyntaxError):
    """A query that does not parse or uses an operator ingestd does not serve
    (``SYNTAX_ERROR``); with ``semantic``, one that names a column the table does not have
    (a ``KqlSemanticError``, ``SEMANTIC_ERROR``)."""

    def __new__(cls, message: str, *, line: int, column: int, semantic: bool = False) -> KqlError:
        # One constructor for both kinds (the parser and the SQL translation raise through
        # it); the kind is the class, so that its core code is the class's as everywhere.
        kind = KqlSemanticError if semantic and cls is KqlError else cls
        error: KqlError = super().__new__(kind, message)
        return error

    def __init__(self, message: str, *, line: int, column: int, semantic: bool = False) -> None:
        prefix = "Semantic error: SEM0100" if semantic else "Syntax error: SYN0002"
        super().__init__(f"{prefix}: {message}. [line:position={line}:{column}]")
        self.line = line
        self.column = column


class KqlSemanticError(KqlError, CommandSemanticError):
    """A query that parses but names what the table does not have."""

    code = CommandSemanticError.code
