"""Per-dialect error rendering: a route class that turns errors into the dialect's envelope.

Each dialect router (and the native API and the dashboard) uses ``dialect_route(render)``:
every ``IngestdError`` and every request validation error raised while handling one of its
requests is rendered by ``render``, in one place per front end. Anything else is logged and
answered as a 500 without a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from ingestd.errors import IngestdError, InternalError, InvalidInput, NotFound

log = logging.getLogger("ingestd.api")

Renderer = Callable[[Request, IngestdError], Response]
InvalidRenderer = Callable[[Request, RequestValidationError], Response]


NATIVE_HIDDEN_PARTS = ("body", "query", "path", "header")
"""Where a parameter was, left out of the native API's and the dashboard's messages."""


def validation_message(
    exc: RequestValidationError, hidden: Collection[str] = ("body", "query")
) -> str:
    """One readable sentence from pydantic's errors: which field (its location without the
    ``hidden`` parts), and what is wrong."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in hidden)
        parts.append(f"{where or 'request'}: {error.get('msg', 'is invalid')}")
    return "; ".join(parts) or "the request is invalid"


def dialect_route(
    render: Renderer,
    *,
    render_invalid: InvalidRenderer | None = None,
    logger: logging.Logger = log,
) -> type[APIRoute]:
    """The route class of one front end (a dialect, the native API, the dashboard): errors
    raised while handling its requests are rendered by ``render``; a request validation error
    by ``render_invalid`` (else ``render`` of an InvalidInput saying what is wrong); FastAPI's
    own refusals (HTTPException) as NotFound or InvalidInput; any other exception is logged to
    ``logger`` and rendered as an InternalError."""

    def invalid(request: Request, exc: RequestValidationError) -> Response:
        if render_invalid is not None:
            return render_invalid(request, exc)
        return render(request, InvalidInput(validation_message(exc)))

    def internal(request: Request) -> Response:
        return render(request, InternalError("internal error; see the server log"))

    class DialectRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(request)
                except IngestdError as exc:
                    return render(request, exc)
                except RequestValidationError as exc:
                    return invalid(request, exc)
                except HTTPException as exc:
                    # FastAPI's own refusals (unparseable body, ...) keep their meaning.
                    if exc.status_code == 404:
                        return render(request, NotFound(str(exc.detail)))
                    return render(request, InvalidInput(str(exc.detail)))
                except Exception:  # the front end's one top-level handler
                    logger.exception("unhandled error on %s %s", request.method, request.url.path)
                    return internal(request)

            return guarded

    return DialectRoute
