"""``/ui/<anything else>``: the dashboard's own 404 page for a path no route serves.

A path that some route serves with other methods is not "not found": it keeps its 405 from
the app's handler, whose ``Allow`` lists that route's methods. So this route matches only
paths under ``/ui/`` that no other route of the app matches at all, whatever the method.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from ingestd.dashboard.web import error_page
from ingestd.errors import NotFound

PATH = "/ui/{path:path}"
_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]


def unknown_page(request: Request) -> Response:
    return error_page(
        request,
        NotFound(
            f"there is no dashboard page at {request.url.path}",
            hint="the status grid links to every page",
        ),
    )


class NotFoundRoute(Route):
    """Serves ``unknown_page`` for ``/ui/...`` paths (any method) that no other route matches."""

    def __init__(self) -> None:
        super().__init__(PATH, unknown_page, methods=_METHODS, include_in_schema=False)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.NONE:
            return match, child
        others = scope["app"].router.routes
        if any(r is not self and r.matches(scope)[0] is not Match.NONE for r in others):
            return Match.NONE, {}
        return Match.FULL, child
