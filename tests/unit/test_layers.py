"""The package's layering: no import cycle, each module importable first, and the engine
names no runtime.

The import graph is read from the source (every ``import``, also inside functions and
under ``TYPE_CHECKING``), one node per module: ``from a.b import c`` is an edge to
``a.b.c`` if that is a module, else to ``a.b``; relative imports are resolved.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "netknit"



def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """Every module of the package that ``module`` imports, anywhere in its source."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                child = f"{base}.{alias.name}"
                yield child if child in known else base
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                node.value.startswith("netknit.") and ":" in node.value:
            yield node.value.split(":")[0]  # a registry entry "netknit.x.y:Name", loaded lazily


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    return {module: {target for target in _imports(module, path, known)
                     if target in known and target != module}
            for module, path in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[tuple[frozenset[str], list[str]]]:
    """Each strongly connected component of more than one module (Tarjan), with one
    cycle through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [(frozenset(component), _cycle_in(graph, component)) for component in components]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth first)."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & component):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    raise AssertionError(f"no cycle through {start}")


def test_the_graph_sees_lazy_and_type_checking_imports() -> None:
    graph = import_graph()
    assert "netknit.kernel._ns" in graph["netknit.kernel"]  # under TYPE_CHECKING
    assert "netknit.engine" in graph["netknit"]  # inside a function
    assert "netknit.kinds" in graph["netknit.topology._nodes"]  # from netknit import kinds
    assert "netknit.kernel._msg" in graph["netknit.kernel._link"]  # from . import _msg


def test_no_import_cycle() -> None:
    cycles = _cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(
        f"{' -> '.join(cycle)} (all of {sorted(members)})" for members, cycle in cycles)


def test_each_module_imports_first() -> None:
    """Imported first in a fresh interpreter, each module loads: a package's
    ``__init__`` run on the way (implicitly) closes no cycle at run time either."""
    names = sorted(m for m in _modules() if not m.endswith("__main__"))  # it runs the CLI

    def load(name: str) -> str:
        ran = subprocess.run([sys.executable, "-c", f"import {name}; import netknit.links as "
                              "links; links.registry()"], capture_output=True, text=True)
        return "" if ran.returncode == 0 else f"{name}: {ran.stderr.strip().splitlines()[-1]}"

    with ThreadPoolExecutor(4) as pool:
        failed = [f for f in pool.map(load, names) if f]
    assert failed == []


def test_kinds_import_only_leaf_modules() -> None:
    """A kind module sits under the loader, the planner and the engine: it may import
    only modules that import nothing of netknit's."""
    graph = import_graph()
    for module, targets in graph.items():
        if module.startswith("netknit.kinds"):
            outside = {t for t in targets if not t.startswith("netknit.kinds")}
            assert all(not graph[t] for t in outside), (module, outside)


def test_engine_names_no_runtime() -> None:
    """The engine reaches runtimes through the protocol and the registry only."""
    named = [f"{path.relative_to(SRC)}:{number}"
             for path in sorted((PACKAGE / "engine").rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if "docker" in line.lower()]
    assert not named, "the engine names Docker at:\n" + "\n".join(named)


def test_dataclasses_come_from_the_cached_decorator() -> None:
    """Every module that makes dataclasses takes ``dataclass`` from ``netknit._dataclass``,
    whose import puts the compiled-methods cache in place (issue 18)."""
    stock = [f"{path.relative_to(SRC)}:{node.lineno}"
             for path in sorted(PACKAGE.rglob("*.py")) if path.name != "_dataclass.py"
             for node in ast.walk(ast.parse(path.read_text()))
             if (isinstance(node, ast.ImportFrom) and node.module == "dataclasses"
             and any(alias.name == "dataclass" for alias in node.names))
             or (isinstance(node, ast.Attribute) and node.attr == "dataclass"
             and isinstance(node.value, ast.Name) and node.value.id == "dataclasses")]
    assert not stock, "dataclass from the standard library at:\n" + "\n".join(stock)
