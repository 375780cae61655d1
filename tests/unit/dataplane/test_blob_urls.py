"""Blob URLs: stores, buckets, keys and secrets (ingestd.dataplane.blobs.blob_urls)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestd.dataplane.blobs.blob_urls import StoreKind, parse_blob_url, redact, split_under
from ingestd.errors import ConnectionConfigError, FetchNotAllowed


@pytest.mark.parametrize(
    ("url", "kind", "bucket", "key", "extra"),
    [
        ("s3://logs/2024/a.csv.gz", StoreKind.S3, "logs", "2024/a.csv.gz", {}),
        ("https://logs.s3.amazonaws.com/a%20b.csv", StoreKind.S3, "logs", "a b.csv", {}),
        (
            "https://logs.s3.eu-west-1.amazonaws.com/a.csv",
            StoreKind.S3,
            "logs",
            "a.csv",
            {"region": "eu-west-1"},
        ),
        (
            "https://s3.us-east-2.amazonaws.com/my.logs/a.csv",
            StoreKind.S3,
            "my.logs",
            "a.csv",
            {"region": "us-east-2"},
        ),
        (
            "https://acct.blob.core.windows.net/c/dir/a.csv?sv=1&sig=x",
            StoreKind.AZURE,
            "c",
            "dir/a.csv",
            {"account": "acct"},
        ),
        (
            "https://acct.dfs.core.windows.net/c/a.parquet",
            StoreKind.AZURE,
            "c",
            "a.parquet",
            {"account": "acct"},
        ),
        (
            "abfss://c@acct.dfs.core.windows.net/dir/a.csv",
            StoreKind.AZURE,
            "c",
            "dir/a.csv",
            {"account": "acct"},
        ),
        ("gs://bkt/a/b.json", StoreKind.GCS, "bkt", "a/b.json", {}),
        ("https://storage.googleapis.com/bkt/a.json", StoreKind.GCS, "bkt", "a.json", {}),
        ("https://example.com/data/a.csv", StoreKind.HTTP, None, None, {}),
        ("https://logs.s3.amazonaws.com/a.csv?X-Amz-Signature=abc", StoreKind.HTTP, None, None, {}),
    ],
)
def test_stores_are_recognised(
    url: str, kind: StoreKind, bucket: str | None, key: str | None, extra: dict[str, str]
) -> None:
    location = parse_blob_url(url)
    assert (location.kind, location.bucket, location.key) == (kind, bucket, key)
    for field, value in extra.items():
        assert getattr(location, field) == value


def test_names_come_from_the_path() -> None:
    assert parse_blob_url("https://x.example/dir/a%20b.csv.gz?x=1").name == "a b.csv.gz"
    assert parse_blob_url("s3://b/k/people.parquet").name == "people.parquet"
    assert parse_blob_url("file:///tmp/x.csv").path == Path("/tmp/x.csv")


def test_kusto_credential_suffixes_are_split_off() -> None:
    azure = parse_blob_url("https://acct.blob.core.windows.net/c/a.csv;S2V5a2V5")
    assert (azure.url, azure.inline_secret) == (
        "https://acct.blob.core.windows.net/c/a.csv",
        "S2V5a2V5",
    )
    s3 = parse_blob_url("https://b.s3.amazonaws.com/a.csv;AwsCredentials=AKIA,shh")
    assert s3.inline_secret == "AwsCredentials=AKIA,shh"
    with pytest.raises(ConnectionConfigError):
        parse_blob_url("https://example.com/a.csv;secret")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://example.com/a.csv", FetchNotAllowed),
        ("gopher://example.com/", FetchNotAllowed),
        ("file://remote-host/etc/passwd", FetchNotAllowed),
        ("", ConnectionConfigError),
        ("https:///nohost", ConnectionConfigError),
        ("s3://bucket-only", ConnectionConfigError),
        ("abfss://acct.dfs.core.windows.net/x", ConnectionConfigError),
        ("file:relative/path", ConnectionConfigError),
    ],
)
def test_unusable_urls_are_refused(url: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_blob_url(url)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://a.blob.core.windows.net/c/x.csv?sv=2022&sig=abc%2B&se=1",
            "https://a.blob.core.windows.net/c/x.csv?sv=2022&sig=****&se=1",
        ),
        (
            "https://b.s3.amazonaws.com/x?X-Amz-Credential=AK&X-Amz-Signature=ff",
            "https://b.s3.amazonaws.com/x?X-Amz-Credential=****&X-Amz-Signature=****",
        ),
        (
            "https://a.blob.core.windows.net/c/x.csv;accountkey",
            "https://a.blob.core.windows.net/c/x.csv;****",
        ),
        ("https://user:pw@example.com/x.csv", "https://user:****@example.com/x.csv"),
        ("https://example.com/x.csv?page=2", "https://example.com/x.csv?page=2"),
    ],
)
def test_secrets_are_redacted_for_display(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_path_style_urls_under_an_endpoint() -> None:
    assert split_under("http://127.0.0.1:9000/bkt/a/b%20c.csv", "http://127.0.0.1:9000") == (
        "bkt",
        "a/b c.csv",
    )
    assert split_under("http://127.0.0.1:9000/bkt", "http://127.0.0.1:9000/") is None
    assert split_under("http://127.0.0.1:9001/bkt/a", "http://127.0.0.1:9000") is None
