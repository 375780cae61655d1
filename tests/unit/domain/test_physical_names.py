"""Physical schema names (ingestd.domain.physical_names): injective, short, never reserved."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestd.domain.physical_names import LEGACY_SCHEMA, physical_schema
from ingestd.errors import InvalidInput

projects = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
namespaces = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
# Small alphabets make '_' runs (the separator's raw material) and case clashes frequent.
tricky_projects = st.from_regex(r"\A[aA0][aA_]{0,5}\Z")
tricky_namespaces = st.from_regex(r"\A[a_][aA_]{0,5}\Z")


@given(projects, namespaces)
def test_fits_postgresql_and_is_never_reserved(project: str, namespace: str) -> None:
    name = physical_schema(project, namespace)
    assert len(name.encode()) <= 63
    assert not name.lower().startswith("_ingestd")
    assert name != LEGACY_SCHEMA


@given(
    st.tuples(projects | tricky_projects, namespaces | tricky_namespaces),
    st.tuples(projects | tricky_projects, namespaces | tricky_namespaces),
)
def test_distinct_pairs_get_distinct_names_even_case_folded(
    a: tuple[str, str], b: tuple[str, str]
) -> None:
    if a != b:
        # DuckDB folds identifier case, so names must differ case-insensitively too.
        assert physical_schema(*a).lower() != physical_schema(*b).lower()


def test_the_ambiguous_pairs_of_the_issue_differ() -> None:
    assert physical_schema("a__b", "c") != physical_schema("a", "b__c")
    assert physical_schema("a_", "_b") != physical_schema("a", "__b")
    assert physical_schema("Demo", "s").lower() != physical_schema("demo", "s").lower()


def test_readable_when_unambiguous_and_deterministic() -> None:
    assert physical_schema("alpha", "s") == "alpha__s"
    assert physical_schema("my-proj.1", "raw_events") == "my-proj.1__raw_events"
    long = physical_schema("p" * 64, "n" * 63)
    assert long == physical_schema("p" * 64, "n" * 63) and "~" in long


@pytest.mark.parametrize(
    ("project", "namespace"), [("", "s"), ("_x", "s"), ("a", "1s"), ("a", "s-t")]
)
def test_refuses_names_that_cannot_be_projects_or_namespaces(project: str, namespace: str) -> None:
    with pytest.raises(InvalidInput):
        physical_schema(project, namespace)
