"""Refusals of Kusto-dialect requests, as core errors (``ingestd.errors``).

Control raises the core error of a refusal's kind (``EmptyBlobUrl``, ``UnknownTable`` ...);
its Kusto ``code`` is decided in one place, ``ingestd.domain.error_codes.kusto_request_code``,
and rendered by ``ingestd.api.kusto.errors.render_error``.
"""

from __future__ import annotations

from ingestd.errors import CommandSyntaxError, InvalidInput

KustoBadRequest = InvalidInput
"""What a refused Kusto request is: an ``InvalidInput`` of a named kind. The name stays for
the storage emulation (``api/kusto/storage``), which catches the refusals of its messages'
properties with it."""


class KustoSyntaxError(CommandSyntaxError):
    """A management command that does not parse, with the 1-based line and column."""

    def __init__(self, message: str, *, line: int, column: int) -> None:
        super().__init__(f"Syntax error: SYN0002: {message}. [line:position={line}:{column}]")
        self.line = line
        self.column = column
