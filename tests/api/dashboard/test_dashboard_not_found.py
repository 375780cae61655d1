"""A /ui/ path no page serves answers the dashboard's own 404 page, not a JSON body."""

from __future__ import annotations

import pytest

from tests.api.dashboard.conftest import browser
from tests.api.native.conftest import Native


@pytest.mark.parametrize(
    "path", ["/ui/nope", "/ui/runs/extra/deep", "/ui/days/orders/2026-01-05/x"], ids=str
)
def test_an_unknown_dashboard_path_answers_the_html_404_page(native: Native, path: str) -> None:
    client = browser(native)
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert '<link rel="stylesheet" href="/ui/static/dashboard.css">' in response.text
    assert "NOT_FOUND" in response.text and f"no dashboard page at {path}" in response.text
    assert '<a href="/">Back to the status grid</a>' in response.text


def test_the_404_page_needs_no_session_and_other_methods_are_not_found_too(
    native: Native,
) -> None:
    response = native.client.post("/ui/nope", data={"csrf": "x"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "no dashboard page at /ui/nope" in response.text


def test_a_page_asked_with_a_method_it_lacks_keeps_its_405_and_allow(native: Native) -> None:
    response = native.client.delete("/ui/runs")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


def test_real_pages_and_paths_outside_the_dashboard_are_unchanged(native: Native) -> None:
    client = browser(native)
    assert client.get("/ui/runs").status_code == 200
    assert native.client.get("/ui/login").status_code == 200
    outside = native.client.get("/nope")
    assert outside.status_code == 404
    assert outside.headers["content-type"].startswith("application/json")
