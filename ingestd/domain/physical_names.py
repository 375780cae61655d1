"""Physical schema names: one schema per (project, namespace), the same in DuckDB and PostgreSQL.

``physical_schema(project, namespace)`` is the only place a destination schema name is made.

* Readable form ``<project>__<namespace>`` when it is unambiguous: the project is lowercase,
  contains no ``__`` and does not end with ``_``, the namespace is lowercase, and the whole name
  fits in 63 bytes (PostgreSQL's identifier limit). Under those rules the first ``__`` of the
  name is the separator, so the pair can be read back: the readable forms are injective.
* Otherwise the hashed form ``<project[:20]>~<namespace[:20]>~<sha256(project NUL namespace)[:20]>``
  (at most 62 bytes). ``~`` occurs in no project name and no namespace, so a hashed form never
  equals a readable one; two hashed forms are equal only if 80 bits of SHA-256 collide.
* Lowercase-only readable forms keep DuckDB (case-insensitive identifiers) from folding two
  projects that differ only in case into one schema; such pairs get distinct hashes.
* Every form starts with the project's first character, a letter or digit, so no project
  schema can be ``_ingestd`` or the legacy schema ``_ingestd_legacy``.
"""

from __future__ import annotations

import hashlib
import re

from ingestd.errors import InvalidInput

MAX_IDENTIFIER_BYTES = 63
PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NAMESPACE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
SEPARATOR = "__"
HASH_MARK = "~"
_PART = 20
LEGACY_SCHEMA = "_ingestd_legacy"
"""Where an upgrade keeps rows whose load no project's ledger entry claims."""


def _readable(project: str, namespace: str) -> bool:
    return (
        project == project.lower()
        and namespace == namespace.lower()
        and SEPARATOR not in project
        and not project.endswith("_")
        and len(project) + len(SEPARATOR) + len(namespace) <= MAX_IDENTIFIER_BYTES
    )


def physical_schema(project: str, namespace: str) -> str:
    """The schema that holds ``project``'s tables of ``namespace`` (unquoted)."""
    if not PROJECT_NAME.match(project):
        raise InvalidInput(
            f"project name {project!r} cannot name a destination schema",
            hint="project names are letters, digits, '_', '.', '-', at most 64 characters",
        )
    if not NAMESPACE_NAME.match(namespace):
        raise InvalidInput(
            f"namespace {namespace!r} cannot name a destination schema",
            hint="use letters, digits and underscores, at most 63 characters",
        )
    if _readable(project, namespace):
        return f"{project}{SEPARATOR}{namespace}"
    digest = hashlib.sha256(f"{project}\0{namespace}".encode()).hexdigest()[:_PART]
    return f"{project[:_PART]}{HASH_MARK}{namespace[:_PART]}{HASH_MARK}{digest}"
