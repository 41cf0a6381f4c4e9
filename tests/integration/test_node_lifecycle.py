"""`stop`, `start` and `restart` of namespace nodes, as containerlab's: `-n` takes a
comma list or is repeated, all nodes when left out. A stopped node's ends are parked
(the peer keeps its side, addresses and all); reconcile and watch leave it stopped; on
start every interface is back with its name, MAC, MTU and addresses, and every link
carries traffic."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from .conftest import Lab, netns_names, run_cli

LAB = """
name: LAB
topology:
  nodes:
    a: {kind: netns, cmd: "sleep 3600; ':' TAG"}
    b: {kind: netns}
    c: {kind: netns}
    brTAG: {kind: bridge}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.15.0.1/24", "10.15.0.2/24"]
      ipv6: ["fd00:15::1/64", "fd00:15::2/64"]
    - endpoints: ["a:eth2", "c:eth1"]
      mtu: 1500
      ipv4: ["10.15.1.1/24", "10.15.1.3/24"]
    - endpoints: ["b:eth2", "c:eth2"]
      ipv4: ["10.15.2.2/24", "10.15.2.3/24"]
    - endpoints: ["b:eth3", "brTAG:pTAG-b"]
"""
NODES = ("a", "b", "c")
#: one ping per link that carries addresses: (from, to)
PINGS = (("a", "10.15.0.2"), ("b", "fd00:15::1"), ("c", "10.15.1.1"), ("c", "10.15.2.2"))


def interfaces(netns: str) -> dict[str, tuple[str, int, frozenset[str]]]:
    """name -> (MAC, MTU, global addresses) of a namespace's interfaces but lo."""
    out = subprocess.run(["ip", "-j", "-n", netns, "addr"], capture_output=True, text=True,
                         check=True).stdout
    return {i["ifname"]: (i["address"], i["mtu"],
                          frozenset(f"{a['local']}/{a['prefixlen']}" for a in i["addr_info"]
                                    if a.get("scope") == "global"))
            for i in json.loads(out) if i["ifname"] != "lo"}


def wiring(lab: Lab) -> dict[str, Any]:
    return {n: interfaces(f"clab-{lab.name}-{n}") for n in NODES}


def pings(topo: str) -> None:
    for node, target in PINGS:
        ping = run_cli("exec", "-t", topo, "--node", node, "--", "ping", "-c1", "-W2", target)
        assert ping.returncode == 0, f"{node} -> {target}: {ping.stdout}"


def view(topo: str) -> dict[str, Any]:
    shown = run_cli("inspect", "interfaces", "-t", topo, "-f", "json")
    assert shown.returncode == 0, shown.stderr
    return {n["node"]: n for n in json.loads(shown.stdout)}


def check_stopped(lab: Lab, topo: str, stopped: set[str], before: dict[str, Any]) -> None:
    """Each stopped node: no namespace, its ends parked under their names; each running
    peer kept its side unchanged; reconcile finds nothing to do; inspect says stopped."""
    names = netns_names()
    for node in NODES:
        ns = f"clab-{lab.name}-{node}"
        if node in stopped:
            assert ns not in names
            assert set(interfaces(f"clab-park-{ns}")) <= set(before[node])
        else:
            assert interfaces(ns) == before[node], node  # the peer keeps its side
    dry = run_cli("reconcile", "-t", topo, "--dry-run")
    assert dry.returncode == 0 and "in sync" in dry.stdout, dry.stdout
    shown = view(topo)
    assert {n for n, v in shown.items() if v["state"] == "stopped"} == stopped
    assert [i["drift"] for v in shown.values() for i in v["interfaces"] if i["drift"]] == []


def check_running(lab: Lab, topo: str, before: dict[str, Any]) -> None:
    assert wiring(lab) == before
    assert not [n for n in netns_names() if n.startswith(f"clab-park-clab-{lab.name}-")]
    assert view(topo)["a"]["cmd"] == "running"
    pings(topo)
    again = run_cli("reconcile", "-t", topo)
    assert again.returncode == 0 and "in sync" in again.stdout, again.stdout


def test_stop_start_one_two_and_all_nodes(lab: Lab) -> None:
    topo = str(lab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    before = wiring(lab)
    for stop_args, start_args, stopped in (
            (["-n", "a"], ["--node", "a"], {"a"}),
            (["-n", "a,b"], ["-n", "a", "-n", "b"], {"a", "b"}),
            ([], [], set(NODES))):
        done = run_cli("stop", "-t", topo, *stop_args)
        assert done.returncode == 0, done.stdout + done.stderr
        assert all(f"node {n}: stopped" in done.stdout for n in stopped)
        check_stopped(lab, topo, stopped, before)
        again = run_cli("stop", "-t", topo, *stop_args)  # stopping twice changes nothing
        assert again.returncode == 0 and "already stopped" in again.stdout
        done = run_cli("start", "-t", topo, *start_args)
        assert done.returncode == 0, done.stdout + done.stderr
        assert all(f"node {n}: started" in done.stdout for n in stopped)
        check_running(lab, topo, before)
    assert run_cli("destroy", "-t", topo).returncode == 0


def test_restart_one_two_and_all_nodes(lab: Lab) -> None:
    topo = str(lab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    before = wiring(lab)
    for args in (["-n", "c"], ["-n", "a,c"], []):
        done = run_cli("restart", "-t", topo, *args)
        assert done.returncode == 0, done.stdout + done.stderr
        check_running(lab, topo, before)
    assert run_cli("destroy", "-t", topo).returncode == 0


def test_a_node_started_while_its_peer_stays_stopped(lab: Lab) -> None:
    """a and b stopped, only a started: a gets all its ends back (its side of the a-b
    link too, as containerlab's start does); b's ends wait parked until b starts."""
    topo = str(lab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    before = wiring(lab)
    assert run_cli("stop", "-t", topo, "-n", "a,b").returncode == 0
    assert run_cli("start", "-t", topo, "-n", "a").returncode == 0
    assert interfaces(f"clab-{lab.name}-a") == before["a"]
    assert f"clab-park-clab-{lab.name}-a" not in netns_names()
    assert set(interfaces(f"clab-park-clab-{lab.name}-b")) == {"eth1", "eth2", "eth3"}
    check_stopped(lab, topo, {"b"}, before)
    ping = run_cli("exec", "-t", topo, "--node", "c", "--", "ping", "-c1", "-W2", "10.15.1.1")
    assert ping.returncode == 0, ping.stdout
    assert run_cli("start", "-t", topo).returncode == 0
    check_running(lab, topo, before)
    assert run_cli("destroy", "-t", topo).returncode == 0


def test_watch_leaves_a_stopped_node_stopped(lab: Lab) -> None:
    topo = str(lab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    before = wiring(lab)
    assert run_cli("stop", "-t", topo, "-n", "b").returncode == 0
    subprocess.run(["ip", "-n", f"clab-{lab.name}-a", "addr", "del", "10.15.1.1/24", "dev",
                    "eth2"], check=True)  # drift elsewhere is still repaired
    watched = run_cli("watch", "-t", topo, "--once", timeout=60)
    assert watched.returncode == 0, watched.stderr
    assert f"clab-{lab.name}-b" not in netns_names()
    check_stopped(lab, topo, {"b"}, before)
    assert run_cli("start", "-t", topo, "-n", "b").returncode == 0
    check_running(lab, topo, before)
    # destroy of a lab with a stopped node removes its parked ends too
    assert run_cli("stop", "-t", topo, "-n", "a").returncode == 0
    assert run_cli("destroy", "-t", topo).returncode == 0
    assert not [n for n in netns_names() if lab.name in n]


def test_lifecycle_mistakes_and_python_api(lab: Lab) -> None:
    import netknit

    topo = str(lab.write(LAB))
    assert run_cli("stop", "-t", topo).returncode == 1  # not deployed: says so
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    unknown = run_cli("stop", "-t", topo, "-n", "a,zz")
    assert unknown.returncode == 2 and "'zz' is not present in the topology" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    assert f"clab-{lab.name}-a" in netns_names()  # nothing was stopped
    before = wiring(lab)
    model = netknit.load(topo)
    stopped = netknit.stop(model, ["a"])
    assert stopped.done == {"a": "stopped"}
    started = netknit.start(model)
    assert started.done["a"] == "started" and not started.failed
    assert netknit.restart(model, ["b"]).done == {"b": "restarted"}
    check_running(lab, topo, before)
    bridge = run_cli("stop", "-t", topo, "-n", f"br{lab.tag}", "-f", "json")
    assert bridge.returncode == 0 and "no namespace of its own" in bridge.stdout
    assert run_cli("destroy", "-t", topo).returncode == 0
