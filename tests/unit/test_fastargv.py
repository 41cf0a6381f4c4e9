"""The click-free reading of ``deploy`` and ``destroy`` command lines (netknit._fastargv)
takes exactly what click takes, the same way, or leaves the command line to click."""

from __future__ import annotations

import os
from typing import Any

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netknit._fastargv import SPEC, parse
from netknit.cli import fast_spec, main


@pytest.fixture(autouse=True)
def _no_clab_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CLAB_"):
            monkeypatch.delenv(name)


def _written(spec: dict[str, dict[str, Any]]) -> str:
    """The table as netknit/_fastargv.py spells it, to paste there."""
    def wrap(items: list[str]) -> str:
        lines = [" " * 11]
        for item in items:
            if len(lines[-1]) + len(item) + 2 > 96:
                lines.append(" " * 11)
            lines[-1] += f" {item},"
        return "\n".join(lines)

    def value(v: Any) -> str:
        return f'"{v}"' if isinstance(v, str) else repr(v)

    out = ["SPEC: dict[str, dict[str, Any]] = {"]
    for name, s in spec.items():
        out += [f'    "{name}": {{', f'        "argument": "{s["argument"]}",',
                '        "flags": {']
        out += [f'            "{flag}": {v!r},'.replace("'", '"') for flag, v in s["flags"].items()]
        out += ["        },", '        "defaults": {',
                wrap([f'"{k}": {value(v)}' for k, v in s["defaults"].items()]), "        },",
                '        "environment": [', wrap([f'"{e}"' for e in s["environment"]]),
                "        ],", "    },"]
    return "\n".join([*out, "}"])


def test_the_table_is_clicks_definition() -> None:
    derived = {name: fast_spec(name) for name in SPEC}
    assert derived == SPEC, "flags changed in netknit.cli: put this in netknit/_fastargv.py\n" \
        + _written(derived)


def _clicks(argv: list[str]) -> dict[str, Any] | None:
    """The parameters click passes the command, or None if click refuses the line."""
    command = main.commands[argv[0]]
    try:
        return command.make_context(argv[0], argv[1:]).params
    except click.exceptions.Exit:
        return None
    except click.ClickException:
        return None


@pytest.mark.parametrize("argv", [
    ["deploy", "-t", "lab.clab.yml", "--quiet"],
    ["deploy", "lab.clab.yml"],
    ["deploy", "-t", "-", "-q", "-f", "json"],
    ["deploy", "--topo=lab.clab.yml", "-r", "netns", "--max-workers", "4", "-c"],
    ["deploy", "-t", "lab.clab.yml", "--node-filter", "a,b", "--node-filter", "c", "-g"],
    ["deploy", "--dry-run", "lab.clab.yml", "--format=json"],
    ["destroy", "-t", "lab.clab.yml", "--cleanup", "--quiet"],
    ["destroy", "--all", "-y", "--max-workers", "0"],
    ["destroy", "lab.clab.yml", "-c", "--graceful", "--keep-mgmt-net"],
])
def test_what_scripts_give_is_read_as_click_reads_it(argv: list[str]) -> None:
    fast = parse(argv, {})
    assert fast is not None
    assert fast == (argv[0], _clicks(argv))


@pytest.mark.parametrize("argv", [
    [], ["inspect"], ["dep", "-t", "x"], ["des"],               # other commands, aliases
    ["deploy", "--help"], ["deploy", "-h"],                       # help is click's
    ["deploy", "-t", "x", "--name", "lab"], ["destroy", "--timeout", "3s"],  # global flags
    ["deploy", "--log-level", "debug"], ["deploy", "-d"],
    ["deploy", "-qc"], ["deploy", "-tx"], ["deploy", "-t=x"],   # joined short flags
    ["deploy", "--", "x"], ["deploy", "-t"], ["deploy", "-t", "a", "-t", "b"],
    ["deploy", "a", "b"], ["deploy", "--quiet=yes"],
    ["deploy", "--max-workers", "0"], ["deploy", "--max-workers", "+4"],
    ["deploy", "-f", "csv"], ["deploy", "-r", "NETNS"],          # click's errors
    ["deploy", "-4", "10.0.0.0/24"], ["deploy", "--export-rendered", "x"],  # own types
    ["destroy", "--max-workers", "-1"],
])
def test_anything_else_is_left_to_click(argv: list[str]) -> None:
    assert parse(argv, {}) is None


@pytest.mark.parametrize("variable", ["CLAB_TOPO", "CLAB_NAME", "CLAB_DEPLOY_QUIET",
                                      "CLAB_TIMEOUT", "CLAB_VERSION", "_NETKNIT_COMPLETE"])
def test_a_variable_click_reads_leaves_the_line_to_click(variable: str) -> None:
    assert parse(["deploy", "-t", "x"], {variable: "1"}) is None
    assert parse(["deploy", "-t", "x"], {"CLAB_LABDIR_BASE": "/tmp"}) is not None


_TOKENS = [
    *sorted({flag for spec in SPEC.values() for flag in spec["flags"]}),
    "-h", "--help", "--", "-qc", "-tx", "--name", "--timeout", "-d", "-x", "--topo=a",
    "--max-workers=7", "--quiet=1", "-f=json", "-", "a.clab.yml", "b", "4", "0", "256",
    "257", "-3", "json", "table", "csv", "netns", "docker", "a,b", ""]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(SPEC)), st.lists(st.sampled_from(_TOKENS), max_size=8))
def test_a_line_read_here_is_read_by_click_the_same(command: str, rest: list[str]) -> None:
    argv = [command, *rest]
    fast = parse(argv, {})
    if fast is not None:
        assert fast == (command, _clicks(argv))
