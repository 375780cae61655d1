"""Validation of identifiers that become SQL names (namespaces, tables, columns)."""

from __future__ import annotations

import re

from ingestd.errors import InvalidInput

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_RESERVED_PREFIX = "_ingestd"


def check_identifier(value: str, *, what: str) -> str:
    """Return ``value`` if it is a safe SQL identifier, else raise ``InvalidInput``.

    Identifiers are quoted everywhere as well; the check keeps names portable between DuckDB and
    PostgreSQL and keeps ingestd's own bookkeeping columns (``_ingestd_*``) out of user reach.
    """
    if not _IDENTIFIER.match(value):
        raise InvalidInput(
            f"{what} {value!r} is not a valid name",
            hint="use letters, digits and underscores, start with a letter or underscore, "
            "at most 63 characters",
        )
    if value.lower().startswith(_RESERVED_PREFIX):
        raise InvalidInput(
            f"{what} {value!r} uses the reserved prefix {_RESERVED_PREFIX!r}",
            hint="pick another name",
        )
    return value


def quote(identifier: str) -> str:
    """Double-quote an identifier for SQL (DuckDB and PostgreSQL)."""
    return '"' + identifier.replace('"', '""') + '"'
