"""netknit.Lab without root: a lab built in code is checked by the topology layer's one
path (the same problems a file gets, located at the call that wrote the bad value),
round-trips through a containerlab file, and ``import netknit`` stays cheap."""

from __future__ import annotations

import dataclasses
import inspect
import signal
import subprocess
import sys
from ipaddress import IPv4Interface
from pathlib import Path
from textwrap import dedent

import pytest

import netknit
from netknit import Lab, TopologyError

HERE = str(Path(__file__))


def _line() -> int:
    """The line of the caller: where a call on the next line is written, minus one."""
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno


def test_problems_are_the_files_problems_at_the_calls_that_wrote_them(tmp_path: Path) -> None:
    lab = Lab("demo")
    lab.add_node("h1")
    node_line = _line() + 1
    lab.add_node("h2", kind="nope", startup_delay=-1)
    link_line = _line() + 1
    lab.add_link("h1:eth1", "h3:eth1", ipv4=["10.0.0.1/24", "10.0.0.300/24"])
    with pytest.raises(TopologyError) as from_code:
        lab.validate()

    # the same lab as a file: the same paths and messages, there at the file's lines
    path = tmp_path / "demo.clab.yml"
    path.write_text(dedent("""\
        name: demo
        topology:
          nodes:
            h1: {}
            h2: {kind: nope, startup-delay: -1}
          links:
            - endpoints: ["h1:eth1", "h3:eth1"]
              ipv4: ["10.0.0.1/24", "10.0.0.300/24"]
        """))
    with pytest.raises(TopologyError) as from_file:
        netknit.load(path)
    expected = {(p.path, p.message) for p in from_file.value.problems}
    assert {(p.path, p.message) for p in from_code.value.problems} == expected
    assert len(expected) >= 3  # kind, startup-delay, the address and the unknown node
    for problem in from_code.value.problems:
        at_node = problem.path.startswith("topology.nodes.h2")
        assert (problem.file, problem.line) == (HERE, node_line if at_node else link_line)
        assert str(problem).startswith(f"{HERE}:{problem.line}: {problem.path}: ")


def test_a_bad_lab_name_is_located_at_the_constructor() -> None:
    line = _line() + 1
    lab = Lab("bad name!")
    lab.add_node("h1")
    with pytest.raises(TopologyError) as info:
        lab.validate()
    [problem] = info.value.problems
    assert (problem.file, problem.line, problem.path) == (HERE, line, "name")
    assert "letters, digits" in problem.message


def test_a_node_added_twice_names_both_calls() -> None:
    lab = Lab("demo")
    first = _line() + 1
    lab.add_node("h1")
    with pytest.raises(TopologyError) as info:
        lab.add_node("h1", kind="linux")
    [problem] = info.value.problems
    assert problem.message == f"node 'h1' is defined twice (first at {HERE}:{first})"
    assert problem.line == first + 2


def test_a_file_lab_changed_in_code_names_the_file_or_the_call(tmp_path: Path) -> None:
    path = tmp_path / "lab.clab.yml"
    path.write_text("name: demo\ntopology:\n  nodes:\n    h1: {}\n    h2: {}\n")
    lab = Lab.from_file(path)
    line = _line() + 1
    lab.add_link("h1:eth1", "h2:eth1", mtu="lots")
    lab.add_node("h3", image=["not", "a", "string"])
    with pytest.raises(TopologyError) as info:
        lab.validate()
    where = {p.path.split(".")[-1].split("[")[0]: (p.file, p.line) for p in info.value.problems}
    assert where["mtu"] == (HERE, line)
    assert where["image"] == (HERE, line + 1)


def test_a_file_with_problems_reads_as_netknit_load_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "lab.clab.yml"
    path.write_text("name: demo\ntopology:\n  nodes:\n    h1: {}\n    h1: {}\n    h2: {kind: x}\n")
    with pytest.raises(TopologyError) as loaded:
        netknit.load(path)
    with pytest.raises(TopologyError) as read:
        Lab.from_file(path)
    assert str(read.value) == str(loaded.value)


def test_from_dict_problems_name_its_call() -> None:
    line = _line() + 1
    lab = Lab.from_dict({"name": "demo", "topology": {"nodes": {"a": {"kind": "bad"}}}})
    with pytest.raises(TopologyError) as info:
        lab.validate()
    assert [(p.file, p.line, p.path) for p in info.value.problems] == [
        (HERE, line, "topology.nodes.a.kind")]


def test_to_yaml_round_trips(tmp_path: Path) -> None:
    lab = Lab("demo", prefix="pfx")
    lab.set_defaults(env={"GREETING": "hello"})
    lab.set_kind("netns", labels={"team": "net"})
    lab.add_node("h1", cmd="sh -c 'echo $HOME ${USER} $$'", startup_delay=1,
                 env={"N": "1.50"}, exec=["ip route add default via 10.0.0.2"])
    lab.add_node("h2", binds=[str(tmp_path) + ":/mnt:ro"])
    lab.add_node("br", kind="bridge")
    lab.add_link("h1:eth1", "h2:eth1", ipv4=[IPv4Interface("10.0.0.1/24"), "10.0.0.2/24"],
                 ipv6=["fd00::1/64", "fd00::2/64"], mtu=1400)
    lab.add_link("h1:eth2", "br:br-h1")
    lab.add_link(type="veth", endpoints=[{"node": "h1", "interface": "eth3",
                                          "mac": "02:00:00:00:00:01"},
                                         {"node": "h2", "interface": "eth3"}])
    path = tmp_path / "demo.clab.yml"
    text = lab.to_yaml(path)
    assert path.read_text() == text
    assert "$$HOME" in text  # a file's $$ is one $: the values come back as written
    again = Lab.from_file(path)
    assert again == lab
    assert again.to_dict() == lab.to_dict()
    assert dataclasses.replace(again.topology, path=None, notices=()) == \
        dataclasses.replace(lab.topology, notices=())
    assert again.topology.nodes["h1"].cmd == "sh -c 'echo $HOME ${USER} $$'"
    assert again.topology.nodes["h1"].startup_delay == 1
    assert dict(again.topology.nodes["h2"].labels)["team"] == "net"


def test_keywords_are_containerlabs_keys() -> None:
    lab = Lab("demo")
    lab.add_node("h1", startup_delay=3, kind=None)
    assert lab.to_dict()["topology"]["nodes"]["h1"] == {"startup-delay": 3}
    assert lab.topology.nodes["h1"].kind == "netns"  # netknit's default kind


def test_a_copy_is_separate_and_renamed() -> None:
    lab = Lab("demo")
    lab.add_node("h1")
    twin = lab.copy(name="other")
    twin.add_node("h2")
    assert (lab.name, list(lab.topology.nodes)) == ("demo", ["h1"])
    assert (twin.name, list(twin.topology.nodes)) == ("other", ["h1", "h2"])


def test_lab_dir_is_where_the_lab_was_made_or_labdir_base(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.delenv("CLAB_LABDIR_BASE", raising=False)
    monkeypatch.chdir(tmp_path)
    lab = Lab("demo")
    monkeypatch.chdir("/")
    assert lab.lab_dir == tmp_path / "clab-demo"
    assert Lab("demo", labdir_base=tmp_path / "x").lab_dir == tmp_path / "x" / "clab-demo"


def test_public_names_and_a_cheap_import() -> None:
    assert "Lab" in netknit.__all__
    assert all(hasattr(netknit, name) for name in netknit.__all__)
    for method in ("deploy", "destroy", "deployed", "inspect", "exec", "reconcile", "watch",
                   "start", "stop", "restart", "to_yaml", "from_file", "add_node", "add_link"):
        assert getattr(Lab, method).__doc__, method
    code = ("import sys, netknit\n"
            "heavy = [m for m in ('pydantic', 'yaml', 'netknit.engine', 'netknit._lab', "
            "'netknit.topology') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "netknit.Lab\n"
            "assert 'pydantic' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr


def test_a_files_values_round_trip_as_written(tmp_path: Path) -> None:
    path = tmp_path / "lab.clab.yml"
    path.write_text(dedent("""\
        name: rt
        topology:
          defaults:
            env: {A: 1.50, B: yes, C: 0x10, D: ~, E: 2024-01-01, F: "$$x"}
          nodes:
            h1: {startup-delay: 0x2}
        """))
    lab = Lab.from_file(path)
    env = {"A": "1.50", "B": "yes", "C": "0x10", "D": "", "E": "2024-01-01", "F": "$x"}
    assert dict(lab.topology.nodes["h1"].env) == env
    again = tmp_path / "again.clab.yml"
    lab.to_yaml(again)
    back = Lab.from_file(again)
    assert back == lab
    assert dict(back.topology.nodes["h1"].env) == env
    assert back.topology.nodes["h1"].startup_delay == 2


def test_a_sigint_while_held_arrives_after() -> None:
    from netknit._lab import _interrupts_held

    reached = False
    with pytest.raises(KeyboardInterrupt), _interrupts_held():
        signal.raise_signal(signal.SIGINT)  # a real signal, to this process
        reached = True
    assert reached


def test_a_files_value_set_again_in_code_is_the_codes(tmp_path: Path) -> None:
    path = tmp_path / "lab.clab.yml"
    path.write_text("name: rt\ntopology:\n  defaults: {startup-delay: 0x2, env: {A: 1.50}}\n"
                    "  nodes:\n    h1: {}\n")
    lab = Lab.from_file(path)
    line = _line() + 1
    lab.set_defaults(startup_delay=5, env={"A": ["not", "text"]})
    with pytest.raises(TopologyError) as info:
        lab.validate()
    assert [(p.file, p.line) for p in info.value.problems] == [(HERE, line)]
    lab.set_defaults(env={"A": 1.25})
    assert "startup-delay: 5" in lab.to_yaml() and "A: 1.25" in lab.to_yaml()
    assert lab.topology.nodes["h1"].startup_delay == 5


def test_magic_variables_name_the_labs_own_directory(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """containerlab's ``__clabDir__`` in a lab built in Python names the directory the lab
    will use: ``labdir_base``'s if given."""
    monkeypatch.delenv("CLAB_LABDIR_BASE", raising=False)
    lab = netknit.Lab("magic", labdir_base=tmp_path)
    lab.add_node("h1", exec=["echo __clabNodeDir__"])
    assert lab.topology.nodes["h1"].exec == (f"echo {lab.lab_dir}/h1",)
    assert lab.lab_dir == tmp_path / "clab-magic"
