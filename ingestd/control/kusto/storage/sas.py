"""Shared access signatures for the storage ingestd serves to the Kusto SDKs, and the
identity token (``AuthorizationContext``) the SDK puts in its ingestion messages.

A SAS is what the SDKs expect in a resource URL (a query string with ``sv``, ``sp``, ``se``,
``sr``, ``sig``); ingestd's also names the project in ``si`` (the signed identifier, one of the
parameters the Azure storage clients keep: they drop names they do not know). ``sig`` is an
HMAC-SHA256, with the server's key, of the version, project, resource, permissions and
expiry, so a SAS opens exactly one resource of one project for a limited time and with the
permissions it lists. Signatures are compared in constant time. Every refusal says only that
the SAS does not authorise the request (``AuthenticationFailed``); which part failed is not
told.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from ingestd.control.file_access import KEY_FILE
from ingestd.domain.kusto_storage import Resource
from ingestd.errors import Forbidden, Unauthenticated
from ingestd.settings import Settings

SAS_VERSION = "2023-11-03"
SAS_LIFETIME = timedelta(hours=12)
"""The SDK asks for resources again every hour; twelve hours leave it room."""
_TOKEN_PREFIX = "ingestd-ctx1"
_SI_PREFIX = "ingestd-project-"


class StorageAuthFailed(Forbidden):
    code = "STORAGE_AUTHENTICATION_FAILED"

    def __init__(self) -> None:
        super().__init__(
            "the shared access signature does not authorise this request",
            hint="run .get ingestion resources again for fresh resource URLs",
        )


class StorageUnauthenticated(Unauthenticated):
    """No SAS at all (Azure's ``NoAuthenticationInformation``, 401)."""

    def __init__(self) -> None:
        super().__init__(
            "the request carries no shared access signature",
            hint="use the resource URLs of .get ingestion resources, with their query string",
        )


def load_key(settings: Settings) -> bytes:
    """``INGESTD_KUSTO_STORAGE_KEY``, else the key file of the data directory (made once)."""
    if settings.kusto_storage_key is not None:
        return settings.kusto_storage_key.get_secret_value().encode()
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    return path.read_bytes().strip()


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    # Created 0600: the key is never readable by others, not even for an instant.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_hex(32).encode())
    try:
        # link, not rename: if another process made the key first, keep theirs.
        path.hardlink_to(partial)
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)


@dataclass(frozen=True)
class Signer:
    key: bytes
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def _sign(self, *fields: str) -> str:
        digest = hmac.new(self.key, "\n".join(fields).encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def sas(self, project_id: int, resource: Resource) -> str:
        """The query string of a SAS for one resource of the project."""
        expiry = (self.clock() + SAS_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ")
        fields = {
            "sv": SAS_VERSION,
            "sr": "c" if resource is Resource.TEMP_STORAGE else "q",
            "si": f"{_SI_PREFIX}{project_id}",
            "sp": resource.permissions,
            "se": expiry,
        }
        signature = self._sign(
            SAS_VERSION, str(project_id), resource.value, resource.permissions, expiry
        )
        return urlencode({**fields, "sig": signature})

    def check(
        self, query: Mapping[str, str], project_id: int, resource: Resource, permission: str
    ) -> None:
        """Raise ``StorageAuthFailed`` unless ``query`` holds a SAS of this project and resource
        that has not expired and allows ``permission`` (one letter);
        ``StorageUnauthenticated`` when it carries no signature at all."""
        if "sig" not in query:
            raise StorageUnauthenticated()
        try:
            version, project = query["sv"], query["si"].removeprefix(_SI_PREFIX)
            allowed, expiry, signature = query["sp"], query["se"], query["sig"]
            expires = datetime.strptime(expiry, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except (KeyError, ValueError):
            raise StorageAuthFailed() from None
        expected = self._sign(version, project, resource.value, allowed, expiry)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise StorageAuthFailed()
        if project != str(project_id) or permission not in allowed or expires <= self.clock():
            raise StorageAuthFailed()

    def identity_token(self, project_id: int) -> str:
        """The ``AuthorizationContext`` of ``.get kusto identity token``: it names the project
        and expires like a SAS."""
        expiry = str(int((self.clock() + SAS_LIFETIME).timestamp()))
        signature = self._sign(_TOKEN_PREFIX, str(project_id), expiry)
        return f"{_TOKEN_PREFIX}.{project_id}.{expiry}.{signature}"

    def check_identity_token(self, token: object, project_id: int) -> None:
        """Raise ``StorageAuthFailed`` unless ``token`` is a live identity token of the
        project (the message of one project cannot carry another's token)."""
        if not isinstance(token, str):
            raise StorageAuthFailed()
        parts = token.split(".", 3)
        if len(parts) != 4 or parts[0] != _TOKEN_PREFIX:
            raise StorageAuthFailed()
        _, project, expiry, signature = parts
        expected = self._sign(_TOKEN_PREFIX, project, expiry)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise StorageAuthFailed()
        if project != str(project_id) or not expiry.isdigit():
            raise StorageAuthFailed()
        if int(expiry) <= self.clock().timestamp():
            raise StorageAuthFailed()
