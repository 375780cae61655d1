"""Refusals of Kusto-dialect requests that carry their K7 error code (API-SURFACE §3.1, §3.8).

They are ordinary ingestd request errors (so every front end can show them); the Kusto router
renders ``kusto_code`` in the OneApiErrors body instead of a code derived from the class.
"""

from __future__ import annotations

from ingestd.errors import InvalidInput, NotFound


class KustoBadRequest(InvalidInput):
    """HTTP 400 with a specific Kusto ``code`` (e.g. ``BadRequest_DuplicateMapping``)."""

    def __init__(self, message: str, *, kusto_code: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kusto_code = kusto_code


class KustoNotFound(NotFound):
    """HTTP 404 with a specific Kusto ``code`` (e.g. ``BadRequest_TableNotExist``)."""

    def __init__(self, message: str, *, kusto_code: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kusto_code = kusto_code


class KustoSyntaxError(KustoBadRequest):
    """A management command that does not parse, with the 1-based line and column."""

    def __init__(self, message: str, *, line: int, column: int) -> None:
        super().__init__(
            f"Syntax error: SYN0002: {message}. [line:position={line}:{column}]",
            kusto_code="BadRequest_SyntaxError",
        )
        self.line = line
        self.column = column
