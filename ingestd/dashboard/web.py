"""What every dashboard page shares: the templates, the signed-in session, the CSRF check,
and the route class that renders every error as a page (or sends the browser to sign in).

Pages call the same ``control`` services the native API calls; nothing here decides.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from ingestd.api.errors import NATIVE_HIDDEN_PARTS, dialect_route, validation_message
from ingestd.control.access import Permission
from ingestd.control.dashboard_sessions import DashboardSession
from ingestd.control.services import Services
from ingestd.dashboard import present
from ingestd.errors import IngestdError, InvalidInput, Unauthenticated

log = logging.getLogger("ingestd.dashboard")

COOKIE = "ingestd_session"
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescapes HTML
present.install(templates.env)


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


def signed_in(request: Request, svc: ServicesDep) -> DashboardSession:
    """The session of the request's cookie (re-checked against its key on every request)."""
    return svc.dashboard_sessions.resume(request.cookies.get(COOKIE))


Session = Annotated[DashboardSession, Depends(signed_in)]


def acting(session: Session, csrf: Annotated[str | None, Form()] = None) -> DashboardSession:
    """A session that may act (an ingest or console key) and sent this session's CSRF token."""
    session.check_csrf(csrf)
    session.principal.require(Permission.INGEST)
    return session


Actor = Annotated[DashboardSession, Depends(acting)]


def page(
    request: Request,
    template: str,
    session: DashboardSession | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with the session (for the nav bar, the CSRF field and whether to
    show action buttons) and ``context``."""
    can_act = session is not None and Permission.INGEST in _permissions(session)
    response = templates.TemplateResponse(
        request,
        template,
        {"session": session, "can_act": can_act, **context},
        status_code=status_code,
    )
    # Pages show a project's data: never cached by the browser or a proxy, never framed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _permissions(session: DashboardSession) -> set[Permission]:
    out = set()
    for permission in Permission:
        try:
            session.principal.require(permission)
        except IngestdError:
            continue
        out.add(permission)
    return out


def error_page(request: Request, exc: IngestdError) -> Response:
    status = exc.http_status
    if isinstance(exc, Unauthenticated) and request.method in ("GET", "HEAD"):
        return RedirectResponse("/ui/login", status_code=303)
    message = exc.message if status < 500 else "internal error; see the server log"
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    response = page(
        request,
        "error.html",
        None,
        status_code=status,
        status=status,
        code=exc.code,
        message=message,
        hint=exc.hint if status < 500 else None,
    )
    response.headers.update(headers)
    return response


def _invalid_page(request: Request, exc: RequestValidationError) -> Response:
    return error_page(request, InvalidInput(validation_message(exc, NATIVE_HIDDEN_PARTS)))


DashboardRoute = dialect_route(error_page, render_invalid=_invalid_page, logger=log)
"""Renders every error raised while handling a dashboard request as an HTML page. FastAPI's
own refusals (a form body it cannot parse) are the client's: a 400 page saying so, not an
internal error's page and a stack trace in the log."""
