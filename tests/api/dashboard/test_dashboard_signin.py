"""Sign-in, the session cookie, CSRF, sign-out and what ends a session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.store.schema import DashboardSession
from tests.api.dashboard.conftest import browser, csrf_of
from tests.api.native.conftest import Native
from tests.conftest import make_services


def test_signed_out_pages_send_the_browser_to_sign_in(native: Native) -> None:
    client = TestClient(native.client.app, follow_redirects=False)
    for path in ("/", "/ui/runs", "/ui/quarantine", "/ui/sources", "/ui/kusto", "/ui/workers"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/ui/login"
    form = client.get("/ui/login")
    assert form.status_code == 200
    assert 'name="key"' in form.text and 'action="/ui/login"' in form.text
    # A POST without a session is refused, not redirected.
    assert client.post("/ui/runs/x/cancel", data={"csrf": "x"}).status_code == 401


def test_the_session_cookie_is_httponly_strict_and_holds_no_key(native: Native) -> None:
    client = TestClient(native.client.app, follow_redirects=False)
    key = native.keys[KeyKind.CONSOLE]
    response = client.post("/ui/login", data={"key": key})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    parts = [p.strip().lower() for p in cookie.split(";")]
    assert "httponly" in parts and "samesite=strict" in parts and "path=/" in parts
    assert "secure" not in parts  # plain http: a Secure cookie would never come back
    token = cookie.split(";")[0].split("=", 1)[1]
    assert key not in cookie and len(token) >= 40
    page = client.get("/")
    assert page.status_code == 200 and "acme" in page.text and "console key" in page.text
    # The store keeps a hash of the token, never the token or the key.
    with native.services.store.read() as session:
        rows = session.scalars(select(DashboardSession)).all()
    assert len(rows) == 1
    stored = repr(vars(rows[0]))
    assert token not in stored and key not in stored


def test_the_cookie_is_secure_over_https_and_behind_a_trusted_proxy(tmp_path: Path) -> None:
    for trust, headers, secure in (
        (False, {}, False),
        (False, {"X-Forwarded-Proto": "https"}, False),
        (True, {"X-Forwarded-Proto": "https"}, True),
    ):
        services = make_services(
            tmp_path / f"d{trust}{len(headers)}", dashboard_trust_forwarded_proto=trust
        )
        key = services.access.create_key("acme", KeyKind.READ)
        client = TestClient(create_app(services, background=False), follow_redirects=False)
        response = client.post("/ui/login", data={"key": key}, headers=headers)
        parts = [p.strip().lower() for p in response.headers["set-cookie"].split(";")]
        assert ("secure" in parts) is secure, (trust, headers)
        https = TestClient(client.app, base_url="https://testserver", follow_redirects=False)
        response = https.post("/ui/login", data={"key": key})
        assert "secure" in [p.strip().lower() for p in response.headers["set-cookie"].split(";")]
        services.close()


def test_an_unknown_and_a_revoked_key_get_the_same_answer(native: Native) -> None:
    client = TestClient(native.client.app, follow_redirects=False)
    revoked = native.services.access.create_key("acme", KeyKind.READ)
    native.services.access.revoke_key(revoked[:16], "acme")
    answers = []
    for key in ("console-not-a-key-at-all", revoked, ""):
        response = client.post("/ui/login", data={"key": key})
        assert response.status_code == 401
        assert "set-cookie" not in response.headers
        assert key not in response.text or not key
        answers.append(response.text.split('role="alert">')[1].split("</p>")[0])
    assert answers[0] == answers[1] == answers[2]
    assert "not a valid ingestd API key" in answers[0]


def test_sign_in_attempts_are_rate_limited(native: Native) -> None:
    client = TestClient(native.client.app, follow_redirects=False)
    codes = [client.post("/ui/login", data={"key": "wrong"}).status_code for _ in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    refused = client.post("/ui/login", data={"key": native.keys[KeyKind.CONSOLE]})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_a_sign_in_posted_from_another_site_is_refused(native: Native) -> None:
    client = TestClient(native.client.app, follow_redirects=False)
    response = client.post(
        "/ui/login",
        data={"key": native.keys[KeyKind.CONSOLE]},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403 and "set-cookie" not in response.headers
    same = client.post(
        "/ui/login",
        data={"key": native.keys[KeyKind.CONSOLE]},
        headers={"Origin": "http://testserver"},
    )
    assert same.status_code == 303


def test_a_post_without_the_csrf_token_is_refused(native: Native) -> None:
    client = browser(native)
    run = native.run([datetime(2026, 1, 5).date()])
    for data in ({}, {"csrf": "forged"}, {"csrf": csrf_of(client) + "x"}):
        response = client.post(f"/ui/runs/{run}/cancel", data=data)
        assert response.status_code == 403, data
        assert "CSRF" in response.text
    assert not native.services.runs.get_run(native.project_id, run).cancel_requested
    assert client.post("/ui/logout", data={}).status_code == 403
    assert client.get("/").status_code == 200  # still signed in


def test_sign_out_ends_the_session(native: Native) -> None:
    client = browser(native)
    cookie = client.cookies.get("ingestd_session")
    assert cookie
    response = client.post("/ui/logout", data={"csrf": csrf_of(client)})
    assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    assert client.get("/").status_code == 303
    # The old cookie, sent again, is no session any more (it was deleted, not only unset).
    replayed = TestClient(native.client.app, follow_redirects=False)
    replayed.cookies.set("ingestd_session", cookie)
    assert replayed.get("/").status_code == 303


def test_revoking_the_key_ends_its_sessions(native: Native) -> None:
    key = native.services.access.create_key("acme", KeyKind.CONSOLE)
    client = browser(native, key)
    other = browser(native)
    assert client.get("/").status_code == 200
    native.services.access.revoke_key(key[:16], "acme")
    assert client.get("/").status_code == 303
    assert client.get("/ui/runs").headers["location"] == "/ui/login"
    assert other.get("/").status_code == 200  # another key's session goes on


class _Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def test_a_session_expires(tmp_path: Path) -> None:
    clock = _Clock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    services = make_services(tmp_path / "data", clock=clock, dashboard_session_hours=2)
    key = services.access.create_key("acme", KeyKind.READ)
    client = TestClient(create_app(services, background=False), follow_redirects=False)
    response = client.post("/ui/login", data={"key": key})
    assert "max-age=7200" in response.headers["set-cookie"].lower()
    clock.at += timedelta(hours=1, minutes=59)
    assert client.get("/").status_code == 200
    clock.at += timedelta(minutes=2)
    assert client.get("/").status_code == 303
    services.close()
