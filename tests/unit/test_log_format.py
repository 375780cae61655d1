"""The log formats: JSON lines with the bound context, text with it, secrets redacted in both."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestd.observability.logging import LogContext, LogFormat, bound, handler, redact

KEY = "console-Zx8Qe1mN0pR4sT6uV8wY0zA2bC4dE6fG8hJ0kL2mN4p"
SECRETS = {
    "SAS": "https://acct.blob.core.windows.net/c/b.csv?sv=2022&se=2030&sig=Abc%2FDef%3D",
    "presigned": "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA1&X-Amz-Signature=0a1b2c3d",
    "key param": "https://example.com/data.csv?key=hunter2&day=2024-03-01",
    "header": "Authorization: Bearer tok_abcdef0123456789",
    "statsig header": "'statsig-api-key': 'secret-ffffeeee'",
    "api key": f"bad key {KEY} given",
    "oauth token": "token oat-R2d2C3poR2d2C3poR2d2C3po was used",
    "password in url": "postgresql+psycopg://ingestd:s3cr3tpw@db.internal:5432/analytics",
    "account key suffix": "https://acct.blob.core.windows.net/c/b.csv;QUJDREVGRw==",
}
HIDDEN = {
    "SAS": "Abc%2FDef%3D",
    "presigned": "0a1b2c3d",
    "key param": "hunter2",
    "header": "tok_abcdef0123456789",
    "statsig header": "secret-ffffeeee",
    "api key": KEY[len("console-") :],
    "oauth token": "R2d2C3po",
    "password in url": "s3cr3tpw",
    "account key suffix": "QUJDREVGRw==",
}
KEPT = {
    "SAS": "https://acct.blob.core.windows.net/c/b.csv?sv=2022&se=2030&sig=***",
    "presigned": "X-Amz-Signature=***",
    "key param": "key=***&day=2024-03-01",
    "header": "Authorization: ***",
    "statsig header": "'statsig-api-key': '***",
    "api key": "bad key console-*** given",
    "oauth token": "token oat-*** was used",
    "password in url": "postgresql+psycopg://ingestd:***@db.internal:5432/analytics",
    "account key suffix": "https://acct.blob.core.windows.net/c/b.csv;***",
}


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_redact_hides_the_secret_and_keeps_the_rest(name: str) -> None:
    shown = redact(SECRETS[name])
    assert HIDDEN[name] not in shown
    assert KEPT[name] in shown


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_text_without_secrets_is_unchanged(text: str) -> None:
    # Plain prose (no URL, no credential marker) passes through untouched.
    plain = text.replace("=", " ").replace(":", " ").replace("-", " ").replace("@", " ")
    assert redact(plain) == plain


@pytest.fixture
def emit() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    streams = io.StringIO(), io.StringIO()
    formats: tuple[LogFormat, LogFormat] = ("json", "text")
    logger = logging.getLogger("ingestd.test_log_format")
    handlers = [handler(f, s) for f, s in zip(formats, streams, strict=True)]
    for h in handlers:
        logger.addHandler(h)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield streams
    finally:
        for h in handlers:
            logger.removeHandler(h)


def test_each_line_is_json_with_the_bound_context(emit: tuple[io.StringIO, io.StringIO]) -> None:
    as_json, as_text = emit
    logger = logging.getLogger("ingestd.test_log_format")
    logger.info("outside")
    context = LogContext(request_id="r-1", project="acme", run_id="run-1", unit_id="unit-1")
    with bound(context):
        logger.warning("loading %s", SECRETS["SAS"])
        context.project = "acme2"  # learned later (authentication): later lines say so
        try:
            raise ValueError(f"bad {SECRETS['key param']}")
        except ValueError:
            logger.exception("failed with %s", KEY)
    first, second, third = (json.loads(line) for line in as_json.getvalue().splitlines())
    assert set(first) == {"timestamp", "level", "logger", "message"}
    assert first["level"] == "INFO" and first["logger"] == "ingestd.test_log_format"
    assert first["timestamp"].endswith("+00:00")
    assert second["level"] == "WARNING" and second["message"].startswith("loading https://")
    assert (second["request_id"], second["project"]) == ("r-1", "acme")
    assert (second["run_id"], second["unit_id"]) == ("run-1", "unit-1")
    assert third["project"] == "acme2" and "ValueError" in third["exception"]
    text = as_text.getvalue()
    assert "[request=r-1 project=acme run=run-1 unit=unit-1]" in text
    assert "Traceback" in text and "ValueError" in text
    for output in (as_json.getvalue(), text):
        for name in ("SAS", "key param", "api key"):
            assert HIDDEN[name] not in output, name
