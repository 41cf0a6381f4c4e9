"""netknit's dataclasses keep their generated methods compiled between runs
(``netknit._dataclass``): the classes behave exactly as the standard library makes them,
a second process compiles nothing, and nothing of anybody else's is cached."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

# A module of netknit's name, made in the child, with a frozen, slotted class and a
# class with defaults and a factory: every method dataclasses writes.
_CHILD = """
import dataclasses, inspect, json, sys, types
import netknit._dataclass as dc

dc._PATH = sys.argv[1]
sys.dont_write_bytecode = sys.argv[3] == "1"  # PYTHONDONTWRITEBYTECODE, as the user set it
dc._cache.clear()
dc._new = False  # whatever netknit's own cache file made of it at import
dc._load()
loaded = len(dc._cache)

src = '''
from __future__ import annotations
from dataclasses import field
from netknit._dataclass import dataclass

@dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int = 2

@dataclass
class Bag:
    name: str
    items: list[str] = field(default_factory=list)
'''
mod = types.ModuleType(sys.argv[2])
sys.modules[mod.__name__] = mod
exec(compile(src, "<netknit test>", "exec"), mod.__dict__)
p = mod.Point(1)
try:
    p.x = 5
    frozen = False
except dataclasses.FrozenInstanceError:
    frozen = True
bag = mod.Bag("b")
bag.items.append("i")
compiled = dc._new
dc.save()
print(json.dumps({
    "loaded": loaded, "compiled": compiled, "saved": not dc._new, "cached": len(dc._cache),
    "repr": repr(p), "eq": p == mod.Point(1, 2), "hash": hash(p) == hash(mod.Point(1)),
    "frozen": frozen, "bag": repr(bag), "fresh": mod.Bag("c").items,
    "signature": str(inspect.signature(mod.Point)),
    "annotations": {k: repr(v) for k, v in mod.Point.__init__.__annotations__.items()},
}))
"""


def _run(cache: Path, module: str, *, dont_write: bool = False) -> dict[str, object]:
    import json

    out = subprocess.run([sys.executable, "-c", textwrap.dedent(_CHILD), str(cache), module,
                          "1" if dont_write else "0"],
                         capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_second_process_compiles_nothing_and_classes_behave(tmp_path: Path) -> None:
    cache = tmp_path / "cache.marshal"
    first = _run(cache, "netknit._cache_test")
    assert first["loaded"] == 0 and first["compiled"] is True
    assert cache.exists()
    second = _run(cache, "netknit._cache_test")
    assert second["loaded"] == first["cached"]
    assert second["compiled"] is False, "every method should come from the cache"
    for run in (first, second):
        assert run["repr"] == "Point(x=1, y=2)"
        assert run["eq"] is True and run["hash"] is True and run["frozen"] is True
        assert run["bag"] == "Bag(name='b', items=['i'])"
        assert run["fresh"] == []  # the factory runs per instance
        assert run["signature"] == "(x: 'int', y: 'int' = 2) -> None"
        # as the standard library's: the annotations' values, not source text of them
        assert run["annotations"] == {"x": "'int'", "y": "'int'", "return": "None"}


def test_other_modules_dataclasses_are_not_cached(tmp_path: Path) -> None:
    cache = tmp_path / "cache.marshal"
    run = _run(cache, "somebody_else")
    assert run["cached"] == 0 and run["compiled"] is False
    assert run["repr"] == "Point(x=1, y=2)"
    assert not cache.exists()


def test_unreadable_cache_is_compiled_afresh(tmp_path: Path) -> None:
    cache = tmp_path / "cache.marshal"
    cache.write_bytes(b"\x00not marshal at all")
    run = _run(cache, "netknit._cache_test")
    assert run["loaded"] == 0 and run["compiled"] is True
    assert _run(cache, "netknit._cache_test")["compiled"] is False  # rewritten whole


def test_nothing_written_where_bytecode_is_not(tmp_path: Path) -> None:
    cache = tmp_path / "cache.marshal"
    run = _run(cache, "netknit._cache_test", dont_write=True)
    assert run["compiled"] is True and run["repr"] == "Point(x=1, y=2)"
    assert not cache.exists()


def test_a_cache_of_unmarshalled_code_is_used_and_rewritten(tmp_path: Path) -> None:
    import marshal

    cache = tmp_path / "cache.marshal"
    first = _run(cache, "netknit._cache_test")
    entries = marshal.loads(cache.read_bytes())
    assert entries and all(isinstance(v, bytes) for v in entries.values())
    # as versions before 2026-12-02 wrote it: code objects, not their bytes
    cache.write_bytes(marshal.dumps({k: marshal.loads(v) for k, v in entries.items()}))
    second = _run(cache, "netknit._cache_test")
    assert second["loaded"] == first["cached"] and second["repr"] == "Point(x=1, y=2)"
    assert marshal.loads(cache.read_bytes()) == entries  # back in today's form


def test_every_netknit_dataclass_has_a_docstring() -> None:
    """Without one, ``dataclasses`` writes one from ``inspect.signature``, and the first
    such class imports ``inspect`` (~7 ms), which the launcher puts off
    (``netknit._launch._defer_inspect``)."""
    import ast

    src = Path(__file__).resolve().parents[2] / "src" / "netknit"
    missing = []
    for path in sorted(src.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                    "dataclass" in ast.unparse(d) for d in node.decorator_list) \
                    and not ast.get_docstring(node):
                missing.append(f"{path.relative_to(src)}:{node.lineno} {node.name}")
    assert missing == []
