"""No import cycles between netknit's modules, lazy and ``TYPE_CHECKING`` imports
included: every ``import``/``from`` anywhere in a module is an edge."""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import netknit

ROOT = Path(netknit.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = ["netknit", *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _edges(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from pkg import mod`` imports the module; ``from pkg import name`` the package
            subs = {f"{base}.{a.name}" for a in node.names} & modules.keys()
            found |= subs
            if len(subs) < len(node.names):
                found.add(base)
    return {m for m in found if m in modules and m != name}


def cycles(prefixes: tuple[str, ...] = ("netknit",)) -> list[list[str]]:
    """Every cycle (as a path of modules) among the modules under ``prefixes``."""
    modules = _modules()
    graph = {m: {e for e in _edges(m, p, modules) if e.startswith(prefixes)}
             for m, p in modules.items() if m.startswith(prefixes)}
    found, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(module, ())):
            if nxt in path:
                found.append([*path[path.index(nxt):], nxt])
            elif nxt not in done:
                visit(nxt, [*path, nxt])
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    return found


def test_no_cycles_in_links_topology_plan() -> None:
    # the engine and the runtimes are restructured separately (issue 13); once they are,
    # this covers the whole package
    scope = ("netknit.links", "netknit.topology", "netknit.plan", "netknit._errors")
    assert cycles(scope) == []



def test_each_module_imports_first() -> None:
    """Imported first in a fresh interpreter, each module loads: a package's
    ``__init__`` run on the way (implicitly) closes no cycle at run time either."""
    scope = ("netknit.links", "netknit.topology", "netknit.plan")
    names = sorted(m for m in _modules() if m.startswith(scope))

    def load(name: str) -> str:
        ran = subprocess.run([sys.executable, "-c", f"import {name}; import netknit.links as "
                              "links; links.registry()"], capture_output=True, text=True)
        return "" if ran.returncode == 0 else f"{name}: {ran.stderr.strip().splitlines()[-1]}"

    with ThreadPoolExecutor(4) as pool:
        failed = [f for f in pool.map(load, names) if f]
    assert failed == []


if __name__ == "__main__":
    for cycle in cycles():
        print(" -> ".join(cycle))
