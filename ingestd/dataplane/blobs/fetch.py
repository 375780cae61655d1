"""Download one blob to a local file: the only place ingestd reads a blob over the network.

Contract:

* Every store (plain HTTP(S), S3, Azure Blob / ADLS, GCS) goes through one HTTP transport that
  resolves the host, checks every address against the ``EgressPolicy`` and connects to a
  checked address (TLS still verifies the host name). Each redirect is checked the same way
  (at most ``MAX_REDIRECTS``), and credentials are dropped when a redirect leaves the origin.
* The download is streamed to disk as stored (no transfer decoding) and stops at
  ``max_bytes``; a larger blob fails with ``SourceTooLarge`` before or while it is read.
* ``file://`` URLs are read in place, only under the configured roots.
* Failures are translated here, once: 404/410 ``SourceNotFound``, 401 and rejected signatures
  ``AuthenticationError``, other 403 ``SourceForbidden``, 408/429/5xx, resets and refused
  connections ``ConnectionFailure`` and time-outs ``SourceTimeout`` (both Transient), other 4xx
  ``ConnectionConfigError``, a refused address or scheme ``FetchNotAllowed``.
* Messages show URLs with their secrets redacted.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

from ingestd.dataplane.blobs.blob_urls import BlobLocation, StoreKind, redact
from ingestd.dataplane.blobs.egress import EgressPolicy
from ingestd.dataplane.blobs.signing import (
    AZURE_API_VERSION,
    azure_shared_key_headers,
    sigv4_headers,
)
from ingestd.dataplane.contract import CancelToken
from ingestd.dataplane.readers.files import check_allowed
from ingestd.domain.file_access import NO_FILES, ProjectFiles
from ingestd.errors import (
    AuthenticationError,
    Canceled,
    ConnectionConfigError,
    ConnectionFailure,
    FetchNotAllowed,
    SourceForbidden,
    SourceNotFound,
    SourceTimeout,
    SourceTooLarge,
    UnitError,
)

log = logging.getLogger("ingestd.fetch")

MAX_REDIRECTS = 5
_ERROR_BODY_BYTES = 4096
_AUTH_FAILURES = frozenset(
    {
        "AuthenticationFailed",  # Azure
        "SignatureDoesNotMatch",  # S3, GCS
        "InvalidAccessKeyId",
        "InvalidToken",
        "ExpiredToken",
        "AccessDeniedInvalidCredentials",
    }
)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class FetchPolicy:
    """The limits every download obeys (settings ``blob_max_bytes``, ``fetch_timeout_seconds``,
    ``fetch_allowed_networks``) and, for ``file://``, the file policy of the unit's project."""

    max_bytes: int
    timeout_seconds: float
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    files: ProjectFiles = NO_FILES


@dataclass(frozen=True)
class StoreAccess:
    """How to reach one store: an endpoint override (emulators, other regions) and secrets.

    ``secrets`` by kind: S3 ``access_key_id``, ``secret_access_key``, ``session_token``; Azure
    ``account_key`` or ``sas``; GCS ``hmac_access_id`` and ``hmac_secret``, or
    ``access_token``. Without secrets requests are anonymous (public buckets, SAS URLs).
    """

    kind: StoreKind
    endpoint: str | None = None
    region: str | None = None
    secrets: dict[str, Any] = field(default_factory=dict)
    connection: str | None = None
    """The connection it came from, for messages."""


@dataclass(frozen=True)
class _Plan:
    url: str
    headers: dict[str, str]


def download(
    location: BlobLocation,
    target_dir: Path,
    policy: FetchPolicy,
    access: StoreAccess | None,
    cancel: CancelToken | None = None,
) -> Path:
    """Fetch the blob into ``target_dir`` (or, for ``file://``, check it) and return the path
    to read. Raises a ``UnitError`` subclass (see the module contract), or ``Canceled`` once
    ``cancel`` is set (checked between chunks)."""
    if location.kind is StoreKind.FILE:
        return _local(location, policy)
    plan = _plan("GET", location, access)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / (_SAFE_NAME.sub("_", location.name)[-120:] or "blob")
    _transfer(plan, target, policy, shown=redact(location.url), cancel=cancel)
    return target


def delete(location: BlobLocation, policy: FetchPolicy, access: StoreAccess | None) -> None:
    """Delete the blob at its source (``deleteAfterDownload``). A blob already gone is fine."""
    if location.kind is StoreKind.FILE:
        assert location.path is not None
        check_allowed(location.path, policy.files).unlink(missing_ok=True)
        return
    plan = _plan("DELETE", location, access)
    with _client(policy) as client:
        response = _send(client, "DELETE", plan.url, plan.headers, policy, redact(location.url))
        try:
            if response.status_code not in (404, 410) and response.status_code >= 300:
                raise error_for_status(response, redact(location.url))
        finally:
            response.close()


# -- local files ------------------------------------------------------------------------------


def _local(location: BlobLocation, policy: FetchPolicy) -> Path:
    assert location.path is not None
    path = check_allowed(location.path, policy.files)
    if not path.is_file():
        raise SourceNotFound(f"{location.url}: no such file")
    size = path.stat().st_size
    if size > policy.max_bytes:
        raise SourceTooLarge(
            f"{location.url} is {size} bytes, over the limit of {policy.max_bytes}",
            hint="raise INGESTD_BLOB_MAX_BYTES or split the file",
        )
    return path


# -- request plans per store ------------------------------------------------------------------


def _plan(method: str, location: BlobLocation, access: StoreAccess | None) -> _Plan:
    match location.kind:
        case StoreKind.S3:
            return _s3(method, location, access)
        case StoreKind.AZURE:
            return _azure(method, location, access)
        case StoreKind.GCS:
            return _gcs(method, location, access)
        case _:
            return _Plan(location.url, {})


def _object_path(bucket: str | None, key: str | None) -> str:
    assert bucket is not None and key is not None
    return f"{quote(bucket, safe='')}/{quote(key, safe='/~')}"


def _s3(method: str, location: BlobLocation, access: StoreAccess | None) -> _Plan:
    region = (access.region if access else None) or location.region or "us-east-1"
    if access is not None and access.endpoint:
        url = f"{access.endpoint.rstrip('/')}/{_object_path(location.bucket, location.key)}"
    elif location.bucket and "." not in location.bucket:
        url = f"https://{location.bucket}.s3.{region}.amazonaws.com/" + quote(
            location.key or "", safe="/~"
        )
    else:  # dotted bucket names break virtual-host TLS: path style
        url = f"https://s3.{region}.amazonaws.com/{_object_path(location.bucket, location.key)}"
    secrets = dict(access.secrets) if access else {}
    if location.inline_secret:
        secrets = _aws_inline(location.inline_secret)
    key_id, secret = secrets.get("access_key_id"), secrets.get("secret_access_key")
    if not key_id or not secret:
        return _Plan(url, {})
    headers = sigv4_headers(
        method,
        url,
        access_key=str(key_id),
        secret_key=str(secret),
        session_token=secrets.get("session_token"),
        region=region,
    )
    return _Plan(url, headers)


def _aws_inline(suffix: str) -> dict[str, Any]:
    name, _, value = suffix.partition("=")
    key_id, _, secret = value.partition(",")
    if name.strip().lower() != "awscredentials" or not key_id or not secret:
        raise ConnectionConfigError(
            "an S3 URL's ';' suffix must be AwsCredentials=ACCESS_KEY_ID,SECRET_ACCESS_KEY",
            hint="or use a connection of kind s3",
        )
    return {"access_key_id": key_id.strip(), "secret_access_key": secret.strip()}


def _azure(method: str, location: BlobLocation, access: StoreAccess | None) -> _Plan:
    assert location.account is not None
    query = urlsplit(location.url).query
    if access is not None and access.endpoint:
        base = access.endpoint.rstrip("/")
    else:
        base = f"https://{location.account}.blob.core.windows.net"
    url = f"{base}/{_object_path(location.bucket, location.key)}"
    secrets = dict(access.secrets) if access else {}
    headers = {"x-ms-version": AZURE_API_VERSION}
    if query:  # a SAS in the URL authenticates itself
        return _Plan(f"{url}?{query}", headers)
    if location.inline_secret:
        secrets = {"account_key": location.inline_secret}
    if secrets.get("sas"):
        return _Plan(f"{url}?{str(secrets['sas']).lstrip('?')}", headers)
    if secrets.get("account_key"):
        headers = azure_shared_key_headers(
            method, url, account=location.account, account_key=str(secrets["account_key"])
        )
    return _Plan(url, headers)


def _gcs(method: str, location: BlobLocation, access: StoreAccess | None) -> _Plan:
    base = (access.endpoint if access else None) or "https://storage.googleapis.com"
    url = f"{base.rstrip('/')}/{_object_path(location.bucket, location.key)}"
    secrets = dict(access.secrets) if access else {}
    if secrets.get("hmac_access_id") and secrets.get("hmac_secret"):
        # GCS's XML API accepts AWS Signature V4 made with HMAC keys (region "auto").
        headers = sigv4_headers(
            method,
            url,
            access_key=str(secrets["hmac_access_id"]),
            secret_key=str(secrets["hmac_secret"]),
            session_token=None,
            region="auto",
        )
        return _Plan(url, headers)
    if secrets.get("access_token"):
        return _Plan(url, {"Authorization": f"Bearer {secrets['access_token']}"})
    return _Plan(url, {})


# -- the transport ----------------------------------------------------------------------------


def _client(policy: FetchPolicy) -> httpx.Client:
    # trust_env=False: no proxy from the environment may carry a request around the policy.
    return httpx.Client(
        timeout=httpx.Timeout(policy.timeout_seconds), follow_redirects=False, trust_env=False
    )


def _send(
    client: httpx.Client,
    method: str,
    url: str,
    headers: dict[str, str],
    policy: FetchPolicy,
    shown: str,
) -> httpx.Response:
    """Send one request to a checked address of the URL's host; the response streams."""
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ConnectionConfigError(f"{shown} is not a valid URL: {exc}") from exc
    if target.scheme not in ("http", "https"):
        raise FetchNotAllowed(f"{shown}: a redirect to scheme {target.scheme!r} is not allowed")
    port = target.port or (443 if target.scheme == "https" else 80)
    address = policy.egress.resolve(target.host, port)[0]
    pinned = target.copy_with(host=str(address))
    sent = {**headers, "Host": target.netloc.decode("ascii"), "Accept-Encoding": "identity"}
    extensions: dict[str, Any] = {}
    if target.scheme == "https":
        extensions["sni_hostname"] = target.host
    request = client.build_request(method, pinned, headers=sent, extensions=extensions)
    try:
        return client.send(request, stream=True)
    except httpx.TimeoutException as exc:
        raise SourceTimeout(f"{shown}: no answer within {policy.timeout_seconds:g}s") from exc
    except httpx.UnsupportedProtocol as exc:
        raise FetchNotAllowed(f"{shown}: {exc}") from exc
    except httpx.TransportError as exc:
        raise ConnectionFailure(f"{shown}: {type(exc).__name__}: {exc}") from exc


def _transfer(
    plan: _Plan, target: Path, policy: FetchPolicy, *, shown: str, cancel: CancelToken | None
) -> None:
    url, headers = plan.url, dict(plan.headers)
    with _client(policy) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            response = _send(client, "GET", url, headers, policy, shown)
            try:
                if response.is_redirect and "location" in response.headers:
                    following = urljoin(url, response.headers["location"])
                    if _origin(following) != _origin(url):
                        headers = {
                            k: v
                            for k, v in headers.items()
                            if k.lower() != "authorization"
                            and not k.lower().startswith(("x-amz-", "x-ms-"))
                        }
                    url = following
                    continue
                if response.status_code >= 300:
                    raise error_for_status(response, shown)
                _save(response, target, policy, shown, cancel)
                return
            finally:
                response.close()
    raise ConnectionConfigError(f"{shown}: more than {MAX_REDIRECTS} redirects")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _save(
    response: httpx.Response,
    target: Path,
    policy: FetchPolicy,
    shown: str,
    cancel: CancelToken | None,
) -> None:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > policy.max_bytes:
        raise _too_large(shown, f"{declared} bytes", policy)
    partial = target.with_name(target.name + ".part")
    written, complete = 0, False
    try:
        with partial.open("wb") as out:
            # The chunks as the network gives them: re-chunking (iter_raw(size)) copies every
            # byte twice more (bench.kusto_service_path), and a cancel is seen as soon as the
            # next bytes arrive, however slowly the store sends them.
            for chunk in response.iter_raw():
                if cancel is not None and cancel.canceled:
                    raise Canceled(f"{shown}: canceled after {written} bytes")
                written += len(chunk)
                if written > policy.max_bytes:
                    raise _too_large(shown, f"more than {policy.max_bytes} bytes", policy)
                out.write(chunk)
        partial.replace(target)
        complete = True
    except httpx.TimeoutException as exc:
        raise SourceTimeout(f"{shown}: the download stalled after {written} bytes") from exc
    except httpx.TransportError as exc:
        raise ConnectionFailure(
            f"{shown}: the connection broke after {written} bytes ({type(exc).__name__})"
        ) from exc
    finally:
        if not complete:
            partial.unlink(missing_ok=True)


def _too_large(shown: str, size: str, policy: FetchPolicy) -> SourceTooLarge:
    return SourceTooLarge(
        f"{shown} is {size}, over the download limit of {policy.max_bytes} bytes",
        hint="raise INGESTD_BLOB_MAX_BYTES or split the blob",
    )


def error_for_status(response: httpx.Response, shown: str) -> UnitError:
    """The ingestd error for a non-success answer of a store (see the module contract)."""
    status = response.status_code
    code = response.headers.get("x-ms-error-code") or _xml_code(response)
    said = f"{shown}: HTTP {status}" + (f" {code}" if code else "")
    if status in (404, 410):
        return SourceNotFound(f"{said}: the blob does not exist")
    if status == 401 or (status == 403 and code in _AUTH_FAILURES):
        return AuthenticationError(
            f"{said}: the storage rejected the credentials",
            hint="check the SAS, key or connection secrets",
        )
    if status == 403:
        return SourceForbidden(f"{said}: access denied", hint="grant read access to the blob")
    if status in (408, 429) or status >= 500:
        return ConnectionFailure(f"{said}: the storage failed; will retry")
    return ConnectionConfigError(f"{said}: the storage refused the request")


def _xml_code(response: httpx.Response) -> str | None:
    """S3 and GCS put their error code in an XML body; read a little of it."""
    body = b""
    try:
        for chunk in response.iter_raw(_ERROR_BODY_BYTES):
            body += chunk
            if len(body) >= _ERROR_BODY_BYTES:
                break
    except httpx.HTTPError:
        return None
    match = re.search(rb"<Code>([A-Za-z]+)</Code>", body)
    return match.group(1).decode() if match else None
