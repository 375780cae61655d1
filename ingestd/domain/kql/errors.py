"""The one error of the KQL subset: what is wrong and where (1-based line and column)."""

from __future__ import annotations

from ingestd.errors import InvalidInput


class KqlError(InvalidInput):
    """A query that does not parse, uses an operator ingestd does not serve, or names a column
    the table does not have. ``kusto_code`` is the vendor's code for it (API-SURFACE §3.8)."""

    def __init__(self, message: str, *, line: int, column: int, semantic: bool = False) -> None:
        prefix = "Semantic error: SEM0100" if semantic else "Syntax error: SYN0002"
        super().__init__(f"{prefix}: {message}. [line:position={line}:{column}]")
        self.line = line
        self.column = column
        self.kusto_code = "BadRequest_SemanticError" if semantic else "BadRequest_SyntaxError"
