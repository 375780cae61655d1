"""A request's body read whole, but refused as soon as it passes a size, so a client cannot make
the server hold more of it than the route allows (Kusto's storage and streaming endpoints)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from ingestd.errors import IngestdError


async def bounded_body(request: Request, limit: int, refusal: Callable[[], IngestdError]) -> bytes:
    """The body, read chunk by chunk; ``refusal()`` is raised once more than ``limit`` bytes
    arrived (each route words its own refusal)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise refusal()
        chunks.append(chunk)
    return b"".join(chunks)
