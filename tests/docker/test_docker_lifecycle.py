"""`stop`, `start` and `restart` of Docker nodes (a sandboxed one, a gate one) beside a
namespace node: the containers stop (gracefully: the workload gets its stop signal),
their ends are parked and the peers keep theirs; on start every interface is back with
its name, MAC, MTU and addresses (management ones too, whatever the start order) and
every link carries traffic."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from tests.integration.conftest import netns_names, run_cli

from .conftest import IMAGE, DockerLab

LAB = f"""
name: LAB
topology:
  defaults:
    kind: linux
    image: {IMAGE}
    cmd: sh -c 'trap "exit 0" TERM; while :; do sleep 1; done'
  nodes:
    s: {{}}
    g: {{start-strategy: gate}}
    n: {{kind: netns}}
  links:
    - endpoints: ["s:eth1", "n:eth1"]
      ipv4: ["10.16.0.1/24", "10.16.0.2/24"]
      ipv6: ["fd00:16::1/64", "fd00:16::2/64"]
    - endpoints: ["g:eth1", "n:eth2"]
      ipv4: ["10.16.1.1/24", "10.16.1.2/24"]
      mtu: 1500
    - endpoints: ["g:eth2", "s:eth2"]
      ipv4: ["10.16.2.1/24", "10.16.2.2/24"]
"""
NODES = ("s", "g", "n")
PINGS = (("n", "10.16.0.1"), ("s", "fd00:16::2"), ("n", "10.16.1.1"), ("s", "10.16.2.1"))


def interfaces(dlab: DockerLab, node: str) -> dict[str, tuple[str, int, frozenset[str]]]:
    """name -> (MAC, MTU, global addresses) of a node's interfaces but lo, read in the
    namespace its workload runs in."""
    if node == "n":
        where = ["ip", "-n", f"clab-{dlab.name}-n"]
    else:
        pid = dlab.container(node)["State"]["Pid"]
        where = ["nsenter", "-t", str(pid), "-n", "ip"]
    out = subprocess.run([*where, "-j", "addr"], capture_output=True, text=True,
                         check=True).stdout
    return {i["ifname"]: (i["address"], i["mtu"],
                          frozenset(f"{a['local']}/{a['prefixlen']}" for a in i["addr_info"]
                                    if a.get("scope") == "global"))
            for i in json.loads(out) if i["ifname"] != "lo"}


def wiring(dlab: DockerLab) -> dict[str, Any]:
    return {n: interfaces(dlab, n) for n in NODES}


def check_running(dlab: DockerLab, topo: str, before: dict[str, Any]) -> None:
    assert wiring(dlab) == before
    assert not [n for n in netns_names() if n.startswith(f"clab-park-clab-{dlab.name}-")]
    for node, target in PINGS:
        ping = run_cli("exec", "-t", topo, "--node", node, "--", "ping", "-c1", "-W2", target)
        assert ping.returncode == 0, f"{node} -> {target}: {ping.stdout}"
    again = run_cli("reconcile", "-t", topo)
    assert again.returncode == 0 and "in sync" in again.stdout, again.stdout


def check_stopped(dlab: DockerLab, topo: str, stopped: set[str],
                  before: dict[str, Any]) -> None:
    for node in NODES:
        if node not in stopped:
            assert interfaces(dlab, node) == before[node], node  # the peer keeps its side
        elif node != "n":
            state = dlab.container(node)["State"]
            assert state["Status"] == "exited" and state["ExitCode"] == 0  # its TERM trap
    dry = run_cli("reconcile", "-t", topo, "--dry-run")
    assert dry.returncode == 0 and "in sync" in dry.stdout, dry.stdout
    shown = json.loads(run_cli("inspect", "interfaces", "-t", topo, "-f", "json").stdout)
    assert {v["node"] for v in shown if v["state"] == "stopped"} == stopped
    assert [i["drift"] for v in shown for i in v["interfaces"] if i["drift"]] == []


def test_docker_stop_start_restart(dlab: DockerLab) -> None:
    topo = str(dlab.write(LAB))
    deployed = run_cli("deploy", "-t", topo, "--quiet")
    assert deployed.returncode == 0, deployed.stderr
    before = wiring(dlab)
    sandbox_pid = dlab.container("s-sandbox")["State"]["Pid"]
    for stop_args, start_args, stopped in (
            (["-n", "s"], ["-n", "s"], {"s"}),
            (["-n", "s,g"], ["-n", "g", "-n", "s"], {"s", "g"}),
            ([], [], set(NODES))):
        done = run_cli("stop", "-t", topo, *stop_args)
        assert done.returncode == 0, done.stdout + done.stderr
        check_stopped(dlab, topo, stopped, before)
        done = run_cli("start", "-t", topo, *start_args)
        assert done.returncode == 0, done.stdout + done.stderr
        check_running(dlab, topo, before)
    for args in (["-n", "g"], ["-n", "s,n"], []):
        done = run_cli("restart", "-t", topo, *args)
        assert done.returncode == 0, done.stdout + done.stderr
        check_running(dlab, topo, before)
    # the same containers, started again; the workload in its sandbox's new namespace
    ws, ss = dlab.container("s")["State"]["Pid"], dlab.container("s-sandbox")["State"]["Pid"]
    assert ss != sandbox_pid
    assert os.stat(f"/proc/{ws}/ns/net").st_ino == os.stat(f"/proc/{ss}/ns/net").st_ino
    # destroy with a stopped node: its containers and parked ends go
    assert run_cli("stop", "-t", topo, "-n", "s").returncode == 0
    assert run_cli("destroy", "-t", topo).returncode == 0
    assert not [n for n in netns_names() if dlab.name in n]
