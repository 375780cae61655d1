"""Every core error class of ``ingestd.errors``, one instance each, for the dialects' error
contract tests (``tests/api/<dialect>/test_<dialect>_error_contract.py``)."""

from __future__ import annotations

import inspect

import pytest
from starlette.requests import Request

from ingestd import errors
from ingestd.errors import IngestdError, RateLimited

MESSAGE = "what went wrong"
HINT = "what to do"
RETRY_AFTER = 7


def core_error_classes() -> list[type[IngestdError]]:
    """Each class ``ingestd.errors`` defines, the abstract bases included (each can be raised)."""
    return sorted(
        (
            cls
            for _, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, IngestdError) and cls.__module__ == errors.__name__
        ),
        key=lambda cls: cls.__name__,
    )


def instance(cls: type[IngestdError]) -> IngestdError:
    if issubclass(cls, RateLimited):
        return cls(MESSAGE, retry_after=RETRY_AFTER, hint=HINT)
    return cls(MESSAGE, hint=HINT)


def each_core_error() -> pytest.MarkDecorator:
    """Parametrize a test's ``error`` over every core error class, with the class as its id."""
    classes = core_error_classes()
    return pytest.mark.parametrize(
        "error", [instance(cls) for cls in classes], ids=[cls.__name__ for cls in classes]
    )


def request(path: str, headers: dict[str, str] | None = None) -> Request:
    """A request as the dialect's route would have received it (no app needed to render)."""
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "GET", "path": path, "headers": raw})
