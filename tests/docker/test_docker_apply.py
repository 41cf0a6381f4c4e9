"""deploy of a changed file on Docker nodes: only the difference is applied (issue 15).

Containers the change does not touch keep their id, their processes and their
interfaces (same ifindex); a changed image recreates that node only, with its links;
kill -9 anywhere in an apply leaves a lab that `destroy` removes entirely and `deploy`
finishes."""

from __future__ import annotations

import json
import os
import re
import signal
from typing import Any

from tests.integration.conftest import run_cli

from .conftest import IMAGE, DockerLab

NODES = """
name: LAB
topology:
  defaults: {kind: linux, image: IMAGE, cmd: "sleep 3600"}
  nodes:
    s: {}
    g: {start-strategy: gate}
    h: {kind: netns}
"""
SG = """
    - endpoints: ["s:eth1", "g:eth1"]
      ipv4: ["10.8.0.1/29", "10.8.0.2/29"]
"""
GH = """
    - endpoints: ["g:eth2", "h:eth1"]
      ipv4: ["10.8.1.1/29", "10.8.1.2/29"]
"""
N = """
    n: {}
"""
NS = """
    - endpoints: ["n:eth1", "s:eth2"]
      ipv4: ["10.8.2.1/29", "10.8.2.2/29"]
"""


def lab_text(*, n: bool = False, sg: str | None = SG, gh: str = GH, ns: str = NS,
             image: str = IMAGE) -> str:
    nodes = (NODES + (N if n else "")).replace("IMAGE", IMAGE)
    nodes = nodes.replace("g: {start-strategy: gate}",
                          f"g: {{start-strategy: gate, image: {image}}}")
    return nodes + "  links:" + (sg or "") + gh + (ns if n else "")


def sh(topo: str, node: str, *argv: str) -> str:
    done = run_cli("exec", "-t", topo, "--node", node, "--", *argv)
    assert done.returncode == 0, f"{node}: {' '.join(argv)}: {done.stdout}"
    return done.stdout


def ifaces(topo: str, node: str) -> dict[str, dict[str, str]]:
    """name -> {index, mtu, inet} as the node sees them."""
    out: dict[str, dict[str, str]] = {}
    shown = sh(topo, node, "ip", "-o", "link")
    for line in shown.splitlines():
        if line.startswith("Error: Peer netns reference is invalid"):
            continue  # iproute2's words (on stderr) for a peer it cannot name: harmless
        found = re.match(r"(\d+): ([^:@ ]+)\S*: .* mtu (\d+) ", line)
        assert found, f"{node}: unexpected `ip -o link` line {line!r} in:\n{shown}"
        out[found[2]] = {"index": found[1], "mtu": found[3]}
    for line in sh(topo, node, "ip", "-o", "-4", "addr").splitlines():
        words = line.split()
        out.setdefault(words[1], {})["inet"] = words[3]
    return out


def identity(dlab: DockerLab, topo: str, node: str) -> dict[str, Any]:
    """What must not change on a node that a change leaves alone: its containers (id,
    workload pid) and its interfaces' ifindexes."""
    found = dlab.container(node) if node != "h" else {"Id": "", "State": {"Pid": 0}}
    indexes = {name: i["index"] for name, i in ifaces(topo, node).items()}
    inode = os.stat(f"/run/netns/clab-{dlab.name}-h").st_ino if node == "h" else 0
    return {"id": found["Id"], "pid": found["State"]["Pid"], "ifindex": indexes,
            "netns": inode}


def ping(topo: str, node: str, target: str, size: int = 56) -> None:
    sh(topo, node, "ping", "-c1", "-W2", "-s", str(size), target)


def deploy(topo: str, *args: str) -> str:
    done = run_cli("deploy", "-t", topo, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def in_sync(topo: str) -> None:
    dry = run_cli("reconcile", "-t", topo, "--dry-run", "-f", "json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["drifts"] == []


def test_four_edits_then_an_image_on_docker_nodes(dlab: DockerLab) -> None:
    topo = str(dlab.write(lab_text()))
    deploy(topo, "--quiet")
    before = {x: identity(dlab, topo, x) for x in "sgh"}

    # 1. a node with a link
    dlab.write(lab_text(n=True))
    planned = json.loads(run_cli("deploy", "-t", topo, "--dry-run", "-f", "json").stdout)
    assert planned["added-nodes"] == ["n"] and planned["recreated-nodes"] == []
    deploy(topo, "--quiet")
    after = {x: identity(dlab, topo, x) for x in "sghn"}
    assert after["g"] == before["g"] and after["h"]["ifindex"] == before["h"]["ifindex"]
    assert {k: v for k, v in after["s"].items() if k != "ifindex"} == \
        {k: v for k, v in before["s"].items() if k != "ifindex"}
    assert {k: v for k, v in after["s"]["ifindex"].items() if k != "eth2"} == \
        before["s"]["ifindex"]
    ping(topo, "n", "10.8.2.2")
    ping(topo, "s", "10.8.0.2")
    in_sync(topo)
    before = after

    # 2. a link removed
    dlab.write(lab_text(n=True, sg=None))
    deploy(topo, "--quiet")
    after = {x: identity(dlab, topo, x) for x in "sghn"}
    assert after["h"] == before["h"] and after["n"] == before["n"]
    for x in "sg":
        assert after[x]["id"] == before[x]["id"] and after[x]["pid"] == before[x]["pid"]
        assert after[x]["ifindex"] == {k: v for k, v in before[x]["ifindex"].items()
                                       if k != "eth1"}
    ping(topo, "g", "10.8.1.2")
    ping(topo, "n", "10.8.2.2")
    in_sync(topo)
    before = after

    # 3. an address changed
    gh = GH.replace("10.8.1.2/29", "10.8.1.4/29")
    dlab.write(lab_text(n=True, sg=None, gh=gh))
    deploy(topo, "--quiet")
    assert ifaces(topo, "h")["eth1"]["inet"] == "10.8.1.4/29"
    assert {x: identity(dlab, topo, x) for x in "sghn"} == before
    ping(topo, "g", "10.8.1.4")
    in_sync(topo)

    # 4. an MTU changed
    ns = NS + "      mtu: 1400\n"
    dlab.write(lab_text(n=True, sg=None, gh=gh, ns=ns))
    deploy(topo, "--quiet")
    assert ifaces(topo, "n")["eth1"]["mtu"] == "1400" and ifaces(topo, "s")["eth2"]["mtu"] == "1400"
    assert {x: identity(dlab, topo, x) for x in "sghn"} == before
    ping(topo, "n", "10.8.2.2", size=1372)
    in_sync(topo)

    # a changed image: that node only is recreated, with its links
    other = "netknit-test/busybox:apply"
    dlab.api.tag(IMAGE, "netknit-test/busybox", "apply")
    dlab.write(lab_text(n=True, sg=None, gh=gh, ns=ns, image=other))
    planned = json.loads(run_cli("deploy", "-t", topo, "--dry-run", "-f", "json").stdout)
    assert planned["recreated-nodes"] == ["g"]
    assert planned["node-change-reasons"] == {"g": "config drift: image"}
    deploy(topo, "--quiet")
    after = {x: identity(dlab, topo, x) for x in "sghn"}
    assert after["s"] == before["s"] and after["n"] == before["n"]
    assert after["g"]["id"] != before["g"]["id"]
    assert dlab.container("g")["Config"]["Image"] == other
    assert after["h"]["netns"] == before["h"]["netns"]
    ping(topo, "g", "10.8.1.4")
    in_sync(topo)


def _apply_killed_at(dlab: DockerLab, topo: str, point: int) -> bool:
    dlab.write(lab_text())
    deploy(topo, "--quiet")
    dlab.write(lab_text(n=True, sg=None, gh=GH.replace("10.8.1.2/29", "10.8.1.4/29")))
    done = run_cli("deploy", "-t", topo, "--quiet", env={"NETKNIT_TEST_CRASH_AT": str(point)})
    if done.returncode == 0:
        return False
    assert done.returncode == -signal.SIGKILL, done.stderr
    return True


def test_kill_9_in_a_docker_apply_then_destroy_or_deploy(dlab: DockerLab) -> None:
    """At every crash point of an apply: odd points are followed by `destroy` (nothing
    is left), even ones by `deploy`, which finishes the apply."""
    topo = str(dlab.dir / "lab.clab.yml")
    point = 1
    while _apply_killed_at(dlab, topo, point):
        if point % 2 == 0:
            deploy(topo, "--quiet")
            assert ifaces(topo, "h")["eth1"]["inet"] == "10.8.1.4/29", f"point {point}"
            assert "eth1" not in ifaces(topo, "s"), f"point {point}"
            ping(topo, "n", "10.8.2.2")
            ping(topo, "g", "10.8.1.4")
            in_sync(topo)
        gone = run_cli("destroy", "-t", topo)
        assert gone.returncode == 0, gone.stderr
        assert dlab.leftovers() == [], f"crash point {point}: {dlab.leftovers()}"
        point += 1
        assert point < 100
    assert point > 8, f"only {point - 1} crash points in an apply"
