"""Log lines an operator can search: text or one JSON object per line, with the request, project,
run and unit they belong to, and never a secret.

The context lives in a ``ContextVar`` holding a ``LogContext``: the API middleware binds one per
request, the executor one per unit. The request's record is a mutable object on purpose:
authentication learns the project inside the endpoint (a worker thread with a copy of the
context), and the middleware's access-log line, written after the endpoint returns, must see it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Literal

LogFormat = Literal["text", "json"]

ACCESS_LOGGER = "ingestd.access"

# Fields a record may carry through ``extra=`` that the JSON line keeps (the access log's).
_EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "dialect")


@dataclass
class LogContext:
    """What a log line is about; None where unknown."""

    request_id: str | None = None
    project: str | None = None
    run_id: str | None = None
    unit_id: str | None = None


_current: ContextVar[LogContext | None] = ContextVar("ingestd_log_context", default=None)


def current() -> LogContext | None:
    """The context of the request or unit being handled in this thread or task, if any."""
    return _current.get()


@contextmanager
def bound(context: LogContext) -> Iterator[LogContext]:
    """Make ``context`` the current one for the duration of the block."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def note_project(project: str) -> None:
    """Record the authenticated project on the current context (no-op outside one)."""
    context = _current.get()
    if context is not None:
        context.project = project


# -- redaction ----------------------------------------------------------------------------------

_SECRET_PARAMS = (
    r"sig|signature|key|api[-_]?key|token|access_token|refresh_token|secret|client_secret"
    r"|password|passwd|pwd|code|x-amz-signature|x-amz-security-token|x-amz-credential"
    r"|x-goog-signature|x-goog-credential|sas"
)
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Query-string secrets: SAS signatures, presigned URLs, ?key= / ?token= ...
    (re.compile(rf"([?&;](?:{_SECRET_PARAMS})=)[^&\s\"'<>]+", re.IGNORECASE), r"\1***"),
    # Credentials in headers, however they are quoted.
    (
        re.compile(
            r"((?:authorization|proxy-authorization|statsig-api-key|x-api-key|api-key|cookie)"
            r"[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,}]+",
            re.IGNORECASE,
        ),
        r"\1***",
    ),
    (re.compile(r"\b([Bb]earer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 ***"),
    (re.compile(r"\b(Basic)\s+[A-Za-z0-9+/]{8,}={0,2}"), r"\1 ***"),
    # ingestd's own credentials: API keys (kind-...), access tokens (oat-...).
    (re.compile(r"\b(console|ingest|read|oat)-[A-Za-z0-9_-]{16,}"), r"\1-***"),
    # user:password@ in URLs; Kusto's ";<account key>" suffix on blob URLs.
    (re.compile(r"(\w+://[^/\s:@]+:)[^@\s/]+@"), r"\1***@"),
    (re.compile(r"(\w+://[^\s;\"']+);[^\s\"']+"), r"\1;***"),
)


def redact(text: str) -> str:
    """``text`` with anything that looks like a secret replaced by ``***``."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


# -- formatters ---------------------------------------------------------------------------------


class ContextFilter(logging.Filter):
    """Copies the current ``LogContext`` onto each record (as ``record.ingestd_context``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "ingestd_context"):
            record.ingestd_context = _current.get()
        return True


class TextFormatter(logging.Formatter):
    """``time level logger: message [request=... project=... run=... unit=...]``, redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context: LogContext | None = getattr(record, "ingestd_context", None)
        if context is not None:
            tags = [
                f"{name}={value}"
                for name, value in (
                    ("request", context.request_id),
                    ("project", context.project),
                    ("run", context.run_id),
                    ("unit", context.unit_id),
                )
                if value is not None
            ]
            if tags:
                first, newline, rest = line.partition("\n")
                line = f"{first} [{' '.join(tags)}]{newline}{rest}"
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, the context's ids when
    known, the access log's fields, and ``exception`` (a traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        context: LogContext | None = getattr(record, "ingestd_context", None)
        if context is not None:
            for name in ("request_id", "project", "run_id", "unit_id"):
                value = getattr(context, name)
                if value is not None:
                    out[name] = value
        for name in _EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            out["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exception"] = redact(record.exc_text)
        return json.dumps(out, ensure_ascii=False, default=str)


def handler(log_format: LogFormat, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler (standard error by default) in ``log_format``, with context and
    redaction."""
    out = logging.StreamHandler(stream if stream is not None else sys.stderr)
    out.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    out.addFilter(ContextFilter())
    return out


def configure(log_format: LogFormat, *, debug: bool = False, access_log: bool = False) -> None:
    """Send every log line of the process through one ``handler(log_format)``.

    Warnings and errors are shown; with ``debug``, everything; with ``access_log`` (a serving
    process), also ingestd's own information lines: one per request and per unit.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler(log_format))
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    ingestd = logging.getLogger("ingestd")
    ingestd.setLevel(logging.DEBUG if debug else logging.INFO if access_log else logging.NOTSET)
