"""Kusto ingestion properties (API-SURFACE §3.3, K8) to ``IngestionProperties``.

Accepted names (case-insensitive): ``format``, ``ingestionMappingReference``,
``ingestionMapping`` (and the deprecated ``csvMapping``, ``jsonMapping``, ``avroMapping``),
``ingestionMappingType``, ``ignoreFirstRecord``, ``tags``, ``ingestIfNotExists``,
``creationTime``, ``zipPattern``, ``enableTracking``, ``skipBatching``, ``validationPolicy``,
``TreatGzAsUncompressed`` and, on the REST endpoint only, ``deleteAfterDownload``.

* ``tags`` and ``ingestIfNotExists`` are an array or a JSON-encoded array (§5 item 31).
* ``ingestionMapping`` is a JSON string (or the array itself); with ``ingestionMappingReference``
  too it is ``BadRequest_DuplicateMapping``.
* ``validationPolicy`` (JSON string or object): ``ValidationImplications`` 1 (BestEffort, the
  default) keeps a blob's good rows and quarantines the bad ones (the blob Succeeds);
  0 (Fail) fails the blob at its first bad row and loads nothing of it. ``ValidationOptions``
  (0, 1, 2) is checked and recorded; ingestd validates every row whatever it says.
* Booleans may be JSON booleans or the strings ``true``/``false`` (command properties).
* Properties for other commands (``extend_schema``, ``folder``, ...) are refused with
  ``BadRequest_IngestionPropertyNotSupportedInThisContext``; unknown names and bad values with
  ``BadRequest_MalformedIngestionProperty``; unsupported formats with
  ``BadRequest_FormatNotSupported``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from ingestd.control.kusto.queued import IngestionProperties
from ingestd.domain.sources import DataFormat, ErrorPolicy, OnError
from ingestd.errors import (
    DuplicateMapping,
    InvalidMapping,
    InvalidProperty,
    PropertyNotSupported,
    UnsupportedFormat,
)

Context = Literal["rest", "command"]

_FORMATS: dict[str, tuple[DataFormat, str | None]] = {
    "csv": (DataFormat.CSV, None),
    "tsv": (DataFormat.TSV, None),
    "tsve": (DataFormat.TSV, "\\"),
    "psv": (DataFormat.PSV, None),
    "scsv": (DataFormat.SCSV, None),
    "txt": (DataFormat.TXT, None),
    "json": (DataFormat.JSON, None),
    "multijson": (DataFormat.MULTIJSON, None),
    "parquet": (DataFormat.PARQUET, None),
    "avro": (DataFormat.AVRO, None),
    "apacheavro": (DataFormat.AVRO, None),
    "orc": (DataFormat.ORC, None),
}
_MAPPING_TYPES = {"csv", "json", "avro", "apacheavro", "parquet", "orc"}
_INLINE_MAPPINGS = {
    "ingestionmapping": None,
    "csvmapping": "csv",
    "jsonmapping": "json",
    "avromapping": "avro",
}
_KNOWN = {
    "format",
    "ingestionmappingreference",
    "ingestionmappingtype",
    "ignorefirstrecord",
    "tags",
    "ingestifnotexists",
    "creationtime",
    "zippattern",
    "enabletracking",
    "skipbatching",
    "deleteafterdownload",
    "validationpolicy",
    "treatgzasuncompressed",
    *_INLINE_MAPPINGS,
}
_OTHER_CONTEXTS = {
    "extend_schema",
    "recreate_schema",
    "folder",
    "policy_ingestiontime",
    "persistdetails",
    "distributed",
}


def _malformed(name: str, why: str) -> InvalidProperty:
    return InvalidProperty(
        f"ingestion property {name!r} {why}",
    )


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _malformed(name, f"must be true or false, not {value!r}")


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _malformed(name, "must be a non-empty string")
    return value.strip()


def _json(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise _malformed(name, f"is not valid JSON ({exc.msg} at {exc.pos})") from exc


def _strings(name: str, value: Any) -> tuple[str, ...]:
    items = _json(name, value)
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise _malformed(name, 'must be an array of strings, e.g. ["ingest-by:2024-03-01"]')
    return tuple(items)


def _format(value: Any) -> tuple[DataFormat, str | None]:
    text = _text("format", value).lower()
    if text not in _FORMATS:
        raise UnsupportedFormat(
            f"format {value!r} is not supported",
            hint=f"use one of {', '.join(sorted(_FORMATS))}",
        )
    return _FORMATS[text]


def _creation_time(value: Any) -> datetime:
    text = _text("creationTime", value)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _malformed("creationTime", f"is not an ISO-8601 datetime: {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _validation_policy(value: Any) -> ErrorPolicy:
    policy = _json("validationPolicy", value)
    if not isinstance(policy, dict):
        raise _malformed("validationPolicy", 'must be {"ValidationOptions", ...} as JSON')
    unknown = set(policy) - {"ValidationOptions", "ValidationImplications"}
    if unknown:
        raise _malformed("validationPolicy", f"has unknown fields {sorted(unknown)}")
    options = policy.get("ValidationOptions", 1)
    implications = policy.get("ValidationImplications", 1)
    if options not in (0, 1, 2):
        raise _malformed("validationPolicy", "ValidationOptions must be 0, 1 or 2")
    if implications not in (0, 1):
        raise _malformed(
            "validationPolicy", "ValidationImplications must be 0 (Fail) or 1 (BestEffort)"
        )
    return ErrorPolicy(OnError.ABORT if implications == 0 else OnError.CONTINUE)


def _mapping_elements(name: str, value: Any) -> list[Any]:
    elements = _json(name, value)
    if not isinstance(elements, list) or not elements:
        raise InvalidMapping(f"{name} must be a non-empty JSON array of mapping elements")
    return elements


def parse_properties(raw: Mapping[str, Any], *, context: Context) -> IngestionProperties:
    """Validate ``raw``; raises an ``InvalidInput`` of a named kind (``InvalidProperty`` ...)
    naming the property at fault."""
    given: dict[str, tuple[str, Any]] = {}
    for name, value in raw.items():
        key = name.lower()
        if key in given:
            raise _malformed(name, f"is given twice (as {given[key][0]!r} too)")
        if key in _OTHER_CONTEXTS or (key == "deleteafterdownload" and context != "rest"):
            raise PropertyNotSupported(
                f"ingestion property {name!r} does not apply to queued ingestion here"
            )
        if key not in _KNOWN:
            raise _malformed(name, "is not a known ingestion property")
        given[key] = (name, value)
    values = {key: value for key, (_, value) in given.items()}
    inline = [(given[k][0], kind) for k, kind in _INLINE_MAPPINGS.items() if k in given]
    if len(inline) > 1 or (inline and "ingestionmappingreference" in values):
        raise DuplicateMapping(
            "more than one mapping was given (ingestionMapping and ingestionMappingReference, "
            "or two inline mappings)",
            hint="give exactly one of them",
        )
    fields: dict[str, Any] = {"raw": dict(raw)}
    if "format" in values:
        fields["format"], fields["escape"] = _format(values["format"])
    if "ingestionmappingreference" in values:
        fields["mapping_reference"] = _text(
            "ingestionMappingReference", values["ingestionmappingreference"]
        )
    kind = None
    if "ingestionmappingtype" in values:
        kind = _text("ingestionMappingType", values["ingestionmappingtype"]).lower()
        if kind not in _MAPPING_TYPES:
            raise UnsupportedFormat(
                f"mapping type {kind!r} is not supported",
                hint=f"use one of {', '.join(sorted(_MAPPING_TYPES))}",
            )
    if inline:
        name, implied = inline[0]
        fields["inline_mapping"] = _mapping_elements(name, values[name.lower()])
        kind = kind or implied
    if kind is not None:
        fields["mapping_kind"] = "avro" if kind == "apacheavro" else kind
    for key, field_name in (
        ("ignorefirstrecord", "ignore_first_record"),
        ("enabletracking", "tracking"),
        ("skipbatching", "skip_batching"),
        ("deleteafterdownload", "delete_after_download"),
        ("treatgzasuncompressed", "treat_gz_as_uncompressed"),
    ):
        if key in values:
            fields[field_name] = _bool(given[key][0], values[key])
    if "tags" in values:
        fields["tags"] = _strings("tags", values["tags"])
    if "ingestifnotexists" in values:
        fields["ingest_if_not_exists"] = _strings("ingestIfNotExists", values["ingestifnotexists"])
    if "creationtime" in values:
        fields["creation_time"] = _creation_time(values["creationtime"])
    if "zippattern" in values:
        fields["zip_pattern"] = _text("zipPattern", values["zippattern"])
    if "validationpolicy" in values:
        fields["error_policy"] = _validation_policy(values["validationpolicy"])
    return IngestionProperties(**fields)
