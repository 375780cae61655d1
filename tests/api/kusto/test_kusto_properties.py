"""Ingestion properties (ingestd.api.kusto.properties), without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ingestd.api.kusto.properties import parse_properties
from ingestd.control.kusto.errors import KustoBadRequest
from ingestd.domain.error_codes import kusto_request_code
from ingestd.domain.sources import DataFormat, ErrorPolicy, OnError


def test_every_property_is_read() -> None:
    parsed = parse_properties(
        {
            "Format": "TSVE",
            "ingestionMappingReference": "m",
            "ignoreFirstRecord": "True",
            "tags": '["ingest-by:a", "drop-by:b"]',
            "ingestIfNotExists": ["a"],
            "creationTime": "2024-02-29T10:00:00+02:00",
            "zipPattern": "*.tsv",
            "enableTracking": True,
            "skipBatching": "false",
            "deleteAfterDownload": False,
            "validationPolicy": {"ValidationOptions": 2, "ValidationImplications": 0},
            "TreatGzAsUncompressed": True,
        },
        context="rest",
    )
    assert (parsed.format, parsed.escape) == (DataFormat.TSV, "\\")
    assert parsed.mapping_reference == "m" and parsed.ignore_first_record
    assert parsed.tags == ("ingest-by:a", "drop-by:b")
    assert parsed.ingest_if_not_exists == ("a",)
    assert parsed.creation_time == datetime(2024, 2, 29, 8, tzinfo=UTC)
    assert parsed.zip_pattern == "*.tsv" and parsed.tracking and not parsed.skip_batching
    assert parsed.error_policy == ErrorPolicy(OnError.ABORT)
    options = parsed.read_options()
    assert (options.header, options.skip_first_record, options.escape) == (False, True, "\\")
    assert options.compression is not None and options.compression.value == "none"


def test_defaults_follow_kusto() -> None:
    parsed = parse_properties({}, context="rest")
    assert not parsed.tracking and parsed.error_policy == ErrorPolicy(OnError.CONTINUE)
    assert parsed.read_options().header is False


@pytest.mark.parametrize(
    ("properties", "code"),
    [
        ({"tags": "drop-by:x"}, "BadRequest_MalformedIngestionProperty"),
        ({"tags": [1, 2]}, "BadRequest_MalformedIngestionProperty"),
        ({"creationTime": "yesterday"}, "BadRequest_MalformedIngestionProperty"),
        ({"enableTracking": "yes"}, "BadRequest_MalformedIngestionProperty"),
        ({"format": "csv", "FORMAT": "csv"}, "BadRequest_MalformedIngestionProperty"),
        ({"format": 3}, "BadRequest_MalformedIngestionProperty"),
        ({"format": "raw"}, "BadRequest_FormatNotSupported"),
        ({"ingestionMappingType": "w3clogfile"}, "BadRequest_FormatNotSupported"),
        ({"ingestionMapping": "[]"}, "BadRequest_InvalidMapping"),
        ({"ingestionMapping": "{not json"}, "BadRequest_MalformedIngestionProperty"),
        ({"csvMapping": "[{}]", "jsonMapping": "[{}]"}, "BadRequest_DuplicateMapping"),
        (
            {"ingestionMapping": "[{}]", "ingestionMappingReference": "m"},
            "BadRequest_DuplicateMapping",
        ),
        ({"validationPolicy": '{"ValidationOptions": 3}'}, "BadRequest_MalformedIngestionProperty"),
        ({"validationPolicy": "not json"}, "BadRequest_MalformedIngestionProperty"),
        ({"validationPolicy": '{"Other": 1}'}, "BadRequest_MalformedIngestionProperty"),
        (
            {"validationPolicy": {"ValidationImplications": 2}},
            "BadRequest_MalformedIngestionProperty",
        ),
        ({"folder": "x"}, "BadRequest_IngestionPropertyNotSupportedInThisContext"),
        ({"nosuchthing": 1}, "BadRequest_MalformedIngestionProperty"),
    ],
)
def test_malformed_properties_are_refused(properties: dict[str, Any], code: str) -> None:
    with pytest.raises(KustoBadRequest) as info:
        parse_properties(properties, context="rest")
    assert kusto_request_code(info.value.code, info.value.http_status) == code


def test_delete_after_download_belongs_to_the_rest_endpoint_only() -> None:
    assert parse_properties({"deleteAfterDownload": True}, context="rest").delete_after_download
    with pytest.raises(KustoBadRequest) as info:
        parse_properties({"deleteAfterDownload": True}, context="command")
    assert (
        kusto_request_code(info.value.code, info.value.http_status)
        == "BadRequest_IngestionPropertyNotSupportedInThisContext"
    )
