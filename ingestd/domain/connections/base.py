"""What every typed connection body shares: unknown fields refused, secrets declared by type.

A field typed ``SecretStr`` IS the declaration that it is secret: ``secrets()`` returns those
fields (for the encrypted store and the reader), ``settings()`` every other field (stored in
plain text and shown). A URL setting may not carry a credential (``user:password@`` or a signed
query); the credential goes in the connection's secret fields instead, so it is never kept or
shown with the URL (docs/security/secrets.md).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, get_args
from urllib.parse import parse_qsl, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr

_SIGNED_QUERY = frozenset(
    {"sig", "signature", "x-amz-signature", "x-amz-security-token", "x-goog-signature", "token"}
)
_SIGNED_QUERY |= {"access_token", "password", "pwd", "key", "secret"}


def _no_credentials(value: str) -> str:
    text = value.strip()
    parts = urlsplit(text if "//" in text else f"//{text}")
    if "@" in parts.netloc:
        raise ValueError(
            "must not carry a user or password (user:password@); put the credential in the "
            "connection's secret fields"
        )
    if any(k.lower() in _SIGNED_QUERY for k, _ in parse_qsl(parts.query)):
        raise ValueError(
            "must not carry a signature, token or key in its query; put it in the "
            "connection's secret fields"
        )
    return text


def _plain_host(value: str) -> str:
    # A leading '/' or '@' is a local socket (PostgreSQL); '@' anywhere else is a credential.
    if "@" in value[1:] or "://" in value:
        raise ValueError("must be a host name or address, without a scheme or user:password@")
    return value


EndpointUrl = Annotated[str, AfterValidator(_no_credentials)]
"""An http(s) endpoint or host URL setting: never with a credential inside."""
Host = Annotated[str, AfterValidator(_plain_host)]
"""A host name, address or (PostgreSQL) socket directory; comma-separated lists allowed."""


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


class ConnectionBody(BaseModel):
    """The typed body of one kind of connection."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True
    )
    kind: ClassVar[str]

    @classmethod
    def secret_fields(cls) -> frozenset[str]:
        return frozenset(n for n, f in cls.model_fields.items() if _is_secret(f.annotation))

    def settings(self) -> dict[str, Any]:
        """The fields that are not secret, as stored and shown (JSON values, unset ones left
        out)."""
        secret = self.secret_fields()
        dumped = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        names = {n: (f.alias or n) for n, f in type(self).model_fields.items()}
        return {k: v for k, v in dumped.items() if k not in {names[s] for s in secret}}

    def secrets(self) -> dict[str, str]:
        """The secret fields that are set, in plain text: only for the encrypted store and the
        reader that connects."""
        out: dict[str, str] = {}
        for name in self.secret_fields():
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out[name] = value.get_secret_value()
        return out
