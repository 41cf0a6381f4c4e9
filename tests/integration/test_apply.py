"""deploy of a changed file on namespace nodes: only the difference is applied (issue 15).

Nodes the change does not touch keep their namespace, their processes and their
interfaces (same ifindex); kill -9 anywhere in an apply leaves a lab that `destroy`
removes entirely and `deploy` finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from .conftest import Lab, run_cli

# the lab of each step of the test, as (nodes, links) text blocks
NODES = """
name: LAB
topology:
  nodes:
    a: {kind: netns, cmd: "sleep 3600; ':' TAG"}
    b: {kind: netns, cmd: "sleep 3601; ':' TAG"}
    c: {kind: netns}
    brTAG: {kind: bridge}
"""
AB = """
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.7.0.1/29", "10.7.0.2/29"]
"""
BC = """
    - endpoints: ["b:eth2", "c:eth1"]
      ipv4: ["10.7.1.1/29", "10.7.1.2/29"]
"""
PORT = """
    - endpoints: ["c:eth3", "brTAG:pTAG-c"]
"""
D = """
    d: {kind: netns, cmd: "sleep 3602; ':' TAG"}
"""
CD = """
    - endpoints: ["c:eth2", "d:eth1"]
      ipv4: ["10.7.2.1/29", "10.7.2.2/29"]
"""


def lab_text(*, d: bool = False, ab: str | None = AB, bc: str = BC, cd: str = CD) -> str:
    nodes = NODES + (D if d else "")
    links = (ab or "") + bc + PORT + (cd if d else "")
    return nodes + "  links:" + links


def netns(lab: Lab, node: str) -> str:
    return f"clab-{lab.name}-{node}"


def identity(lab: Lab, node: str) -> dict[str, object]:
    """What must not change on a node that a change leaves alone: its namespace, the
    processes in it and each interface's ifindex."""
    ns = netns(lab, node)
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                          check=True).stdout.split()
    links = json.loads(subprocess.run(["ip", "-n", ns, "-j", "link", "show"], check=True,
                                      capture_output=True, text=True).stdout)
    return {"inode": os.stat(f"/run/netns/{ns}").st_ino, "pids": sorted(pids),
            "ifindex": {i["ifname"]: i["ifindex"] for i in links}}


def link_of(lab: Lab, node: str, ifname: str) -> dict[str, object]:
    out = subprocess.run(["ip", "-n", netns(lab, node), "-j", "addr", "show", ifname],
                         capture_output=True, text=True, check=False).stdout
    found = json.loads(out) if out.strip() else []
    return dict(found[0]) if found else {}


def addresses(lab: Lab, node: str, ifname: str) -> set[str]:
    return {f"{a['local']}/{a['prefixlen']}" for a in link_of(lab, node, ifname).get(
        "addr_info", []) if a["family"] == "inet"}  # type: ignore[attr-defined]


def ping(topo: str, node: str, target: str, size: int = 56) -> None:
    done = run_cli("exec", "-t", topo, "--node", node, "--", "ping", "-c1", "-W2", "-s",
                   str(size), "-M", "do", target)
    assert done.returncode == 0, f"{node} -> {target}: {done.stdout}"


def deploy(topo: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = run_cli("deploy", "-t", topo, *args, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def in_sync(topo: str) -> None:
    """The recorded state describes the lab as it is: no drift, nothing to repair."""
    view = json.loads(run_cli("inspect", "interfaces", "-t", topo, "-f", "json").stdout)
    drift = {(n["node"], i["name"]): i["drift"] for n in view for i in n["interfaces"]
             if i["drift"]}
    assert drift == {}
    dry = run_cli("reconcile", "-t", topo, "--dry-run", "-f", "json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["drifts"] == []


def test_four_edits_each_applied_alone_untouched_nodes_live_on(lab: Lab) -> None:
    topo = str(lab.write(lab_text()))
    deploy(topo, "--quiet")
    before = {n: identity(lab, n) for n in "abc"}

    # 1. a node with a link: the others keep their namespaces, processes and ifindexes
    lab.write(lab_text(d=True))
    dry = run_cli("deploy", "-t", topo, "--dry-run", "-f", "json")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert planned["added-nodes"] == ["d"] and planned["added-links"] == ["c:eth2 <-> d:eth1"]
    assert planned["deleted-nodes"] == [] and planned["recreated-nodes"] == []
    assert identity(lab, "c") == before["c"]  # a dry run does nothing
    out = deploy(topo)
    assert "added nodes" in out and "d" in out
    after = {n: identity(lab, n) for n in "abc"}
    assert after["a"] == before["a"] and after["b"] == before["b"]
    assert after["c"]["inode"] == before["c"]["inode"]
    assert {k: v for k, v in after["c"]["ifindex"].items()  # type: ignore[attr-defined]
            if k != "eth2"} == before["c"]["ifindex"]
    ping(topo, "c", "10.7.2.2")
    ping(topo, "a", "10.7.0.2")
    in_sync(topo)
    data = json.loads((lab.dir / f"clab-{lab.name}" / "topology-data.json").read_text())
    assert "d" in data["nodes"] and len(data["links"]) == 4  # the lab files follow
    before = {n: identity(lab, n) for n in "abcd"}

    # 2. a link removed: its ends go, nothing else changes
    lab.write(lab_text(d=True, ab=None))
    deploy(topo, "--quiet")
    assert link_of(lab, "a", "eth1") == {} and link_of(lab, "b", "eth1") == {}
    after = {n: identity(lab, n) for n in "abcd"}
    assert after["c"] == before["c"] and after["d"] == before["d"]
    for n in "ab":  # the same namespace and processes; one interface fewer
        assert after[n]["inode"] == before[n]["inode"] and after[n]["pids"] == before[n]["pids"]
        assert after[n]["ifindex"] == {k: v for k, v in before[n]["ifindex"].items()  # type: ignore[attr-defined]
                                       if k != "eth1"}
    ping(topo, "b", "10.7.1.2")
    ping(topo, "d", "10.7.2.1")
    in_sync(topo)
    before = after

    # 3. an address changed: in place, on the same interface
    lab.write(lab_text(d=True, ab=None, cd=CD.replace("10.7.2.2/29", "10.7.2.3/29")))
    deploy(topo, "--quiet")
    assert addresses(lab, "d", "eth1") == {"10.7.2.3/29"}
    assert {n: identity(lab, n) for n in "abcd"} == before
    ping(topo, "c", "10.7.2.3")
    in_sync(topo)

    # 4. an MTU changed: both ends, in place
    lab.write(lab_text(d=True, ab=None, cd=CD.replace("10.7.2.2/29", "10.7.2.3/29"),
                       bc=BC + "      mtu: 1400\n"))
    deploy(topo, "--quiet")
    assert link_of(lab, "b", "eth2")["mtu"] == 1400 and link_of(lab, "c", "eth1")["mtu"] == 1400
    assert {n: identity(lab, n) for n in "abcd"} == before
    ping(topo, "b", "10.7.1.2", size=1372)  # the largest that fits
    in_sync(topo)

    # the same file again: nothing to do
    assert "already deployed" in run_cli("deploy", "-t", topo).stderr


def test_a_changed_cmd_recreates_only_that_node_with_its_links(lab: Lab) -> None:
    topo = str(lab.write(lab_text(d=True)))
    deploy(topo, "--quiet")
    before = {n: identity(lab, n) for n in "abcd"}
    lab.write(lab_text(d=True).replace("sleep 3602", "sleep 3603"))
    planned = json.loads(run_cli("deploy", "-t", topo, "--dry-run", "-f", "json").stdout)
    assert planned["recreated-nodes"] == ["d"]
    assert planned["node-change-reasons"] == {"d": "config drift: cmd"}
    deploy(topo, "--quiet")
    after = {n: identity(lab, n) for n in "abcd"}
    assert after["a"] == before["a"] and after["b"] == before["b"]
    assert after["d"]["inode"] != before["d"]["inode"] and after["d"]["pids"] != before["d"]["pids"]
    # c keeps its namespace and its other interfaces; its end of the link to d is new
    assert after["c"]["inode"] == before["c"]["inode"]
    assert {k: v for k, v in after["c"]["ifindex"].items() if k != "eth2"} == \
        {k: v for k, v in before["c"]["ifindex"].items() if k != "eth2"}  # type: ignore[attr-defined]
    ping(topo, "d", "10.7.2.1")
    in_sync(topo)


def changed_text() -> str:
    """The second lab of the crash tests: d added with a link, a-b removed, an address
    changed, and node a recreated (its cmd changed)."""
    return lab_text(d=True, ab=None, bc=BC.replace("10.7.1.2/29", "10.7.1.3/29")) \
        .replace("sleep 3600", "sleep 3599")


def _apply_killed_at(lab: Lab, topo: str, point: int) -> bool:
    """Deploy the first lab, then apply the second with kill -9 at crash point ``point``;
    False when the apply finished before it."""
    lab.write(lab_text())
    deploy(topo, "--quiet")
    lab.write(changed_text())
    done = run_cli("deploy", "-t", topo, "--quiet", env={"NETKNIT_TEST_CRASH_AT": str(point)})
    if done.returncode == 0:
        return False
    assert done.returncode == -signal.SIGKILL, done.stderr
    return True


def test_kill_9_at_every_point_of_an_apply_then_destroy(lab: Lab) -> None:
    topo = str(lab.dir / "lab.clab.yml")
    point = 1
    while _apply_killed_at(lab, topo, point):
        gone = run_cli("destroy", "-t", topo)
        assert gone.returncode == 0, gone.stderr
        assert lab.leftovers() == [], f"crash point {point}: {lab.leftovers()}"
        point += 1
        assert point < 200
    assert point > 10, f"only {point - 1} crash points in an apply"


def test_kill_9_at_every_point_of_an_apply_then_deploy_finishes_it(lab: Lab) -> None:
    topo = str(lab.dir / "lab.clab.yml")
    point = 1
    while _apply_killed_at(lab, topo, point):  # every other point: the test is long
        if point % 6 == 1:  # an unfinished apply: reconcile refuses, whichever the file
            lab.write(lab_text())
            refused = run_cli("reconcile", "-t", topo)
            assert refused.returncode == 1 and "did not finish" in refused.stderr
            lab.write(changed_text())
        deploy(topo, "--quiet")  # finishes the apply
        assert addresses(lab, "c", "eth1") == {"10.7.1.3/29"}, f"crash point {point}"
        assert link_of(lab, "a", "eth1") == {}, f"crash point {point}"
        ping(topo, "d", "10.7.2.1")
        ping(topo, "b", "10.7.1.3")
        in_sync(topo)
        if point % 6 == 1:  # or the file goes back to the first lab: that is applied
            lab.write(lab_text())
            deploy(topo, "--quiet")
            ping(topo, "a", "10.7.0.2")
            in_sync(topo)
        gone = run_cli("destroy", "-t", topo)
        assert gone.returncode == 0, gone.stderr
        assert lab.leftovers() == [], f"crash point {point}: {lab.leftovers()}"
        point += 2
        assert point < 200


def test_a_change_to_a_lab_whose_node_is_lost_brings_the_node_back(lab: Lab) -> None:
    """A kept node that is gone (its namespace deleted by hand) cannot take its new
    link at once: the repair that ends the apply makes it again, with every link."""
    topo = str(lab.write(lab_text()))
    deploy(topo, "--quiet")
    subprocess.run(["ip", "netns", "del", netns(lab, "c")], check=True)
    lab.write(lab_text(d=True))  # d, linked to the lost c
    deploy(topo, "--quiet")
    ping(topo, "c", "10.7.2.2")
    ping(topo, "b", "10.7.1.2")
    in_sync(topo)


def test_a_stopped_node_that_a_change_recreates_runs_and_is_shown_running(lab: Lab) -> None:
    """`stop -n a` and `stop -n c`, then a file that changes a's cmd: deploy makes a
    again, running with its links, and no longer records it as stopped (it was shown
    stopped, and reconcile left it alone, while it ran). c, which the change keeps, keeps
    its parked link ends (the apply once removed them with their namespace, and b's end
    of the b-c link with them): `start -n c` brings it back whole."""
    topo = str(lab.write(lab_text()))
    deploy(topo, "--quiet")
    for node in ("a", "c"):
        stopped = run_cli("stop", "-t", topo, "-n", node)
        assert stopped.returncode == 0, stopped.stderr
    lab.write(lab_text().replace("sleep 3600", "sleep 3598"))
    deploy(topo, "--quiet")
    shown = json.loads(run_cli("inspect", "-t", topo, "-f", "json").stdout)
    states = {c["name"]: c["state"] for c in shown[lab.name]}
    assert states[netns(lab, "a")] == "running", states
    assert states[netns(lab, "c")] == "stopped", states  # untouched: still stopped
    ping(topo, "a", "10.7.0.2")
    assert any("sleep 3598" in p for p in _cmdlines(netns(lab, "a")))
    started = run_cli("start", "-t", topo, "-n", "c")
    assert started.returncode == 0, started.stdout + started.stderr
    ping(topo, "c", "10.7.1.1")
    in_sync(topo)


def _cmdlines(ns: str) -> list[str]:
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                          check=True).stdout.split()
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                out.append(f.read().replace(b"\0", b" ").decode())
        except OSError:
            pass  # gone meanwhile
    return out
