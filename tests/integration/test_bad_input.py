"""Bad input through the real command line: exit 2, the file and line (and YAML path) named,
no traceback, and nothing made on the machine, not even the lab directory."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

import pytest

from tests.integration.conftest import Lab, netns_names, run_cli

#: wide enough that rich never wraps a message in the middle of what is asserted
_WIDE = {"COLUMNS": "1000"}

DOCKER_NODE = """\
name: LAB
topology:
  nodes:
    n1:
      kind: linux
      image: netknit-test/busybox:latest
      binds:
        - BIND
"""

LINKED = """\
name: LAB
topology:
  nodes:
    a: {}
    b: {}
  links:
    - type: veth
      endpoints:
        - {node: a, interface: eth1, mac: "02:00:00:00:00:01"}
        - {node: b, interface: ETH, mac: "MAC"}
"""

CYCLE = """\
name: LAB
topology:
  nodes:
    a:
      stages:
        create:
          wait-for:
            - {node: b, stage: create}
    b:
      stages:
        create:
          wait-for:
            - {node: a, stage: configure}
"""


def _docker(bind: str) -> Callable[[Lab], str]:
    def make(lab: Lab) -> str:
        lab.write(DOCKER_NODE.replace("BIND", bind))
        return "lab.clab.yml"
    return make


def _symlink_loop(lab: Lab) -> str:
    os.symlink("b", lab.dir / "a")
    os.symlink("a", lab.dir / "b")
    return _docker("a:/mnt")(lab)


def _linked(interface: str = "eth1", mac: str = "02:00:00:00:00:02") -> Callable[[Lab], str]:
    def make(lab: Lab) -> str:
        lab.write(LINKED.replace("ETH", interface).replace("MAC", mac))
        return "lab.clab.yml"
    return make


def _long_node(lab: Lab) -> str:
    lab.write(f"name: LAB\ntopology:\n  nodes:\n    {'n' * 300}: {{}}\n")
    return "lab.clab.yml"


def _fifo(lab: Lab) -> str:
    os.mkfifo(lab.dir / "fifo.yml")  # not *.clab.yml: the lab fixture's destroy skips it
    return "fifo.yml"


def _empty_dir(lab: Lab) -> str:
    (lab.dir / "empty").mkdir()
    return "empty"


def _self_link(lab: Lab) -> str:
    os.symlink("self.clab.yml", lab.dir / "self.clab.yml")
    return "self.clab.yml"


def _cycle(lab: Lab) -> str:
    lab.write(CYCLE)
    return "lab.clab.yml"


# (how to make the input, what -t gets -> fragments the error must hold)
CASES = [
    pytest.param(_symlink_loop, [
        "lab.clab.yml:8: topology.nodes.n1.binds[0]: bind 'a:/mnt': cannot use host path",
        "Too many levels of symbolic links"], id="binds-symlink-loop"),
    pytest.param(_fifo, ["fifo.yml: cannot read the topology from a FIFO"], id="fifo"),
    pytest.param(lambda lab: "/dev/null",
                 ["/dev/null: cannot read the topology from a character device"], id="dev-null"),
    pytest.param(_empty_dir, ["no topology file (*.clab.yml) in empty"], id="empty-directory"),
    pytest.param(_self_link, ["topology file self.clab.yml: Too many levels of symbolic links"],
                 id="symlink-to-itself"),
    pytest.param(_long_node, [
        "lab.clab.yml:4: topology.nodes.nnnn", "bytes long; Linux allows at most 255"],
        id="300-character-node-name"),
    pytest.param(_docker("src:/mnt:zz"), [
        "lab.clab.yml:8: topology.nodes.n1.binds[0]: bind 'src:/mnt:zz': unknown option 'zz'"],
        id="bind-mode-zz"),
    pytest.param(_docker("missing:/mnt"), [
        "lab.clab.yml:8: topology.nodes.n1.binds[0]: bind 'missing:/mnt': cannot use host path",
        "No such file or directory"], id="missing-bind-source"),
    pytest.param(_linked(mac="02:00:00:00:00:01"), [
        "lab.clab.yml:10: topology.links[0].endpoints[1].mac: MAC address 02:00:00:00:00:01 is "
        "already used at topology.links[0].endpoints[0].mac (line 9)"], id="same-mac-twice"),
    pytest.param(_linked(interface="éth1"), [
        "lab.clab.yml:10: topology.links[0].endpoints[1].interface: interface name 'éth1' "
        "contains 'é', which is not ASCII"], id="non-ascii-interface"),
    pytest.param(_cycle, [
        "wait-for cycle:",
        "lab.clab.yml:8: topology.nodes.a.stages.create.wait-for[0]: a:create waits for b:create",
        "lab.clab.yml:13: topology.nodes.b.stages.create.wait-for[0]: b:create waits for "
        "a:configure"], id="wait-for-cycle"),
]


@pytest.mark.parametrize(("make", "fragments"), CASES)
def test_bad_input_is_exit_2_with_its_place_and_changes_nothing(
        lab: Lab, make: Callable[[Lab], str], fragments: list[str]) -> None:
    (lab.dir / "src").mkdir()  # the source of the :zz bind exists: only its mode is wrong
    given = make(lab)
    done = run_cli("deploy", "-t", given, cwd=lab.dir, env=_WIDE, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in done.stderr
    assert [p.name for p in lab.dir.iterdir() if p.name.startswith("clab-")] == []  # lab dir
    assert [n for n in netns_names() if n.startswith(lab.prefix)] == []  # (the fixture checks
    assert _containers(lab) == []  # links and processes after its destroy)


def test_a_5_mb_topology_without_aliases_is_read(lab: Lab) -> None:
    lines = ["name: LAB", "topology:", "  nodes:", "    a:", "      labels:"]
    size = 0
    while size < 5_000_000:  # 260 000 plain values, and not one alias
        lines.append(f"        k{len(lines):06d}: v")
        size += len(lines[-1]) + 1
    topo = lab.write("\n".join(lines) + "\n")
    done = run_cli("plan", "-t", str(topo), env=_WIDE)
    assert done.returncode == 0, done.stderr
    assert f"clab-{lab.name}-a" in done.stdout


def test_an_alias_bomb_is_still_refused_with_its_line(lab: Lab) -> None:
    text = "name: LAB\nx0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for k in range(1, 9):
        text += f"x{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 10)}]\n"
    lab.write(text + "topology: {}\n")
    done = run_cli("deploy", "-t", "lab.clab.yml", cwd=lab.dir, env=_WIDE, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "lab.clab.yml:2: " in done.stderr and "too many values" in done.stderr
    assert not (lab.dir / f"clab-{lab.name}").exists()


def _containers(lab: Lab) -> list[str]:
    """Containers of the lab (none may be made); [] where Docker is not installed."""
    if shutil.which("docker") is None:
        return []
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=containerlab={lab.name}"],
                         capture_output=True, text=True, check=False, timeout=60)
    return out.stdout.split()
