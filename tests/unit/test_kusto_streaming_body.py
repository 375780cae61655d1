"""The body of a Kusto streaming request: gzip inflated with the streaming bound, never
further; plain bodies taken as they are; the status table's ``$filter`` subset."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestd.control.kusto.storage.status_table import EntityFilter, parse_filter
from ingestd.control.kusto.streaming import (
    StreamingBodyInvalid,
    StreamingPayloadTooLarge,
    decode_body,
    gunzip_bounded,
)
from ingestd.errors import InvalidInput


@given(st.lists(st.binary(max_size=2000), min_size=1, max_size=4))
def test_gzip_members_inflate_to_their_concatenation(parts: list[bytes]) -> None:
    body = b"".join(gzip.compress(p) for p in parts)
    assert gunzip_bounded(body, 10_000) == b"".join(parts)


def test_a_bomb_stops_at_the_bound() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB on the wire
    with pytest.raises(StreamingPayloadTooLarge):
        gunzip_bounded(bomb, 1_000_000)


def test_exactly_the_bound_is_accepted() -> None:
    assert len(gunzip_bounded(gzip.compress(b"x" * 1000), 1000)) == 1000
    with pytest.raises(StreamingPayloadTooLarge):
        gunzip_bounded(gzip.compress(b"x" * 1001), 1000)


def test_truncated_and_corrupt_gzip_are_refused() -> None:
    body = gzip.compress(b"a,1\n" * 100)
    with pytest.raises(StreamingBodyInvalid):
        decode_body(body[:-10], gzip=True)
    with pytest.raises(StreamingBodyInvalid):
        decode_body(body[:10] + b"garbage" + body[17:], gzip=True)


def test_plain_bodies_and_unmarked_gzip() -> None:
    assert decode_body(b"a,1\n", gzip=True) == b"a,1\n"  # marked gzip, not gzip: as it is
    packed = gzip.compress(b"a,1\n")
    assert decode_body(packed, gzip=False) == packed  # not marked: not inflated
    with pytest.raises(StreamingPayloadTooLarge):
        decode_body(b"x" * 11, gzip=False, limit=10)


def test_filters_on_the_keys() -> None:
    assert parse_filter(None) == EntityFilter()
    assert parse_filter("PartitionKey eq 'a'") == EntityFilter("a", None)
    assert parse_filter("RowKey eq 'it''s' and PartitionKey eq 'p'") == EntityFilter("p", "it's")
    for refused in (
        "Status eq 'x'",
        "PartitionKey gt 'a'",
        "PartitionKey eq 'a' or RowKey eq 'b'",
        "PartitionKey eq 'a' and PartitionKey eq 'b'",
    ):
        with pytest.raises(InvalidInput):
            parse_filter(refused)
