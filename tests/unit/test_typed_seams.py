"""No ``dict[str, Any]`` crosses a package boundary (CONVENTIONS "Structure": values that cross
a layer are typed).

A public function or method whose parameters or return type hold an untyped mapping
(``dict``/``Mapping`` of ``str`` to ``Any`` or ``object``) fails this test when a module of
another package imports it (or its class, or its module, and calls it). The exceptions are the
JSON boundaries listed below, each with its reason.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.unit.test_layers import modules

UNTYPED = re.compile(r"\b(dict|Dict|Mapping|MutableMapping)\[str, (Any|object)\]")

SERIALISERS = frozenset({"to_json", "from_json", "to_dict", "from_dict", "to_list", "from_list"})
"""A domain value's own JSON form (its metadata column, what a task carries): the value is what
crosses layers; its serialiser is the one place its JSON is read or written."""

JSON_BOUNDARIES: dict[str, str] = {
    "ingestd.domain.connections.connection_body": "parses a connection's body as a client sent "
    "it (native API, CLI) into its typed model",
    "ingestd.domain.connections.parse_connection": "the same parser, for a stored or sent body",
    "ingestd.domain.connections.base.ConnectionBody.settings": "the non-secret fields of a "
    "typed body as JSON, as stored and shown",
    "ingestd.domain.datasets.mapping_from_column_mapping": "parses Statsig's column_mapping "
    "(API-SURFACE §1.4) into a Mapping",
    "ingestd.control.statsig.datasets.DatasetSources.create": "Statsig's column_mapping is "
    "stored and shown back exactly as the client sent it (API-SURFACE §1.4)",
    "ingestd.control.catalog.Catalog.create_source": "the same Statsig column_mapping, stored "
    "verbatim with the source",
    "ingestd.domain.run_views.RunRow.request": "a run's request (what a Kusto or Amperity "
    "call asked for) is JSON kept verbatim with the run and shown back (RunView.request); "
    "store writes it (store.runs.NewRun) and reads it back",
    "ingestd.dataplane.sql.extract": "a connection's settings and secrets as each SQL driver "
    "reads them (one JSON shape per driver, typed at the front by domain.connections)",
}
"""Untyped mappings that cross a package on purpose. Keep it short."""


@dataclass(frozen=True)
class Untyped:
    module: str
    qualname: str
    """``f`` or ``Class.method``."""
    annotations: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.module}.{self.qualname}"


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def untyped_functions(module: str, path: Path) -> Iterator[Untyped]:
    tree = ast.parse(path.read_text(), str(path))

    def visit(body: list[ast.stmt], prefix: str) -> Iterator[Untyped]:
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                yield from visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name.startswith("_") and node.name != "__init__":
                    continue
                args = node.args
                annotated = [a.annotation for a in [*args.posonlyargs, *args.args,
                             *args.kwonlyargs] if a.annotation is not None]  # fmt: skip
                if node.returns is not None:
                    annotated.append(node.returns)
                found = tuple(ast.unparse(a) for a in annotated if UNTYPED.search(ast.unparse(a)))
                if found:
                    yield Untyped(module, prefix + node.name, found)

    yield from visit(tree.body, "")


@dataclass(frozen=True)
class Uses:
    """What one module imports from ingestd, and which attribute names it reads."""

    imported: frozenset[str]
    """Full names: modules, and ``module.name`` for ``from module import name``."""
    attributes: frozenset[str]


def uses_of(path: Path) -> Uses:
    imported: set[str] = set()
    attributes: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module)
            imported.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Attribute):
            attributes.add(node.attr)
    return Uses(frozenset(imported), frozenset(attributes))


def called_from(item: Untyped, uses: Uses) -> bool:
    """Whether a module with ``uses`` calls ``item``: it imports the function (or its class),
    or imports its module and reads the name as an attribute."""
    owner, _, member = item.qualname.rpartition(".")
    if not owner:  # a module-level function
        return f"{item.module}.{member}" in uses.imported or (
            item.module in uses.imported and member in uses.attributes
        )
    has_class = f"{item.module}.{owner}" in uses.imported or item.module in uses.imported
    return has_class and (member == "__init__" or member in uses.attributes)


def resolved(uses: Uses, aliases: dict[str, str]) -> Uses:
    """``uses`` with re-exported names (``from a import f`` in module ``b``, imported from
    ``b``) followed to where they are defined."""
    names = set(uses.imported)
    frontier = set(names)
    while frontier:
        frontier = {aliases[n] for n in frontier if n in aliases} - names
        names |= frontier
    return Uses(frozenset(names), uses.attributes)


def crossing() -> list[Untyped]:
    found = modules()
    raw = {name: uses_of(path) for name, path in found.items()}
    aliases = {
        f"{name}.{imported.rpartition('.')[2]}": imported
        for name, used in raw.items()
        for imported in used.imported
        if imported not in found
    }
    uses = {name: resolved(used, aliases) for name, used in raw.items()}
    return [
        item
        for name, path in found.items()
        for item in untyped_functions(name, path)
        if any(
            package_of(other) != package_of(name) and called_from(item, used)
            for other, used in uses.items()
        )
    ]


def offending(items: list[Untyped]) -> list[str]:
    return [
        f"{i.name}({', '.join(i.annotations)})"
        for i in items
        if i.qualname.rpartition(".")[2] not in SERIALISERS and i.name not in JSON_BOUNDARIES
    ]


def test_no_untyped_mapping_crosses_a_package() -> None:
    assert offending(crossing()) == []


def test_every_listed_boundary_still_crosses() -> None:
    # A boundary nobody crosses any more would hide the next untyped seam.
    assert sorted(set(JSON_BOUNDARIES) - {i.name for i in crossing()}) == []


def test_the_scan_sees_an_untyped_seam(tmp_path: Path) -> None:
    source = tmp_path / "runner.py"
    source.write_text(
        "from typing import Any\n"
        "class Runner:\n"
        "    def build(self, spec: dict[str, Any]) -> int: ...\n"
        "    def typed(self, spec: int) -> int: ...\n"
        "def plan(limits: dict[str, object] | None) -> None: ...\n"
        "def _private(spec: dict[str, Any]) -> None: ...\n"
    )
    items = list(untyped_functions("ingestd.executor.runner", source))
    assert [i.qualname for i in items] == ["Runner.build", "plan"]
    caller = tmp_path / "caller.py"
    caller.write_text("from ingestd.executor.runner import Runner, plan\nRunner().build({})\n")
    uses = uses_of(caller)
    assert [called_from(i, uses) for i in items] == [True, True]
    elsewhere = tmp_path / "elsewhere.py"
    elsewhere.write_text("from ingestd.executor import pool\npool.build({})\n")
    assert [called_from(i, uses_of(elsewhere)) for i in items] == [False, False]
