"""Lab behaviour a user relies on: locks, validation without side effects, supervised
``cmd``, race-free start, host links, exec output."""

from __future__ import annotations

import json
import subprocess
import time

from netknit.state import LabDir

from .conftest import Lab, host_links, netns_names, processes_with, run_cli

TWO = """
name: LAB
topology:
  nodes:
    a:
      kind: netns
      # the workload starts only after its interfaces are wired: it records what it sees
      cmd: "ip -o addr show eth1 > seen.txt; ip -o link show up0 >> seen.txt; sleep 3600; : TAG"
    b: {kind: netns, startup-delay: 1}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.2.0.1/24", "10.2.0.2/24"]
    - type: host
      endpoint: {node: a, interface: up0, ipv4: 10.2.1.1/24}
      host-interface: hTAG
"""


def test_second_deploy_fails_at_once_while_locked(lab: Lab) -> None:
    topo = lab.write(TWO)
    lab_dir = LabDir(lab.dir / f"clab-{lab.name}")
    with lab_dir.lock(lab.name, "test", create=True):
        started = time.monotonic()
        busy = run_cli("deploy", "-t", str(topo))
        assert time.monotonic() - started < 10
    assert busy.returncode == 1
    assert "busy" in busy.stderr and "test by pid" in busy.stderr
    assert not any(n.startswith(lab.prefix) for n in netns_names())


def test_invalid_topology_changes_nothing(lab: Lab) -> None:
    topo = lab.write(TWO.replace("b:eth1", "nosuch:eth1"))
    result = run_cli("deploy", "-t", str(topo))
    assert result.returncode == 2
    assert "nosuch" in result.stderr and "topology.links[0]" in result.stderr
    assert "Traceback" not in result.stderr
    # what this lab could have made carries its name or tag (the machine's other
    # namespaces and links come and go with other work: not compared)
    assert lab.leftovers() == []
    assert not {n for n in netns_names() if lab.name in n}
    assert not (lab.dir / f"clab-{lab.name}").exists()


def test_cmd_is_supervised_and_starts_after_wiring(lab: Lab) -> None:
    topo = lab.write(TWO)
    deployed = run_cli("deploy", "-t", str(topo))
    assert deployed.returncode == 0, deployed.stderr
    seen = (lab.dir / f"clab-{lab.name}" / "a" / "seen.txt").read_text()
    assert "10.2.0.1/24" in seen and "up0" in seen  # wired before the first instruction
    assert len(processes_with(lab.tag)) == 2  # the supervisor and the shell of `cmd`
    view = json.loads(run_cli("inspect", "interfaces", "-t", str(topo), "-f", "json").stdout)
    a = next(n for n in view if n["node"] == "a")
    assert a["cmd"] == "running"
    # the host end of the host link exists in the host namespace, with its peer's address
    assert f"h{lab.tag}" in host_links()
    ping = run_cli("exec", "-t", str(topo), "--node", "b", "--", "ping", "-c1", "-W2", "10.2.0.1")
    assert ping.returncode == 0, ping.stdout
    gone = run_cli("destroy", "-t", str(topo), "--cleanup")
    assert gone.returncode == 0
    assert processes_with(lab.tag) == []
    assert f"h{lab.tag}" not in host_links()


def test_exec_output_and_exit_code(lab: Lab) -> None:
    topo = lab.write(TWO.replace("b: {kind: netns, startup-delay: 1}",
                                 'b: {kind: netns, exec: ["ip -o link show eth1", "false"]}'))
    deployed = run_cli("deploy", "-t", str(topo))
    assert deployed.returncode == 0
    assert "ip -o link show eth1" in deployed.stderr and "eth1@" in deployed.stderr
    assert "1 exec command(s) failed" in deployed.stderr
    failing = run_cli("exec", "-t", str(topo), "--node", "a", "--cmd", "sh -c 'exit 3'")
    assert failing.returncode == 3
    missing = run_cli("exec", "-t", str(topo), "--node", "zz", "--", "true")
    assert missing.returncode == 1 and "no node 'zz'" in missing.stderr
    subprocess.run(["true"], check=True)


CLAB_FILE = """
name: LAB
topology:
  kinds:
    linux: {image: alpine:3}
  nodes:
    r1: {kind: linux, binds: ["cfg:/etc/cfg"]}
    r2: {kind: linux}
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
      ipv4: ["10.3.0.1/24", "10.3.0.2/24"]
"""


def test_containerlab_linux_nodes_on_docker_or_runtime_netns(lab: Lab) -> None:
    topo = lab.write(CLAB_FILE.replace("alpine:3", "netknit-test/absent:3"))
    (lab.dir / "cfg").mkdir()  # bind sources must exist (containerlab checks them too)
    # Docker is the default: an image that is not there is one clear error, nothing made
    refused = run_cli("deploy", "-t", str(topo))
    assert refused.returncode == 1
    assert "image not found locally: netknit-test/absent:3 (nodes r1, r2)" in refused.stderr
    assert lab.leftovers() == []
    wired = run_cli("deploy", "-t", str(topo), "--runtime", "netns")
    assert wired.returncode == 0, wired.stderr
    assert "node r1: kind linux runs as a bare namespace" in wired.stderr
    assert "binds" in wired.stderr
    ping = run_cli("exec", "-t", str(topo), "--node", "r1", "--", "ping", "-c1", "-W2", "10.3.0.2")
    assert ping.returncode == 0, ping.stdout
    assert run_cli("destroy", "-t", str(topo), "--cleanup").returncode == 0
