"""Properties of the mapping parsers: Kusto mappings and JSON paths parse to what they say,
mappings survive their list (JSON) form, and any malformed input is refused with
MappingInvalid or InvalidInput, never another exception."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ingestd.domain.datasets import mapping_from_column_mapping
from ingestd.domain.mapping import (
    FieldMapping,
    Mapping,
    RefKind,
    SourceRef,
    Transform,
    mapping_from_kusto,
    parse_json_path,
)
from ingestd.errors import InvalidInput, MappingInvalid

SETTINGS = settings(max_examples=100, deadline=None)

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
bracket_keys = st.text(st.characters(codec="utf-8", exclude_characters="'"), min_size=1, max_size=8)
path_keys = st.lists(st.one_of(identifiers, bracket_keys), min_size=1, max_size=4)


def _render_path(keys: list[str], dotted_brackets: bool) -> str:
    out = "$"
    for key in keys:
        if key.isascii() and key.isidentifier():
            out += f".{key}"
        else:
            out += (".[" if dotted_brackets else "[") + f"'{key}']"
    return out


@SETTINGS
@given(keys=path_keys, dotted=st.booleans())
def test_json_path_keys_round_trip(keys: list[str], dotted: bool) -> None:
    ref = parse_json_path(_render_path(keys, dotted))

    assert ref.kind is RefKind.PATH
    assert ref.path_keys() == tuple(keys)


@SETTINGS
@given(text=st.text(max_size=20))
def test_any_text_is_a_path_or_refused(text: str) -> None:
    try:
        ref = parse_json_path(text)
    except MappingInvalid:
        return
    assert text.startswith("$")
    assert ref.path_keys()


transforms = st.sampled_from([t.value for t in Transform])


@st.composite
def kusto_elements(draw: st.DrawFn, kind: str) -> tuple[dict[str, Any], FieldMapping]:
    """One Kusto mapping element and the field it must parse to."""
    column = draw(identifiers)
    legacy = draw(st.booleans())  # §3.9: properties at the element's top level
    choice = draw(st.sampled_from(["value", "const", "location"]))
    props: dict[str, Any]
    transform = None
    if choice == "const":
        value = draw(st.one_of(st.text(max_size=10), st.integers()))
        props, source = {"ConstValue": value}, SourceRef(RefKind.CONST, str(value))
    elif choice == "location":
        props, source = {"Transform": "SourceLocation"}, SourceRef(RefKind.SOURCE_LOCATION)
    elif kind == "csv":
        ordinal = draw(st.integers(0, 500))
        props = {"Ordinal": draw(st.sampled_from([ordinal, str(ordinal)]))}
        source = SourceRef(RefKind.ORDINAL, ordinal)
    else:
        path = _render_path(draw(path_keys), draw(st.booleans()))
        props, source = {"Path": path}, SourceRef(RefKind.PATH, path)
    if choice == "value" and draw(st.booleans()):
        transform = draw(transforms)
        props["Transform"] = transform
    element = {"Column": column, **props} if legacy else {"Column": column, "Properties": props}
    if draw(st.booleans()):
        element["Datatype"] = draw(st.sampled_from(["string", "long", "datetime"]))
    return element, FieldMapping(
        column, source, transform=Transform(transform) if transform else None
    )


@SETTINGS
@given(data=st.data(), kind=st.sampled_from(["csv", "json", "parquet", "avro"]))
def test_kusto_mappings_parse_to_what_they_say(data: st.DataObject, kind: str) -> None:
    pairs = data.draw(st.lists(kusto_elements(kind), min_size=1, max_size=6))
    elements = [element for element, _ in pairs]
    before = copy.deepcopy(elements)

    mapping = mapping_from_kusto(kind.upper() if data.draw(st.booleans()) else kind, elements)

    assert mapping.fields == tuple(field for _, field in pairs)
    assert elements == before, "parsing must not change the caller's mapping"
    assert Mapping.from_list(json.loads(json.dumps(mapping.to_list()))) == mapping


refs = st.one_of(
    st.builds(SourceRef, st.just(RefKind.COLUMN), st.text(min_size=1, max_size=8)),
    st.builds(SourceRef, st.just(RefKind.ORDINAL), st.integers(0, 99)),
    st.builds(SourceRef, st.just(RefKind.PATH), path_keys.map(lambda k: _render_path(k, False))),
    st.builds(SourceRef, st.just(RefKind.CONST), st.text(max_size=8)),
    st.just(SourceRef(RefKind.SOURCE_LOCATION)),
    st.just(SourceRef(RefKind.LINE_NUMBER)),
)
field_mappings = st.one_of(
    st.builds(
        FieldMapping,
        identifiers,
        refs,
        transform=st.one_of(st.none(), st.sampled_from(list(Transform))),
    ),
    st.builds(
        FieldMapping,
        identifiers,
        parts=st.lists(st.tuples(st.text(max_size=6), refs), min_size=1, max_size=3).map(tuple),
    ),
)


@SETTINGS
@given(fields=st.lists(field_mappings, max_size=6))
def test_mapping_list_form_round_trips(fields: list[FieldMapping]) -> None:
    mapping = Mapping(tuple(fields))

    assert Mapping.from_list(mapping.to_list()) == mapping
    assert Mapping.from_list(json.loads(json.dumps(mapping.to_list()))) == mapping


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6)),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(
                ["Column", "Properties", "Ordinal", "Path", "ConstValue", "Transform", "Field", "x"]
            ),
            children,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


@SETTINGS
@given(raw=json_values, kind=st.sampled_from(["csv", "json"]))
def test_malformed_kusto_mappings_are_refused_cleanly(raw: Any, kind: str) -> None:
    try:
        mapping = mapping_from_kusto(kind, raw)
    except MappingInvalid:
        return
    assert all(isinstance(f.target, str) and f.source is not None for f in mapping.fields)


@SETTINGS
@given(
    dataset=st.sampled_from(["Events", "Metrics", "export_exposures", "entity_properties", "Nope"]),
    raw=st.dictionaries(
        st.sampled_from(
            ["unit_id", "event_name", "timestamp", "ids", "metadata", "id_type", "dateid", "x"]
        ),
        json_values,
        max_size=6,
    ),
)
def test_malformed_column_mappings_are_refused_cleanly(dataset: str, raw: dict[str, Any]) -> None:
    try:
        mapping = mapping_from_column_mapping(dataset, raw)
    except InvalidInput:
        return
    assert {f.target for f in mapping.fields} == set(raw)
