"""The topology checker that spares a small lab pydantic's import: it may only accept what
strict pydantic accepts, and must return the same values; and the common commands must
not import what they do not use."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netknit import links
from netknit.topology import _schema

# every model: the topology's own and every link type's
MODELS = sorted({*(m for m in vars(_schema).values() if isinstance(m, type)
                   and issubclass(m, _schema._Raw) and m is not _schema._Raw),
                 *(t.schema for t in links.registry().values() if hasattr(t, "schema"))},
                key=lambda m: m.__name__)

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 70000),
                     st.floats(allow_nan=True), st.text(max_size=4),
                     st.sampled_from(["1500", "a:eth1", "10.0.0.1/30", "x"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.one_of(st.text(max_size=3), st.integers()),
                                                  inner, max_size=3)), max_leaves=6)


def _by_pydantic(model: type[_schema._Raw], data: Any) -> Any:
    from pydantic import ValidationError

    try:
        return _schema._from_pydantic(model, _schema._pydantic(model).model_validate(data))
    except ValidationError:
        return "rejected"


def _by_checker(model: type[_schema._Raw], data: Any) -> Any:
    try:
        return model._check(data)
    except _schema._Reject:
        return None  # not vouched for: pydantic decides


def _same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (1 is not 1.0 nor True); NaN equal."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and a != a:
        return b != b
    if isinstance(a, _schema._Raw):
        return all(_same(getattr(a, n), getattr(b, n)) for n in a.model_fields)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _keys(model: type[_schema._Raw]) -> list[str]:
    return _schema.keys_of(model)


@st.composite
def _data(draw: st.DrawFn, model: type[_schema._Raw]) -> Any:
    keys = draw(st.lists(st.sampled_from([*_keys(model), "bogus"]), unique=True, max_size=5))
    data: dict[Any, Any] = {}
    for key in keys:
        info = next((i for n, i in model.model_fields.items() if (i.alias or n) == key), None)
        nested = _nested(model, info)
        data[key] = draw(_data(nested) if nested is not None and draw(st.booleans())
                         else _values)
    return data


def _nested(model: type[_schema._Raw], info: _schema.FieldInfo | None) -> Any:
    if info is None:
        return None
    names = [m for m in MODELS if m.__name__ in info.annotation]
    return names[0] if names and "list[" not in info.annotation else None


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_checker_accepts_only_what_pydantic_accepts(model: type[_schema._Raw],
                                                     data: st.DataObject) -> None:
    raw = data.draw(_data(model))
    fast = _by_checker(model, raw)
    if fast is not None:
        assert _same(fast, _by_pydantic(model, raw)), raw


@pytest.mark.parametrize(("model", "raw"), [
    (_schema.NodeDef, {"kind": "netns", "startup-delay": 3, "env": {"A": 1}, "cpu": 2,
                       "ports": ["80:80", 8080], "memory": "1GB", "user": 1000,
                       "healthcheck": {"test": ["CMD", "true"], "retries": 3},
                       "dns": {"servers": ["1.1.1.1"]}, "exec": ["ip a"]}),
    (_schema.BriefLink, {"endpoints": ["a:eth1", "b:eth1"], "ipv4": ["10.0.0.1/30", None],
                         "mtu": 9000}),
    (_schema.MgmtDef, {"network": "clab", "mtu": 1500, "external-access": False}),
    (_schema.HostDef, {"address": "192.0.2.1", "vni-range": [1000, 1999]}),
])
def test_the_common_case_needs_no_pydantic(model: type[_schema._Raw], raw: Any) -> None:
    fast = _by_checker(model, raw)
    assert fast is not None
    assert _same(fast, _by_pydantic(model, raw))


@pytest.mark.parametrize(("model", "raw"), [
    (_schema.NodeDef, {"startup-delay": True}),  # a bool is not a number
    (_schema.NodeDef, {"startup-delay": -1}),
    (_schema.NodeDef, {"cpu": float("nan")}),
    (_schema.NodeDef, {"startup_delay": 1}),  # the attribute's name is not the key
    (_schema.NodeDef, {"exec": ("a",)}),
    (_schema.NodeDef, {"env": {1: "x"}}),
    (_schema.MgmtDef, {"mtu": 67}),
    (_schema.HostDef, {}),  # address is required
    (_schema.BriefLink, {"endpoints": ["a:eth1"], "extra": 1}),
])
def test_anything_doubtful_goes_to_pydantic(model: type[_schema._Raw], raw: Any) -> None:
    assert _by_checker(model, raw) is None


def _imported_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_loading_and_planning_a_small_lab_imports_no_pydantic() -> None:
    loaded = _imported_after(
        "from netknit.topology import loads\nfrom netknit.plan import build\n"
        "build(loads('name: t\\ntopology:\\n  nodes:\\n    a: {kind: netns}\\n"
        "    b: {kind: netns}\\n  links:\\n    - endpoints: [a:eth1, b:eth1]\\n'))")
    assert not {m for m in loaded if m.split(".")[0] in ("pydantic", "rich", "docker")}


def test_version_imports_no_click() -> None:
    loaded = _imported_after(
        "sys.argv = ['netknit', '--version']\nfrom netknit._launch import main\nmain()")
    assert "click" not in loaded


@pytest.mark.parametrize("package", ["netknit.engine", "netknit.plan"])
def test_lazy_package_api_is_complete(package: str) -> None:
    """Every name a lazy package lists resolves, from the module its map names."""
    import importlib

    module = importlib.import_module(package)
    assert set(module._WHERE) == set(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None


def test_importing_the_model_and_destroy_imports_no_yaml() -> None:
    # destroy takes the lab's name from the deploy's note: the YAML parser is for load()
    loaded = _imported_after("import netknit.topology\nimport netknit.engine._destroy")
    assert "yaml" not in loaded


def test_destroying_a_netns_lab_loads_neither_planner_nor_model_nor_docker() -> None:
    # what destroy of bare namespaces runs: its module, the runtime that owns namespaces
    loaded = _imported_after(
        "import netknit.engine._destroy\nfrom pathlib import Path\n"
        "from netknit.runtimes import Runtimes\nfrom netknit.state import EffectKind\n"
        "Runtimes(Path()).owners(EffectKind.NETNS)")
    assert "netknit.runtimes.netns" in loaded
    heavy = {"netknit.plan._plan", "netknit.plan._actions", "netknit.topology._model",
             "netknit.runtimes.docker", "netknit.links", "subprocess", "_hashlib"}
    assert not heavy & loaded


def test_registry_knows_each_runtimes_kinds() -> None:
    from importlib import import_module

    from netknit.runtimes import REGISTRY
    from netknit.runtimes._registry import KINDS

    assert KINDS.keys() == REGISTRY.keys()
    for name, where in REGISTRY.items():
        module, _, cls = where.partition(":")
        assert getattr(import_module(module), cls).kinds == KINDS[name]


def test_digests_without_hashlib_are_hashlibs() -> None:
    import hashlib

    from netknit._digest import sha1, sha256

    for data in (b"", b"clab-lab-n1", bytes(range(256)) * 40):
        assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
        assert sha1(data, usedforsecurity=False).hexdigest() == hashlib.sha1(data).hexdigest()
    grown = sha256()
    grown.update(b"a")
    grown.update(b"b")
    assert grown.digest() == hashlib.sha256(b"ab").digest()
