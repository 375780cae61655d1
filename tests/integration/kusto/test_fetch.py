"""dataplane.blobs.fetch.download against the local HTTP server: redirects, cancel, partial
files."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from ingestd.dataplane.blobs.blob_urls import parse_blob_url
from ingestd.dataplane.blobs.egress import EgressPolicy
from ingestd.dataplane.blobs.fetch import FetchPolicy, download
from ingestd.dataplane.contract import CancelToken
from ingestd.errors import Canceled, ConnectionConfigError, FetchNotAllowed, SourceTooLarge
from tests.integration.kusto.servers import HttpServer

LOOPBACK = FetchPolicy(
    max_bytes=1 << 20,
    timeout_seconds=2.0,
    egress=EgressPolicy((ipaddress.ip_network("127.0.0.0/8"),)),
)


def test_a_blob_is_saved_as_stored_and_redirects_are_followed(
    http_blobs: HttpServer, tmp_path: Path
) -> None:
    blob = http_blobs.put("fetch/a.csv", b"x,1\n")
    via = http_blobs.url(f"/redirect?to={blob}")
    path = download(parse_blob_url(via), tmp_path, LOOPBACK, None)
    assert path.read_bytes() == b"x,1\n"


def test_redirect_chains_are_bounded(http_blobs: HttpServer, tmp_path: Path) -> None:
    url = http_blobs.put("fetch/b.csv", b"x,1\n")
    for _ in range(6):
        url = http_blobs.url(f"/redirect?to={url}")
    with pytest.raises(ConnectionConfigError, match="more than 5 redirects"):
        download(parse_blob_url(url), tmp_path, LOOPBACK, None)


def test_a_redirect_to_another_scheme_is_refused(http_blobs: HttpServer, tmp_path: Path) -> None:
    url = http_blobs.url("/redirect?to=file:///etc/passwd")
    with pytest.raises(FetchNotAllowed, match="scheme 'file'"):
        download(parse_blob_url(url), tmp_path, LOOPBACK, None)


def test_a_canceled_download_stops_and_leaves_no_file(
    http_blobs: HttpServer, tmp_path: Path
) -> None:
    http_blobs.put("fetch/c.csv", b"x,1\n" * 100_000)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Canceled):
        download(
            parse_blob_url(http_blobs.url("/stream/fetch/c.csv")), tmp_path, LOOPBACK, None, token
        )
    assert list(tmp_path.iterdir()) == []


def test_an_oversized_stream_leaves_no_partial_file(http_blobs: HttpServer, tmp_path: Path) -> None:
    http_blobs.put("fetch/d.csv", b"x,1\n" * 1_000_000)
    with pytest.raises(SourceTooLarge):
        download(parse_blob_url(http_blobs.url("/stream/fetch/d.csv")), tmp_path, LOOPBACK, None)
    assert list(tmp_path.iterdir()) == []
