"""The shape of the house, read from the code with ``ast``: no import circles, layers that point down.

A circle of imports means no module of it can be understood (or replaced) alone, and a new forge could not be
one file; an arrow from a lower layer up (``config/`` into ``pipeline/``) is the same circle waiting to happen.
``python -m pytest tests/test_structure.py -q`` names the modules when either appears.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gz_tui"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, importer: str) -> Iterator[tuple[str, int, bool]]:
    """(imported gz_tui module, line, inside a function) of every import that runs (``TYPE_CHECKING`` blocks do not)."""

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking_only(child):
                for other in child.orelse:
                    yield from walk(other, in_function)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("gz_tui"):
                        yield alias.name, child.lineno, in_function
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0 and child.module.startswith("gz_tui"):
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    yield (full if full in MODULES else child.module), child.lineno, in_function
            yield from walk(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    yield from walk(tree, False)


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = {target for target, _, _ in _imports(tree, name) if target in MODULES and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycles_finds_a_circle_and_nothing_else() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_gz_tui_imports_itself_back_through_others() -> None:
    assert cycles(import_graph()) == []


LAYERS = {
    "gz_tui.forges": (
        "gz_tui.config",
        "gz_tui.pipeline",
        "gz_tui.tui",
        "gz_tui.headless",
        "gz_tui.cli",
        "gz_tui.status",
        "gz_tui.forge_sim",
    ),
    "gz_tui.config": ("gz_tui.pipeline", "gz_tui.tui", "gz_tui.headless", "gz_tui.cli", "gz_tui.status", "gz_tui.forge_sim"),
    "gz_tui.pipeline": ("gz_tui.tui", "gz_tui.headless", "gz_tui.cli", "gz_tui.status", "gz_tui.forge_sim"),
    "gz_tui.forge_sim": ("gz_tui.forges", "gz_tui.config", "gz_tui.pipeline", "gz_tui.tui", "gz_tui.headless", "gz_tui.cli"),
}
"""What each layer must not import: the embedded forge shares no code with the client it stands in for, so a bug
in one is never mirrored by the other."""
LEAVES = ("gz_tui.kinds", "gz_tui.urls", "gz_tui.clock", "gz_tui.untrusted", "gz_tui.shard", "gz_tui.layout", "gz_tui.format")
"""Modules every layer may use; they import no other layer."""


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layers_point_down(layer: str) -> None:
    graph = import_graph()
    upward = sorted(
        f"{module} → {target}"
        for module, targets in graph.items()
        if _inside(module, layer)
        for target in targets
        if any(_inside(target, banned) for banned in LAYERS[layer])
    )
    assert upward == []


def test_the_leaves_import_no_layer() -> None:
    graph = import_graph()
    assert {leaf: sorted(t for t in graph[leaf] if t not in LEAVES) for leaf in LEAVES} == {leaf: [] for leaf in LEAVES}


def test_config_imports_no_gz_tui_module_inside_a_function() -> None:
    """An import inside a function is how a circle is hidden; config's are all at the top (start-up cost aside:
    ``gz-tui config`` and the config writer are imported where first used, from ``config/__init__``)."""
    hidden = []
    for name, path in MODULES.items():
        if _inside(name, "gz_tui.config"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            hidden += [f"{name}:{line} {target}" for target, line, in_function in _imports(tree, name) if in_function]
    assert hidden == []


CLASS_MAX_LINES = 300
CLASS_MAX_METHODS = 20
"""No class of ``pipeline/`` is bigger: one that grows past them does several jobs, and is cut by phase or by idea."""


def class_sizes(source: str, module: str) -> dict[str, tuple[int, int]]:
    """``module:Class`` → (lines, methods it defines itself, properties included) of every class in ``source``."""
    sizes = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            methods = sum(isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) for child in node.body)
            sizes[f"{module}:{node.name}"] = ((node.end_lineno or node.lineno) - node.lineno + 1, methods)
    return sizes


def test_class_sizes_counts_lines_and_methods() -> None:
    source = "class A:\n    def f(self): ...\n    async def g(self): ...\n    x = 1\n\n    class B:\n        pass\n"
    assert class_sizes(source, "m") == {"m:A": (7, 2), "m:B": (2, 0)}


def test_no_class_of_the_pipeline_has_more_than_300_lines_or_20_methods() -> None:
    sizes: dict[str, tuple[int, int]] = {}
    for name, path in MODULES.items():
        if _inside(name, "gz_tui.pipeline"):
            sizes.update(class_sizes(path.read_text(encoding="utf-8"), name))
    too_big = {name: size for name, size in sizes.items() if size[0] > CLASS_MAX_LINES or size[1] > CLASS_MAX_METHODS}
    assert too_big == {}
