"""The plugin is a process per call: its launcher must stay cheap to start. These tests
pin down what makes it cheap (see install_binaries and cni/_codec.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from netknit.cni import _codec
from netknit.cni.install import install_binaries

# each of these costs 5-20 ms to import on a small VM; none is needed for ADD/DEL
HEAVY = ("dataclasses", "typing", "json", "re", "enum", "socket", "threading", "ctypes",
         "contextlib", "ipaddress", "inspect", "secrets", "subprocess", "pyroute2",
         "netknit.kernel._link")


def test_launcher_imports_nothing_heavy(tmp_path: Path) -> None:
    launcher = install_binaries(tmp_path)[0].read_text()
    assert launcher.endswith("launch()\n")
    probe = launcher.removesuffix("launch()\n") + (
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
