"""A request FastAPI itself refuses (a form body it cannot parse) is the client's error: the
dashboard answers its 400 page, not the internal error's page, and logs no stack trace."""

from __future__ import annotations

import logging

import pytest

from tests.api.native.conftest import Native


@pytest.mark.parametrize(
    ("content_type", "said"),
    [
        ("multipart/form-data", "Missing boundary in multipart."),
        ("multipart/form-data; boundary=", "Invalid multipart data."),
    ],
    ids=["no boundary", "empty boundary"],
)
def test_an_unparseable_form_body_answers_the_400_page(
    native: Native, content_type: str, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = native.client.post(
            "/ui/login", content=b"\xff\xfe--garbage", headers={"content-type": content_type}
        )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "400: VALIDATION_ERROR" in response.text
    # What is wrong with the body, in its parser's words.
    assert f'<p class="alert bad" role="alert">{said}</p>' in response.text
    assert "internal error" not in response.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_well_formed_form_is_still_answered_by_the_page(native: Native) -> None:
    response = native.client.post("/ui/login", data={"key": "not-a-key"})
    assert response.status_code == 401
    assert "that key is not a valid ingestd API key" in response.text
