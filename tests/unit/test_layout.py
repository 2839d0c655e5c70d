"""The layout the README's ARCHITECTURE section draws, read from the code with `ast`:
no import circle between modules or between packages, the product never imports the
lab, and only the pytest plugin imports pytest."""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT, LAB = "oneupgrade", "onelab"
PYTEST = ("pytest", "_pytest", "pytest_html", "pytest_metadata", "pytest_dependency")
# `python -m oneupgrade.lab|oneupgrade.lab.real|oneupgrade.demo`: the lab's commands under
# their former names. They run `onelab` by name (runpy) and import nothing from it.
ALIASES = ("oneupgrade.lab", "oneupgrade.demo")

Graph = dict[str, set[str]]


def modules(root: Path, top: str) -> dict[str, Path]:
    """Every module of package `top` under `root`, by dotted name (a package by its own)."""
    found = {}
    for path in sorted((root / top).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """Every name `name` imports, wherever the import stands (TYPE_CHECKING and function
    bodies included): `from P import X` counts as P.X when that is a module, else as P."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield sub if sub in known else base


def import_graph(root: Path, tops: tuple[str, ...]) -> tuple[Graph, dict[str, set[str]]]:
    """(edges between the modules of `tops`, every imported name of each module)."""
    known: dict[str, Path] = {}
    for top in tops:
        known.update(modules(root, top))
    edges: Graph = {name: set() for name in known}
    names: dict[str, set[str]] = {}
    for name, path in known.items():
        names[name] = set(imported(name, path, known))
        edges[name] = {other for other in names[name] if other in known and other != name}
    return edges, names


def circles(edges: Graph) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while (popped := stack.pop()) != node:
                component.append(popped)
            component.append(node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def packages(edges: Graph) -> Graph:
    """The same graph one level up: `oneupgrade.transport.ssh` counts as
    `oneupgrade.transport`, a module at a package's top (`oneupgrade.errors`) as itself."""

    def unit(name: str) -> str:
        return ".".join(name.split(".")[:2])

    folded: Graph = {}
    for name, targets in edges.items():
        folded.setdefault(unit(name), set()).update(
            unit(t) for t in targets if unit(t) != unit(name)
        )
    return folded


@pytest.fixture(scope="module")
def layout() -> tuple[Graph, dict[str, set[str]]]:
    return import_graph(ROOT, (PRODUCT, LAB))


def test_no_module_imports_itself_back_through_others(
    layout: tuple[Graph, dict[str, set[str]]],
) -> None:
    edges, _ = layout
    assert circles(edges) == []


def test_the_packages_import_one_way(layout: tuple[Graph, dict[str, set[str]]]) -> None:
    edges, _ = layout
    assert circles(packages(edges)) == []


def test_the_product_never_imports_the_lab(layout: tuple[Graph, dict[str, set[str]]]) -> None:
    _, names = layout
    product = {m: n for m, n in names.items() if m.split(".")[0] == PRODUCT}
    assert {m: sorted(n for n in ns if n.split(".")[0] == LAB) for m, ns in product.items()} == {
        m: [] for m in product
    }


def test_the_lab_aliases_only_forward_by_name() -> None:
    """The aliases define nothing but the forward, so no product code can lean on them."""
    for name, path in modules(ROOT, PRODUCT).items():
        if not name.startswith(ALIASES):
            assert LAB not in path.read_text(), f"{name} names the lab"
            continue
        tree = ast.parse(path.read_text())
        defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
        assert defined in ([], ["forward"]), name


def test_only_the_plugin_imports_pytest(layout: tuple[Graph, dict[str, set[str]]]) -> None:
    _, names = layout
    users = {
        m
        for m, ns in names.items()
        if m.split(".")[0] == PRODUCT and any(n.split(".")[0] in PYTEST for n in ns)
    }
    assert users
    assert {m for m in users if not m.startswith("oneupgrade.plugin")} == set()


def test_a_circle_is_found_and_named(tmp_path: Path) -> None:
    """The check itself: a circle through a TYPE_CHECKING import and a relative import."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    for path, text in {
        "__init__.py": "",
        "a.py": "from pkg.sub import b\n",
        "sub/__init__.py": "",
        "sub/b.py": "from . import c\n",
        "sub/c.py": """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from pkg.a import thing
            """,
        "d.py": "import pkg.a\n",
    }.items():
        (pkg / path).write_text(textwrap.dedent(text))
    edges, _ = import_graph(tmp_path, ("pkg",))
    assert circles(edges) == [["pkg.a", "pkg.sub.b", "pkg.sub.c"]]
    assert circles(packages(edges)) == [["pkg.a", "pkg.sub"]]
