"""Environment substitution when a topology is read, as containerlab's envsubst does it
(github.com/hellt/envsubst v0.2.0, BytesRestrictedNoReplace(b, false, false, true, true))."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from netknit._errors import TopologyError
from netknit.topology import lab_name, load, loads
from netknit.topology._envsubst import expand

ENV = {"A": "a", "EMPTY": "", "IMG": "netknit-test/busybox:latest"}


@pytest.mark.parametrize(("text", "out"), [
    ("${A} $A", "a a"),
    ("${B:=dflt} ${B:-dflt}", "dflt dflt"),  # unset: the default (":=" assigns nothing)
    ("${EMPTY:-dflt} ${A:-dflt}", "dflt a"),
    ("${B-d} ${EMPTY-d}", "d $EMPTY"),  # "-": only when unset
    ("${A+x}|${B+x}", "x|"),
    ("${B:-$A}", "a"),  # a default may be a variable
    ("${B} $B", "$B $B"),  # unset: left as $NAME, braces dropped, as containerlab does
    ("P4s$w0rd! $$A $1 ${1} $_ ${} 5$", "P4s$w0rd! $A $1 ${1} $_ ${} 5$"),
])
def test_expansion_matches_containerlab(text: str, out: str) -> None:
    assert expand(text, ENV).text == out


def test_values_reach_the_model_and_unset_is_a_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NK_LAB", "envlab")
    monkeypatch.setenv("NK_IMG", "netknit-test/busybox:latest")
    monkeypatch.delenv("NK_UNSET", raising=False)
    topo = loads(dedent("""\
        name: ${NK_LAB}
        topology:
          nodes:
            n1:
              kind: linux
              image: $NK_IMG
              env: {X: "${NK_UNSET}", Y: "${NK_UNSET:=fallback}"}
        """), filename="lab.yml")
    assert topo.name == "envlab"
    node = topo.nodes["n1"]
    assert node.image == "netknit-test/busybox:latest"
    assert dict(node.env) == {"X": "$NK_UNSET", "Y": "fallback"}
    assert "lab.yml:7: ${NK_UNSET} is not set: left as '$NK_UNSET', as containerlab leaves it" \
        in topo.notices


def test_unclosed_brace_is_an_error_with_file_and_line() -> None:
    with pytest.raises(TopologyError) as info:
        loads("name: t\ntopology:\n  nodes:\n    a: {image: ${IMG}\n    b: ${IMG\n",
              filename="lab.yml")
    (problem,) = info.value.problems
    assert str(problem).startswith("lab.yml:5: environment variable substitution: closing "
                                   "brace expected after '${IMG'")


def test_go_template_is_refused_on_its_lines() -> None:
    with pytest.raises(TopologyError) as info:
        loads("name: t\ntopology:\n  nodes:\n{{ range .nodes }}\n    {{ . }}: {}\n{{ end }}\n",
              filename="lab.yml")
    assert [(p.line, p.message) for p in info.value.problems] == [
        (n, "Go template syntax ({{ ... }}) is not supported") for n in (4, 5, 6)]
    assert "--export-rendered" in str(info.value)


def test_lines_stay_right_when_a_value_has_newlines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NK_TWO", "two\n# a second line")
    with pytest.raises(TopologyError) as info:
        loads("name: t\n# ${NK_TWO}\ntopology:\n  nodes:\n    a: {kind: nope}\n",
              filename="lab.yml")
    (problem,) = info.value.problems
    assert (problem.line, problem.path) == (5, "topology.nodes.a.kind")


def test_lab_name_expands_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NK_LAB", "named")
    path = tmp_path / "lab.clab.yml"
    path.write_text("name: ${NK_LAB:-other}\ntopology: {nodes: {a: {}}}\n")
    assert lab_name(path) == "named"
    assert load(path).name == "named"
