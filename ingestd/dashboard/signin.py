"""``/ui/login`` and ``/ui/logout``: a project's API key exchanged for a session cookie.

The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it),
Path=/, and Secure when the request came over https (``X-Forwarded-Proto`` only when
``INGESTD_DASHBOARD_TRUST_FORWARDED_PROTO`` says a TLS proxy sets it).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from ingestd.api.rate_limit import RateLimiter
from ingestd.dashboard.web import COOKIE, DashboardRoute, ServicesDep, Session, page
from ingestd.errors import Forbidden, Unauthenticated


def _secure(request: Request, trust_forwarded: bool) -> bool:
    if request.url.scheme == "https":
        return True
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return trust_forwarded and forwarded == "https"


def _same_origin(request: Request) -> None:
    """A sign-in posted from another site's page is refused (login CSRF): browsers send
    ``Origin`` on every cross-site POST."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    expected = f"{request.url.scheme}://{request.url.netloc}"
    forwarded = f"https://{request.url.netloc}"
    if origin not in (expected, forwarded):
        raise Forbidden(
            f"a sign-in from {origin} is not accepted",
            hint="open the dashboard's own /ui/login page and sign in there",
        )


def build_router(limiter: RateLimiter | None = None) -> APIRouter:
    router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
    # Guessing keys is slowed like API calls per key are: here per client address, since a
    # sign-in has no key to count by until it succeeds.
    attempts = limiter or RateLimiter([(10, 60.0)])

    @router.get("/ui/login")
    def login_form(request: Request, svc: ServicesDep) -> Response:
        try:
            svc.dashboard_sessions.resume(request.cookies.get(COOKIE))
        except Unauthenticated:
            return page(request, "login.html", None)
        return RedirectResponse("/", status_code=303)

    @router.post("/ui/login")
    def login(
        request: Request, svc: ServicesDep, key: Annotated[str, Form(max_length=512)] = ""
    ) -> Response:
        _same_origin(request)
        attempts.hit(request.client.host if request.client else "unknown")
        try:
            opened = svc.dashboard_sessions.sign_in(key)
        except Unauthenticated as exc:
            return page(request, "login.html", None, status_code=401, failed=exc.message)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            opened.token,
            max_age=int((opened.session.expires_at - svc.clock()).total_seconds()),
            path="/",
            httponly=True,
            samesite="strict",
            secure=_secure(request, svc.settings.dashboard_trust_forwarded_proto),
        )
        return response

    @router.post("/ui/logout")
    def logout(
        request: Request,
        svc: ServicesDep,
        session: Session,
        csrf: Annotated[str | None, Form()] = None,
    ) -> Response:
        session.check_csrf(csrf)
        svc.dashboard_sessions.sign_out(request.cookies.get(COOKIE))
        response = RedirectResponse("/ui/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return router
