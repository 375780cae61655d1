"""Bodies of the file and object-store connection kinds (``control/kusto/blob_access.py``,
``dataplane/blobs/fetch.py`` read them)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from ingestd.domain.connections.base import ConnectionBody, EndpointUrl


class FileConnection(ConnectionBody):
    """A directory the project may read (its own files directory or a granted one)."""

    kind: ClassVar[str] = "file"
    root: str = Field(min_length=1)
    allow_delete: bool | None = None
    """Kusto ``deleteAfterDownload`` may delete files under ``root``."""


class S3Connection(ConnectionBody):
    """Amazon S3 or an S3-compatible store; without keys, requests are anonymous."""

    kind: ClassVar[str] = "s3"
    endpoint_url: EndpointUrl | None = None
    region: str | None = None
    buckets: list[str] | None = None
    allow_delete: bool | None = None
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None


class GCSConnection(ConnectionBody):
    """Google Cloud Storage: HMAC keys or an OAuth access token."""

    kind: ClassVar[str] = "gcs"
    endpoint_url: EndpointUrl | None = None
    buckets: list[str] | None = None
    allow_delete: bool | None = None
    hmac_access_id: SecretStr | None = None
    hmac_secret: SecretStr | None = None
    access_token: SecretStr | None = None


class ADLSConnection(ConnectionBody):
    """Azure Blob Storage / ADLS Gen2: an account key or a SAS."""

    kind: ClassVar[str] = "adls"
    account: str = Field(min_length=1)
    endpoint: EndpointUrl | None = None
    containers: list[str] | None = None
    allow_delete: bool | None = None
    account_key: SecretStr | None = None
    sas: SecretStr | None = None
