"""Kusto queued-ingestion operation ids (API-SURFACE §3.6, §5 item 30).

An operation id has the ``;``-separated form of the vendor's command examples,
``<8 hex>;<8 hex>;<guid>``: the CRC-32 of the database, the CRC-32 of the table and the id of
the ingestd run behind the operation. It is reversible (``run_id_of``) and names its target,
so an id used under another database or table is recognised as unknown. Clients treat ids as
opaque strings; in a URL path the ``;`` is percent-encoded (``%3B``).

Pure: no I/O, no third-party imports.
"""

from __future__ import annotations

import re
import uuid
import zlib

_ID = re.compile(r"^([0-9a-f]{8});([0-9a-f]{8});([0-9a-fA-F-]{36})$")


def _crc(name: str) -> str:
    return f"{zlib.crc32(name.encode('utf-8')):08x}"


def operation_id(run_id: str, database: str, table: str) -> str:
    """The operation id of run ``run_id`` ingesting into ``database.table``."""
    return f"{_crc(database)};{_crc(table)};{run_id}"


def run_id_of(value: str, database: str | None = None, table: str | None = None) -> str | None:
    """The run id inside an operation id, or None if ``value`` is not one (or names another
    database or table than the ones given)."""
    match = _ID.match(value.strip())
    if match is None:
        return None
    try:
        run_id = str(uuid.UUID(match.group(3)))
    except ValueError:
        return None
    if database is not None and match.group(1) != _crc(database):
        return None
    if table is not None and match.group(2) != _crc(table):
        return None
    return run_id
