"""The layer order (CONVENTIONS "Structure"), read from every module's imports.

    errors <- domain <- settings, logging <- store, dataplane <- control <- executor
           <- ingestd.services <- front ends (api, dashboard) <- ingestd.api.app <- cli

A module may import its own package and any layer below its own, nothing above; ``store`` and
``dataplane`` do not import each other. Between packages there are no cycles.

Where the cross-cutting modules sit, and why:

* ``errors`` (with the ``ingestd`` and ``observability`` package roots) is the foundation: every
  layer raises its errors, and it imports nothing of ingestd.
* ``settings`` and ``observability.logging`` (the log context of a request or unit) import
  nothing of ingestd either, but ``domain`` stays pure: it is handed values, never settings, and
  does not log. So they sit just above ``domain``, under everything that does I/O.
* ``observability.metrics`` reads the store to publish unit counts: a control-level service.
* ``ingestd.api.app`` builds the one ASGI app that mounts every HTTP front end (the dialects,
  the native API and the dashboard), so it sits above them; the CLI may import it (``serve``),
  front ends share no cycle through it.
* ``ingestd.services`` is the composition root: it builds the control services together with
  the executor that runs their units, so it sits above both and below the front ends.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

import ingestd

PACKAGE = Path(ingestd.__file__).parent

FOUNDATION = 0
LAYERS: dict[str, int] = {
    "ingestd": FOUNDATION,
    "ingestd.errors": FOUNDATION,
    "ingestd.observability": FOUNDATION,
    "ingestd.domain": 1,
    "ingestd.settings": 2,
    "ingestd.observability.logging": 2,
    "ingestd.store": 3,
    "ingestd.dataplane": 3,
    "ingestd.control": 4,
    "ingestd.observability.metrics": 4,
    "ingestd.executor": 5,
    "ingestd.services": 6,
    "ingestd.api": 7,
    "ingestd.cli": 9,
    "ingestd.dashboard": 7,
    "ingestd.api.app": 8,
}
"""Each module belongs to the longest prefix listed here."""

FRONT_ENDS = 7

ALLOWED: dict[tuple[str, str], str] = {
    (
        "ingestd.store.migrations.versions.0006_sealed_secrets",
        "ingestd.dataplane.blobs.blob_urls",
    ): "a data migration that redacts stored blob URLs with the one redaction the service "
    "uses; blob_urls is pure parsing (no I/O) and moves under domain with the dataplane split",
}
"""Imports that break the order on purpose, each with its reason. Keep it short."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: Iterable[str]) -> Iterator[str]:
    """The ingestd modules ``path`` imports (also under TYPE_CHECKING or inside functions:
    they are dependencies all the same)."""
    known = set(known)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from ingestd.observability import logging`` imports the submodule.
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            if target in known:
                yield target


def layer_of(name: str) -> tuple[str, int]:
    prefix = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return prefix, LAYERS[prefix]


def violations(edges: Iterable[tuple[str, str]]) -> list[str]:
    """Imports that go up (or sideways between ``store`` and ``dataplane``), not allowed."""
    found = []
    for source, target in edges:
        if (source, target) in ALLOWED:
            continue
        (home, level), (there, target_level) = layer_of(source), layer_of(target)
        if home == there:
            continue
        sideways = level == target_level and level != FRONT_ENDS
        if target_level > level or sideways:
            found.append(f"{source} (layer {level}) imports {target} (layer {target_level})")
    return found


def package_cycles(edges: Iterable[tuple[str, str]]) -> list[str]:
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        a, b = layer_of(source)[0], layer_of(target)[0]
        graph.setdefault(a, set())
        if a != b and (source, target) not in ALLOWED:
            graph[a].add(b)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return [" -> ".join(exc.args[1])]
    return []


def package_edges() -> list[tuple[str, str]]:
    found = modules()
    return [
        (name, target)
        for name, path in found.items()
        for target in imports_of(name, path, found)
        if target != name
    ]


def test_every_module_has_a_layer() -> None:
    for name in modules():
        assert layer_of(name)[0] in LAYERS, name


def test_imports_only_go_down() -> None:
    assert violations(package_edges()) == []


def test_no_cycles_between_packages() -> None:
    assert package_cycles(package_edges()) == []


def test_the_allowed_exceptions_still_exist() -> None:
    # An exception nobody needs any more is one that would hide the next real violation.
    edges = set(package_edges())
    assert [edge for edge in ALLOWED if edge not in edges] == []


@pytest.mark.parametrize(
    ("edge", "verdict"),
    [
        (("ingestd.control.amperity.streams", "ingestd.executor.unit_runner"), "layer 4"),
        (("ingestd.domain.mapping", "ingestd.settings"), "layer 1"),
        (("ingestd.domain.mapping", "ingestd.store.schema"), "layer 1"),
        (("ingestd.store.schema", "ingestd.dataplane.blobs.fetch"), "layer 3"),
        (("ingestd.errors", "ingestd.domain.names"), "layer 0"),
        (("ingestd.control.access", "ingestd.observability.logging"), ""),
        (("ingestd.executor.pool", "ingestd.services"), "layer 5"),
        (("ingestd.cli.main", "ingestd.api.app"), ""),
        (("ingestd.control.runs", "ingestd.control.catalog"), ""),
    ],
    ids=[
        "control-imports-executor",
        "domain-imports-settings",
        "domain-imports-store",
        "store-imports-dataplane",
        "errors-imports-domain",
        "control-logs",
        "executor-imports-the-root",
        "front-end-imports-front-end",
        "within-a-package",
    ],
)
def test_the_checker_sees_what_breaks_the_order(edge: tuple[str, str], verdict: str) -> None:
    found = violations([edge])
    if verdict:
        assert len(found) == 1 and verdict in found[0], found
    else:
        assert found == [], found


def test_the_checker_sees_a_cycle() -> None:
    edges = [("ingestd.cli.main", "ingestd.api.app"), ("ingestd.api.app", "ingestd.cli.main")]
    assert package_cycles(edges) != []
