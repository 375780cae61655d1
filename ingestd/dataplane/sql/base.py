"""The common interface of SQL source readers, and the errors every reader raises.

A reader runs one query on one connection and writes its whole result to one local file that
the pipeline then loads; it never holds the result in memory. Each driver family has one module
with a ``read(query, target_dir)`` function and one ``translate`` function that turns that
driver's exceptions into ingestd errors (DESIGN.md "Errors": translated once, at the I/O
boundary). The helpers here word those errors the same way for every driver: messages name the
connection and, for failing SQL, the statement; no secret of the connection ever appears in them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingestd.dataplane.blobs.egress import EgressPolicy
from ingestd.dataplane.contract import CancelToken
from ingestd.domain.file_access import NO_FILES, ProjectFiles
from ingestd.domain.sources import DataFormat
from ingestd.errors import (
    AuthenticationError,
    Canceled,
    ConnectionConfigError,
    ConnectionFailure,
    QueryError,
)

SHOWN_STATEMENT_CHARS = 200
"""Statements longer than this are cut in error messages."""


@dataclass(frozen=True)
class Extracted:
    """A query's result, staged: the file, its format and the name the unit reports for it."""

    path: Path
    format: DataFormat
    name: str


@dataclass(frozen=True)
class SourceQuery:
    """One query (already rendered for its day) to run on one connection."""

    kind: str
    connection: str
    config: Mapping[str, Any]
    secrets: Mapping[str, Any] = field(repr=False)
    sql: str
    files: ProjectFiles = NO_FILES
    """The file policy of the unit's project: where ``database_file`` may point."""
    cancel: CancelToken | None = None
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    """Which addresses the connection's host may resolve to (INGESTD_FETCH_ALLOWED_NETWORKS)."""
    row_limit: int | None = None
    """Stage at most this many rows (a preview): readers that can push a limit into the query
    do, the others stop reading once the sink is full (``ParquetSink.full``)."""

    def checked_address(self, host: str, port: int) -> str:
        """The address to connect to for ``host``: resolved once and checked against the
        egress policy (FETCH_NOT_ALLOWED, Permanent, before any connection attempt, so a refusal
        says nothing about the address's ports). A local socket path counts as loopback."""
        if host.startswith(("/", "@")):
            self.egress.check(
                ipaddress.ip_address("127.0.0.1"), f"{host} (a local socket)", self._what
            )
            return host
        return str(self.egress.resolve(host, port, self._what)[0])

    def check_host(self, host: str, port: int) -> None:
        """Refuse (FETCH_NOT_ALLOWED) a host outside the egress policy, for drivers that resolve
        names themselves (Snowflake, Databricks, Synapse, Athena, BigQuery endpoints): the check
        precedes any connection; the driver's own later resolution is not pinned."""
        self.checked_address(host, port)

    def check_url(self, url: str) -> None:
        """``check_host`` for an endpoint URL (``https://host:port/...``)."""
        parsed = urlsplit(url if "//" in url else f"https://{url}")
        if not parsed.hostname:
            raise ConnectionConfigError(f"{self.label} ({self.kind}): {url!r} is not a URL")
        default = 80 if parsed.scheme == "http" else 443
        self.check_host(parsed.hostname, parsed.port or default)

    @property
    def _what(self) -> str:
        return f"connect {self.label} ({self.kind}) to"

    @property
    def statement(self) -> str:
        """The statement as error messages show it: stripped, one line, at most 200 chars."""
        text = " ".join(self.sql.split())
        if len(text) > SHOWN_STATEMENT_CHARS:
            return text[:SHOWN_STATEMENT_CHARS] + "..."
        return text

    @property
    def bare_sql(self) -> str:
        """The SQL without trailing blanks and semicolons (for wrapping in COPY or a sub-query)."""
        return self.sql.rstrip().rstrip(";").rstrip()

    @property
    def label(self) -> str:
        return f"connection {self.connection!r}"

    def setting(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def required(self, key: str, what: str) -> Any:
        """A setting the connection must have, else CONNECTION_CONFIG_ERROR."""
        value = self.config.get(key)
        if value in (None, ""):
            raise ConnectionConfigError(
                f"{self.label} ({self.kind}) needs config.{key}: {what}",
                hint=f"set {key} in the connection's settings",
            )
        return value

    def secret(self, key: str) -> Any:
        return self.secrets.get(key)

    def scrub(self, text: str) -> str:
        """``text`` with every secret of the connection masked (drivers echo connection
        strings and URLs in their messages)."""
        for value in self.secrets.values():
            if isinstance(value, str) and len(value) >= 3:
                text = text.replace(value, "***")
        return text


Reader = Callable[[SourceQuery, Path], Extracted]
"""``read(query, target_dir)``: run the query, stage its result under ``target_dir``."""


def missing_driver(extra: str, package: str) -> ConnectionConfigError:
    """The error for a driver that is not installed: it names the extra that brings it."""
    return ConnectionConfigError(
        f"the {extra} driver is not installed: pip install 'ingestd[{extra}]'",
        hint=f"the {extra} extra installs {package}",
    )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def rejected_credentials(query: SourceQuery, detail: str = "") -> AuthenticationError:
    said = f" ({query.scrub(detail)})" if detail else ""
    return AuthenticationError(
        f"{query.label}: the server rejected the credentials{said}",
        hint="check the connection's user and password, token or key",
    )


def unreachable(query: SourceQuery, where: str, detail: str) -> ConnectionFailure:
    return ConnectionFailure(f"{query.label}: cannot reach {where} ({query.scrub(detail)})")


def query_failed(query: SourceQuery, detail: str) -> QueryError:
    return QueryError(
        f"{query.label}: the query failed: {query.scrub(detail)}",
        hint=f"statement: {query.statement}",
    )


def canceled(query: SourceQuery) -> Canceled:
    return Canceled(f"{query.label}: the query was canceled")


def check_canceled(query: SourceQuery) -> None:
    """Raise Canceled if the unit was canceled (readers call it between batches)."""
    if query.cancel is not None and query.cancel.canceled:
        raise canceled(query)


@contextmanager
def interruptible(query: SourceQuery, interrupt: Callable[[], None]) -> Iterator[None]:
    """Within the block, canceling the unit calls ``interrupt`` at once (from the canceling
    thread) to stop the driver mid-query; raises Canceled on entry if it is canceled already.

    ``interrupt`` must be safe to call from another thread and must not raise."""
    token = query.cancel
    if token is None:
        yield
        return
    check_canceled(query)
    remove = token.on_cancel(interrupt)
    try:
        check_canceled(query)  # canceled between the check and the registration
        yield
    finally:
        remove()


def database_file(query: SourceQuery) -> Path:
    """The database file of a file-based connection (DuckDB, SQLite): ``config.path``, which
    must resolve to an existing file the project may read (``ProjectFiles``), never one
    of ingestd's own (metadata, destination)."""
    from ingestd.dataplane.readers.files import check_allowed
    from ingestd.errors import FetchNotAllowed

    path = query.required("path", "the database file")
    if not isinstance(path, str):
        raise ConnectionConfigError(f"{query.label}: config.path must be a file path")
    try:
        resolved = check_allowed(Path(path), query.files)
    except FetchNotAllowed as exc:
        raise ConnectionConfigError(f"{query.label}: {exc.message}", hint=exc.hint) from exc
    if not resolved.is_file():
        raise ConnectionConfigError(f"{query.label}: database file {path} does not exist")
    return resolved


def refused_statement(query: SourceQuery, found: str) -> QueryError:
    """The error for a query that is not exactly one read-only SELECT (file-based sources run
    nothing else: no writes, DDL, ATTACH, PRAGMA, SET, COPY or a second statement)."""
    return QueryError(
        f"{query.label}: only one read-only SELECT (or WITH ... SELECT) statement is allowed "
        f"in a {query.kind} source query; found {found}",
        hint=f"rewrite the query as a single SELECT; statement: {query.statement}",
    )
