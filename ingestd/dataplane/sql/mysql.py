"""MySQL and MariaDB: PyMySQL with an unbuffered (server-side streaming) cursor.

PyMySQL is asked for every value as the server's text, which ``text_rows`` casts per column and
batch (integers, unsigned 64-bit integers, floats and decimals of up to 38 digits typed; dates,
times, timestamps, enums and wider decimals as text; binary strings, BLOBs and BITs as bytes).
The session runs in UTC, so TIMESTAMP columns arrive in UTC. Canceling runs ``KILL QUERY`` for
the reading connection from a second connection.

Why PyMySQL: MySQL's own mysql-connector-python needs OpenSSL 3.2 for its C extension (Debian 12
has 3.0) and is slower than PyMySQL in pure Python; ConnectorX reads about seven times faster
but rounds DECIMAL to 10 places and panics on DECIMAL(65, 30)
(bench/sql_sources.py notes the figures).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ingestd.dataplane.sql.base import (
    Extracted,
    SourceQuery,
    interruptible,
    missing_driver,
    query_failed,
    rejected_credentials,
    unreachable,
)
from ingestd.dataplane.sql.parquet_sink import stage_batches
from ingestd.dataplane.sql.text_rows import (
    TextColumn,
    batches,
    cursor_rows,
    decimal_type,
    schema_of,
)
from ingestd.errors import SourceTimeout, UnitError

if TYPE_CHECKING:
    import pymysql

DEFAULT_PORT = 3306
CONNECT_TIMEOUT_SECONDS = 10
_AUTH_CODES = frozenset({1044, 1045, 1049, 1698, 1251})
"""Access denied (to the server or the database), unknown database, auth plugin refused."""
_UNREACHABLE_CODES = frozenset({2002, 2003, 2005, 2006, 2013, 2055})
"""Cannot connect, unknown host, server gone away, lost connection."""
_TIMEOUT_CODES = frozenset({1205, 1213})
"""Lock wait timeout, deadlock: retrying can help."""
_BINARY_CHARSET = 63


def _connect_args(query: SourceQuery, pymysql_module: Any) -> dict[str, Any]:
    ssl_ca = query.setting("ssl_ca")
    port = int(query.setting("port", DEFAULT_PORT))
    # Connect to the address the egress policy checked (never resolve the name again).
    address = query.checked_address(str(query.setting("host", "localhost")), port)
    where = {"unix_socket": address} if address.startswith(("/", "@")) else {"host": address}
    return {
        **where,
        "port": port,
        "user": query.setting("user"),
        "password": query.secret("password") or "",
        "database": query.setting("database") or query.setting("dbname"),
        "connect_timeout": int(query.setting("connect_timeout", CONNECT_TIMEOUT_SECONDS)),
        "charset": "utf8mb4",
        "init_command": "SET time_zone = '+00:00'",
        # Encoders only, no decoders: every value arrives as the server's text (or bytes).
        "conv": dict(pymysql_module.converters.encoders),
        **({"ssl": {"ca": ssl_ca}} if ssl_ca else {}),
    }


def _where(query: SourceQuery) -> str:
    return f"{query.setting('host', 'localhost')}:{query.setting('port', DEFAULT_PORT)}"


def translate(query: SourceQuery, exc: pymysql.Error) -> UnitError:
    """PyMySQL errors by MySQL error code (the first argument)."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    detail = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if code in _AUTH_CODES:
        return rejected_credentials(query, detail)
    if code in _UNREACHABLE_CODES:
        return unreachable(query, _where(query), detail)
    if code in _TIMEOUT_CODES:
        return SourceTimeout(f"{query.label}: {query.scrub(detail)}")
    return query_failed(query, detail)


def _column_type(field: Any, field_types: Any) -> pa.DataType:
    t = field.type_code
    unsigned = bool(field.flags & 32)
    if t in (field_types.TINY, field_types.SHORT, field_types.INT24, field_types.LONG):
        return pa.int64()
    if t == field_types.YEAR:
        return pa.int64()
    if t == field_types.LONGLONG:
        return pa.uint64() if unsigned else pa.int64()
    if t in (field_types.FLOAT, field_types.DOUBLE):
        return pa.float64()
    if t in (field_types.DECIMAL, field_types.NEWDECIMAL):
        scale = int(field.scale)
        precision = int(field.length) - (1 if scale > 0 else 0) - (0 if unsigned else 1)
        return decimal_type(precision, scale)
    if t in (field_types.BIT, field_types.GEOMETRY):
        return pa.binary()
    binary_strings = (
        field_types.TINY_BLOB,
        field_types.MEDIUM_BLOB,
        field_types.LONG_BLOB,
        field_types.BLOB,
        field_types.VAR_STRING,
        field_types.STRING,
        field_types.VARCHAR,
    )
    if t in binary_strings and field.charsetnr == _BINARY_CHARSET:
        return pa.binary()
    return pa.string()


def _columns(cursor: Any, field_types: Any) -> list[TextColumn]:
    fields = cursor._result.fields  # PyMySQL's field descriptors: types, flags, charsets
    return [TextColumn(f.name, _column_type(f, field_types)) for f in fields]


def read(query: SourceQuery, target_dir: Path) -> Extracted:
    try:
        import pymysql
        import pymysql.constants.FIELD_TYPE as field_types
        import pymysql.cursors
    except ImportError as exc:
        raise missing_driver("mysql", "pymysql") from exc
    args = _connect_args(query, pymysql)
    target = target_dir / "result.parquet"
    try:
        conn = pymysql.connect(**args, cursorclass=pymysql.cursors.SSCursor)
    except pymysql.Error as exc:
        raise translate(query, exc) from exc
    thread_id = conn.thread_id()

    def interrupt() -> None:
        try:
            with pymysql.connect(**args) as killer, killer.cursor() as cursor:
                cursor.execute(f"KILL QUERY {int(thread_id)}")
        except pymysql.Error:  # the server is gone or the query ended: nothing to stop
            pass

    try:
        with interruptible(query, interrupt):
            cursor = conn.cursor()
            cursor.execute(query.sql)
            columns = _columns(cursor, field_types)
            return stage_batches(
                query, target, schema_of(columns), batches(query, columns, cursor_rows(cursor))
            )
    except pymysql.Error as exc:
        raise translate(query, exc) from exc
    finally:
        # Not cursor.close(): on an unbuffered result it would read every remaining row first.
        if conn.open:
            conn.close()
