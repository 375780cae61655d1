"""Blob URLs: which store a URL names, where in it the object is, and how to show it safely.

Recognised forms (DESIGN.md "Data plane"; Kusto storage connection strings, API-SURFACE §3.3):

* ``file:///abs/path`` (only under the configured roots, checked when read);
* ``s3://bucket/key``; ``https://bucket.s3[.region].amazonaws.com/key``,
  ``https://s3[.region].amazonaws.com/bucket/key``; Kusto's ``;AwsCredentials=ID,SECRET`` suffix;
* ``https://account.blob.core.windows.net/container/path`` (and ``.dfs.``), ``abfss://`` and
  ``wasbs://container@account...``; a SAS in the query or Kusto's ``;<account key>`` suffix;
* ``gs://bucket/object``, ``https://storage.googleapis.com/bucket/object``;
* any other ``http(s)`` URL. Presigned S3/GCS URLs stay plain HTTP (they carry their signature).

Anything else is refused (``FetchNotAllowed``); a URL that cannot be parsed is
``ConnectionConfigError`` (Kusto ``BadRequest_InvalidBlobUri``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit
from urllib.request import url2pathname

from ingestd.errors import ConnectionConfigError, FetchNotAllowed


class StoreKind(StrEnum):
    HTTP = "http"
    S3 = "s3"
    AZURE = "adls"
    GCS = "gcs"
    FILE = "file"


_S3_VIRTUAL = re.compile(r"^(?P<bucket>.+)\.s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com$")
_S3_PATH = re.compile(r"^s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com$")
_AZURE = re.compile(r"^(?P<account>[a-z0-9]{3,24})\.(?:blob|dfs)\.core\.windows\.net$")
_GCS_HOSTS = frozenset({"storage.googleapis.com", "storage.cloud.google.com"})
_SECRET_QUERY = frozenset(
    {
        "sig",
        "x-amz-signature",
        "x-amz-security-token",
        "x-amz-credential",
        "x-goog-signature",
        "x-goog-credential",
        "token",
        "access_token",
    }
)
_PRESIGNED = frozenset({"x-amz-signature", "x-goog-signature"})


@dataclass(frozen=True)
class BlobLocation:
    """Where one blob is. ``url`` keeps any secret it was given and is never shown."""

    kind: StoreKind
    url: str
    bucket: str | None = None
    """S3 and GCS bucket, Azure container."""
    key: str | None = None
    """Object key or blob path inside the bucket (not percent-encoded)."""
    account: str | None = None
    """Azure storage account."""
    region: str | None = None
    inline_secret: str | None = None
    """Kusto's ``;...`` suffix: an Azure account key or ``AwsCredentials=ID,SECRET``."""
    path: Path | None = None
    """``file://`` URLs: the local path."""

    @property
    def name(self) -> str:
        """The blob's file name, for format detection and per-file counts."""
        if self.path is not None:
            return self.path.name
        if self.key:
            return PurePosixPath(self.key).name or self.key
        return PurePosixPath(unquote(urlsplit(self.url).path)).name or "blob"

    @property
    def has_query_signature(self) -> bool:
        """A SAS or presigned URL: it authenticates itself."""
        names = {k.lower() for k, _ in parse_qsl(urlsplit(self.url).query)}
        return "sig" in names or bool(names & _PRESIGNED)

    def with_store(self, kind: StoreKind, **fields: str | None) -> BlobLocation:
        return replace(self, kind=kind, **fields)  # type: ignore[arg-type]


def redact(url: str) -> str:
    """The URL with its secrets replaced by ``****`` (SAS signatures, tokens, key suffixes):
    what status pages and logs show."""
    base, sep, _secret = url.partition(";")
    parts = urlsplit(base)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k.lower() in _SECRET_QUERY for k, _ in query):
        shown = [(k, "****" if k.lower() in _SECRET_QUERY else v) for k, v in query]
        base = urlunsplit(parts._replace(query=urlencode(shown, safe="*:/")))
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":****@")
        base = urlunsplit(urlsplit(base)._replace(netloc=netloc))
    return base + (";****" if sep else "")


def parse_blob_url(url: str) -> BlobLocation:
    """Classify ``url``; raises ``FetchNotAllowed`` for other schemes and
    ``ConnectionConfigError`` for a URL that cannot name a blob."""
    text = url.strip()
    if not text:
        raise ConnectionConfigError("the blob URL is empty")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise ConnectionConfigError(f"the blob URL {redact(text)!r} is not valid: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme == "file":
        return _file(text, parts.netloc, parts.path)
    if scheme in ("s3", "gs"):
        # The ';' suffix is a credential, never part of the key (or of the name shown).
        base, _, secret = text.partition(";")
        parts = urlsplit(base)
        bucket, key = parts.netloc, unquote(parts.path.lstrip("/"))
        if not bucket or not key:
            raise ConnectionConfigError(f"{redact(text)} names no {scheme}://bucket/key")
        kind = StoreKind.S3 if scheme == "s3" else StoreKind.GCS
        return BlobLocation(kind, base, bucket=bucket, key=key, inline_secret=secret or None)
    if scheme in ("abfs", "abfss", "wasb", "wasbs"):
        return _azure_scheme(text)
    if scheme not in ("http", "https"):
        raise FetchNotAllowed(
            f"blob URL scheme {scheme or '(none)'!r} is not allowed",
            hint="use https://, http://, s3://, gs://, abfss:// or file://",
        )
    if not parts.hostname:
        raise ConnectionConfigError(f"the blob URL {redact(text)!r} has no host")
    return _web(text)


def _file(text: str, netloc: str, path: str) -> BlobLocation:
    if netloc not in ("", "localhost"):
        raise FetchNotAllowed(f"file URL {text!r} names a remote host {netloc!r}")
    local = Path(url2pathname(path))
    if not local.is_absolute():
        raise ConnectionConfigError(f"file URL {text!r} needs an absolute path (file:///...)")
    return BlobLocation(StoreKind.FILE, text, path=local)


def _azure_scheme(text: str) -> BlobLocation:
    base, _, secret = text.partition(";")
    parts = urlsplit(base)
    container, at, host = parts.netloc.rpartition("@")
    match = _AZURE.match(host.lower())
    if not at or not container or match is None:
        raise ConnectionConfigError(
            f"{redact(text)} is not container@account.dfs.core.windows.net/path"
        )
    key = unquote(parts.path.lstrip("/"))
    if not key:
        raise ConnectionConfigError(f"{redact(text)} names no blob path")
    account = match.group("account")
    https = urlunsplit(
        ("https", f"{account}.blob.core.windows.net", f"/{container}/{quote(key)}", parts.query, "")
    )
    return BlobLocation(
        StoreKind.AZURE,
        https,
        bucket=container,
        key=key,
        account=account,
        inline_secret=secret or None,
    )


def _first_and_rest(segments: str, text: str, names: str) -> tuple[str, str]:
    """A path-style URL's first segment (the container or bucket) and the rest (the blob or
    key), both required: else ``text`` "names no ``names``"."""
    first, _, rest = segments.partition("/")
    if not first or not rest:
        raise ConnectionConfigError(f"{redact(text)} names no {names}")
    return first, rest


def _web(text: str) -> BlobLocation:
    base, _, secret = text.partition(";")
    parts = urlsplit(base)
    host = (parts.hostname or "").lower()
    segments = unquote(parts.path).lstrip("/")
    location = BlobLocation(StoreKind.HTTP, base if secret else text)
    if location.has_query_signature and not (_AZURE.match(host)):
        return location  # presigned S3 or GCS: plain HTTP
    if (match := _AZURE.match(host)) is not None:
        container, key = _first_and_rest(segments, text, "container/blob")
        return location.with_store(
            StoreKind.AZURE,
            bucket=container,
            key=key,
            account=match.group("account"),
            inline_secret=secret or None,
        )
    if (match := _S3_VIRTUAL.match(host)) is not None:
        if not segments:
            raise ConnectionConfigError(f"{redact(text)} names no object key")
        return location.with_store(
            StoreKind.S3,
            bucket=match.group("bucket"),
            key=segments,
            region=match.group("region"),
            inline_secret=secret or None,
        )
    if (match := _S3_PATH.match(host)) is not None:
        bucket, key = _first_and_rest(segments, text, "bucket/key")
        return location.with_store(
            StoreKind.S3,
            bucket=bucket,
            key=key,
            region=match.group("region"),
            inline_secret=secret or None,
        )
    if host in _GCS_HOSTS or host.endswith(".storage.googleapis.com"):
        if host.endswith(".storage.googleapis.com"):
            bucket, key = host.removesuffix(".storage.googleapis.com"), segments
        else:
            bucket, _, key = segments.partition("/")
        if not bucket or not key:
            raise ConnectionConfigError(f"{redact(text)} names no bucket/object")
        return location.with_store(StoreKind.GCS, bucket=bucket, key=key)
    if secret:
        raise ConnectionConfigError(
            f"{redact(text)}: a ';' credential suffix is only understood on Azure and S3 URLs"
        )
    return location


def split_under(url: str, endpoint: str) -> tuple[str, str] | None:
    """For a path-style URL under ``endpoint`` (e.g. a local S3 or Azure emulator):
    (first path segment, rest), decoded; None if ``url`` is not under it."""
    base = endpoint.rstrip("/") + "/"
    plain = url.partition("?")[0]
    if not plain.startswith(base):
        return None
    first, _, rest = unquote(plain[len(base) :]).partition("/")
    return (first, rest) if first and rest else None
