"""The canonical datasets of the Statsig dialect and how a ``column_mapping`` maps onto them.

Column semantics follow API-SURFACE §1.4 (the API names are normative, §5 item 10): Events carry
``timestamp`` in epoch seconds and ``ids``/``metadata`` objects built from several columns;
Metrics need a value, or a numerator and a denominator.
"""

from __future__ import annotations

from typing import Any

from ingestd.domain.mapping import FieldMapping, Mapping, RefKind, SourceRef
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.errors import InvalidInput

NAMESPACE = "statsig"
NAME_LIMIT = 128  # §1.4: event_name and metric_name are under 128 characters

_S, _J = ColumnType.STRING, ColumnType.JSON

DATASET_TABLES: dict[str, TableSpec] = {
    "events": TableSpec(
        NAMESPACE,
        "events",
        (
            Column("unit_id", _S),
            Column("event_name", _S, nullable=False, max_length=NAME_LIMIT),
            Column("timestamp", ColumnType.EPOCH_SECONDS, nullable=False),
            Column("ids", _J),
            Column("metadata", _J),
            Column("metadata_object", _J),
            Column("event_value", _S),
        ),
    ),
    "metrics": TableSpec(
        NAMESPACE,
        "metrics",
        (
            Column("unit_id", _S, nullable=False),
            Column("id_type", _S, nullable=False),
            Column("dateid", ColumnType.DATE, nullable=False),
            Column("metric_name", _S, nullable=False, max_length=NAME_LIMIT),
            Column("metric_value", ColumnType.FLOAT64),
            Column("numerator", ColumnType.FLOAT64),
            Column("denominator", ColumnType.FLOAT64),
        ),
        require_one_of=(("metric_value",), ("numerator", "denominator")),
    ),
    "exposures": TableSpec(
        NAMESPACE,
        "exposures",
        (
            Column("experiment", _S, nullable=False),
            Column("group_id", _S, nullable=False),
            Column("unit_id", _S),
            Column("timestamp", ColumnType.EPOCH_SECONDS, nullable=False),
            Column("ids", _J),
            Column("metadata", _J),
            Column("metadata_object", _J),
            Column("event_value", _S),
        ),
    ),
    # [I] No vendor schema exists for entity properties; one row per unit and id type.
    "entity_properties": TableSpec(
        NAMESPACE,
        "entity_properties",
        (
            Column("unit_id", _S, nullable=False),
            Column("id_type", _S, nullable=False),
            Column("properties", _J),
            Column("timestamp", ColumnType.EPOCH_SECONDS),
        ),
    ),
}

# API-SURFACE §1.3 [I]: the union of every revision's dataset values, case-sensitive on the wire.
DATASET_ALIASES: dict[str, str] = {
    "Events": "events",
    "events": "events",
    "export_events": "events",
    "Metrics": "metrics",
    "metrics": "metrics",
    "Exposures": "exposures",
    "exposures": "exposures",
    "export_exposures": "exposures",
    "entity_properties": "entity_properties",
}

_OBJECT_FIELDS = {"ids", "metadata", "properties"}


def dataset_key(dataset: str) -> str:
    """The canonical dataset key (``events``, ``metrics`` ...) for a wire value."""
    try:
        return DATASET_ALIASES[dataset]
    except KeyError:
        known = ", ".join(sorted(DATASET_ALIASES))
        raise InvalidInput(f"unknown dataset {dataset!r}", hint=f"use one of {known}") from None


def mapping_from_column_mapping(dataset: str, column_mapping: dict[str, Any]) -> Mapping:
    """Turn a Statsig ``column_mapping`` (dataset field -> source column) into a ``Mapping``.

    ``ids`` and ``metadata`` map keys to columns and become JSON objects. Fields the dataset
    does not have are refused with the list of fields it does have.
    """
    table = DATASET_TABLES[dataset_key(dataset)]
    fields = []
    for target, source in column_mapping.items():
        if not table.has_column(target):
            known = ", ".join(c.name for c in table.columns)
            raise InvalidInput(
                f"column_mapping.{target}: {dataset} has no field {target!r}",
                hint=f"fields are {known}",
            )
        if target in _OBJECT_FIELDS and isinstance(source, dict):
            parts = []
            for key, column in source.items():
                if not isinstance(column, str) or not column:
                    raise InvalidInput(f"column_mapping.{target}.{key} must be a column name")
                parts.append((str(key), SourceRef(RefKind.COLUMN, column)))
            fields.append(FieldMapping(target, parts=tuple(parts)))
        elif isinstance(source, str) and source:
            fields.append(FieldMapping(target, SourceRef(RefKind.COLUMN, source)))
        else:
            raise InvalidInput(f"column_mapping.{target} must be a column name (a string)")
    missing = [c.name for c in table.columns if not c.nullable and c.name not in column_mapping]
    if missing:
        raise InvalidInput(
            f"column_mapping for {dataset} lacks required fields {missing}",
            hint="map each of them to a column of your query or file",
        )
    return Mapping(tuple(fields))
