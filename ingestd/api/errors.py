"""Per-dialect error rendering: a route class that turns errors into the dialect's envelope.

Each dialect router uses ``dialect_route(render)``: every ``IngestdError`` and every request
validation error raised while handling one of its requests is rendered by ``render``, in one
place per dialect. Anything else is logged and answered as a 500 without a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from ingestd.errors import IngestdError, InternalError, InvalidInput, NotFound

log = logging.getLogger("ingestd.api")

Renderer = Callable[[Request, IngestdError], Response]


def validation_message(exc: RequestValidationError) -> str:
    """One readable sentence from pydantic's errors: which field, and what is wrong."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where or 'request'}: {error.get('msg', 'is invalid')}")
    return "; ".join(parts) or "the request is invalid"


def dialect_route(render: Renderer) -> type[APIRoute]:
    class DialectRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(request)
                except IngestdError as exc:
                    return render(request, exc)
                except RequestValidationError as exc:
                    return render(request, InvalidInput(validation_message(exc)))
                except HTTPException as exc:
                    # FastAPI's own refusals (unparseable body, ...) keep their meaning.
                    if exc.status_code == 404:
                        return render(request, NotFound(str(exc.detail)))
                    return render(request, InvalidInput(str(exc.detail)))
                except Exception:  # the dialect's one top-level handler
                    log.exception("unhandled error on %s %s", request.method, request.url.path)
                    return render(request, InternalError("internal error; see the server log"))

            return guarded

    return DialectRoute
