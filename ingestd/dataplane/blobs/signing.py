"""Request signing for object stores: AWS Signature V4 (S3, and GCS's XML API with HMAC keys)
and Azure Storage Shared Key.

Signing only adds headers to a request that ``dataplane.blobs.fetch`` sends itself, so every store
goes through the one transport that enforces the address policy, the size limit and the
timeouts. Secrets never appear in the returned URL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from email.utils import formatdate
from urllib.parse import parse_qsl, urlsplit

from ingestd.errors import ConnectionConfigError

AZURE_API_VERSION = "2021-08-06"


def sigv4_headers(
    method: str,
    url: str,
    *,
    access_key: str,
    secret_key: str,
    session_token: str | None,
    region: str,
) -> dict[str, str]:
    """The headers that sign ``method url`` with AWS Signature V4 for service ``s3``."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, headers={})
    S3SigV4Auth(Credentials(access_key, secret_key, session_token), "s3", region).add_auth(request)
    return {str(k): str(v) for k, v in request.headers.items()}


def azure_shared_key_headers(
    method: str, url: str, *, account: str, account_key: str
) -> dict[str, str]:
    """The headers that sign ``method url`` with an Azure Storage account key (Shared Key,
    version 2015-02-21 and later). For path-style URLs (Azurite and other emulators) the path
    starts with the account name, and so does the canonical resource, as Azure expects."""
    try:
        key = base64.b64decode(account_key, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConnectionConfigError(
            "the Azure account key is not base64", hint="copy the key from the storage account"
        ) from exc
    headers = {
        "x-ms-date": formatdate(usegmt=True),
        "x-ms-version": AZURE_API_VERSION,
    }
    parts = urlsplit(url)
    resource = f"/{account}{parts.path or '/'}"
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(name.lower(), []).append(value)
    for name in sorted(query):
        resource += f"\n{name}:{','.join(sorted(query[name]))}"
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()))
    # VERB, then Content-Encoding ... Range (11 standard headers, all empty for a GET/DELETE).
    to_sign = method.upper() + "\n" * 12 + canonical_headers + resource
    signature = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha256).digest())
    headers["Authorization"] = f"SharedKey {account}:{signature.decode()}"
    return headers
