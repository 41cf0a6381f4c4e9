"""The plugin is a process per call: its launcher must stay cheap to start. These tests
pin down what makes it cheap (see install_binaries and cni/_codec.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import netknit.kernel
from netknit.cni import _codec
from netknit.cni.install import install_binaries

# each of these costs 5-20 ms to import on a small VM; none is needed for ADD/DEL
HEAVY = ("dataclasses", "typing", "json", "re", "enum", "socket", "threading", "ctypes",
         "contextlib", "ipaddress", "inspect", "secrets", "subprocess", "pyroute2",
         "netknit.kernel._link")


def test_launcher_imports_nothing_heavy(tmp_path: Path) -> None:
    launcher = install_binaries(tmp_path)[0].read_text()
    assert launcher.endswith("launch()\n")
    # the lean path is the packages' own (lazy attributes): the launcher enters them as
    # any program would, without stubbing them in sys.modules
    assert "sys.modules" not in launcher and "__path__" not in launcher
    probe = launcher.removesuffix("launch()\n") + (
        "import netknit, netknit.kernel, netknit.cni\n"
        "import netknit.cni._hostdev, netknit.cni._meta, netknit.cni._plugin\n"
        f"print(sorted(set({HEAVY!r}) & set(sys.modules)))\n")
    interpreter = launcher.splitlines()[0].removeprefix("#!").split()
    out = subprocess.run([*interpreter, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out.replace("'", '"')) == []


@pytest.mark.parametrize("text", [
    '{"cniVersion": "1.0.0", "n": [1, 2.5, -3e2, null, true, false, "\\u00e9\\n"]}',
    '  {"a": {"b": []}}\n', '"x"', "NaN", "[]",
])
def test_codec_matches_json(text: str) -> None:
    value = _codec.loads(text.encode())
    assert json.dumps(value) == json.dumps(json.loads(text))
    assert _codec.dumps(value) == json.dumps(value)


@pytest.mark.parametrize("text", ["", "{", "{not json", '{"a": 1} x', '"\\q"', "nul", "[1,]"])
def test_codec_rejects_what_json_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        _codec.loads(text.encode())


def test_lazy_kernel_api_is_complete() -> None:
    """Every name the kernel package lists resolves, from the module its map names."""
    lazy = netknit.kernel._WHERE  # type: ignore[attr-defined]
    assert set(lazy) == set(netknit.kernel.__all__)
    for name in netknit.kernel.__all__:
        value = getattr(netknit.kernel, name)
        module = f"netknit.kernel.{lazy[name]}"
        assert value is sys.modules[module] if name == "netns" else \
            value is getattr(sys.modules[module], name)
