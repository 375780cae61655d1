"""Blob units: the spec of one queued blob and the rules a worker applies to it.

A blob unit carries its whole description (``blob_unit_spec``, a ``BlobUnitSpec``): the URL,
the mapping resolved at submission, read options, error policy, tags, ``ingestIfNotExists``
values and the download limits. The unit runner fetches the blob during the unit's
``downloading`` state, then loads it.

Kusto rules applied here (API-SURFACE §3.3, §3.9): JSON and Avro need a mapping
(``missing_mapping``); a blob whose ``ingest-by:`` tag another operation has loaded is skipped
(``already_ingested``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ingestd.dataplane.blobs.blob_urls import parse_blob_url, redact
from ingestd.domain.mapping import Mapping
from ingestd.domain.sources import DataFormat, ErrorPolicy, ReadOptions
from ingestd.domain.tables import TableSpec
from ingestd.domain.unit_specs import BlobUnitSpec, FetchLimits
from ingestd.errors import IngestdError, MappingMissing

REQUIRES_MAPPING = frozenset({DataFormat.JSON, DataFormat.MULTIJSON, DataFormat.AVRO})
"""API-SURFACE §3.9: JSON and Avro need a mapping on the queued path (MissingMapping)."""

_MAPPING_KINDS = {
    DataFormat.JSON: "json",
    DataFormat.MULTIJSON: "json",
    DataFormat.AVRO: "avro",
}


def blob_unit_spec(
    table: str,
    url: str,
    *,
    sealed_url: str,
    mapping: Mapping | None,
    read_options: ReadOptions,
    error_policy: ErrorPolicy,
    fetch: FetchLimits,
    tags: Sequence[str] = (),
    ingest_if_not_exists: Sequence[str] = (),
    delete_after_download: bool = False,
    duplicate_of: int | None = None,
    raw_size: int | None = None,
    upload: str | None = None,
) -> BlobUnitSpec:
    """The spec of one blob: the blob's ``url`` (the unit runner downloads it first) and
    Kusto's rules (a mapping is required for JSON and Avro; identity mapping by position for
    delimited formats, §3.9).

    ``url`` holds the redacted URL (shown, it marks a unit that carries its description); the
    whole URL, with its credential part (SAS ``sig=``, key suffix, ``user:password@``), is kept
    only encrypted, in ``sealed_url`` (``Store.secret_box``). ``upload`` names a blob of
    ingestd's own Kusto temporary storage, read in place."""
    try:
        name = parse_blob_url(url).name
    except IngestdError:
        name = "blob"
    return BlobUnitSpec(
        table=table,
        url=redact(url),
        sealed_url=sealed_url,
        input_name=name,
        mapping=mapping,
        read_options=read_options,
        error_policy=error_policy,
        fetch=fetch,
        tags=tuple(tags),
        ingest_if_not_exists=tuple(ingest_if_not_exists),
        delete_after_download=delete_after_download,
        duplicate_of=duplicate_of,
        raw_size=raw_size,
        upload=upload,
    )


class TagLedger(Protocol):
    """What ``already_ingested`` needs of a destination: its ledger's tags."""

    def tag_exists(
        self, table: TableSpec, tag: str, *, excluding_run: str | None = None
    ) -> bool: ...


def already_ingested(
    warehouse: TagLedger, table: TableSpec, spec: BlobUnitSpec, *, excluding_run: str
) -> str | None:
    """The ``ingest-by:`` tag of ``spec.ingest_if_not_exists`` that a committed load of
    another operation carried into ``table`` (no expiry, DESIGN.md "exactly-once"), or None.
    Only the table's own project's loads count: another project's tags are not seen.

    Blobs of the same operation do not skip each other: they are one ingestion. The check runs
    when the blob is about to be read, so an operation that committed in the meantime counts.
    """
    for value in spec.ingest_if_not_exists:
        tag = f"ingest-by:{value}"
        if warehouse.tag_exists(table, tag, excluding_run=excluding_run):
            return tag
    return None


def missing_mapping(data_format: DataFormat) -> MappingMissing:
    """API-SURFACE §3.9: JSON and Avro need a mapping on the queued path."""
    return MappingMissing(
        f"format {data_format.value} needs an ingestion mapping; none was given",
        hint="set ingestionMappingReference (a mapping made with .create table T ingestion "
        f"{_MAPPING_KINDS.get(data_format, data_format.value)} mapping) or ingestionMapping",
    )
