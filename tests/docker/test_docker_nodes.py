"""Docker nodes: interfaces ready at the first instruction, the gate keeps arguments,
containerlab's names/labels/env, mixed labs, exec and inspect through the CLI."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.integration.conftest import run_cli

from .conftest import ARGS_IMAGE, IMAGE, DockerLab

BOND = """
name: LAB
topology:
  nodes:
    bond:
      kind: linux
      image: IMAGE
      start-strategy: STRATEGY
      # a bond-like entrypoint: needs eth1..eth4 with their MACs and MTU at once
      cmd: >-
        sh -c 'for i in 1 2 3 4; do printf "eth$i %s %s\\n" $(cat /sys/class/net/eth$i/address)
        $(cat /sys/class/net/eth$i/mtu) || exit 1; done; echo DONE; sleep 3600'
    peer: {kind: netns}
  links:
    - {type: veth, mtu: 1500, endpoints: [{node: bond, interface: eth1, mac: "02:00:00:00:0b:01"},
                                          {node: peer, interface: p1}]}
    - {type: veth, mtu: 1600, endpoints: [{node: bond, interface: eth2, mac: "02:00:00:00:0b:02"},
                                          {node: peer, interface: p2}]}
    - {type: veth, mtu: 1700, endpoints: [{node: bond, interface: eth3, mac: "02:00:00:00:0b:03"},
                                          {node: peer, interface: p3}]}
    - {type: veth, mtu: 1800, endpoints: [{node: bond, interface: eth4, mac: "02:00:00:00:0b:04"},
                                          {node: peer, interface: p4}]}
"""


def _wait_logs(dlab: DockerLab, node: str, token: str) -> str:
    logs = ""
    for _ in range(100):
        logs = dlab.logs(node)
        if token in logs:
            break
        time.sleep(0.05)
    return logs


@pytest.mark.parametrize("strategy", ["sandbox", "gate"])
def test_bond_like_entrypoint_sees_macs_and_mtu_at_first_instruction(
        dlab: DockerLab, strategy: str) -> None:
    topo = dlab.write(BOND.replace("IMAGE", IMAGE).replace("STRATEGY", strategy))
    deployed = run_cli("deploy", "-t", str(topo), "--quiet")
    assert deployed.returncode == 0, deployed.stderr
    logs = _wait_logs(dlab, "bond", "DONE")
    assert logs.splitlines()[:5] == [
        "eth1 02:00:00:00:0b:01 1500", "eth2 02:00:00:00:0b:02 1600",
        "eth3 02:00:00:00:0b:03 1700", "eth4 02:00:00:00:0b:04 1800", "DONE",
    ]


GATE = """
name: LAB
topology:
  nodes:
    g: {kind: linux, image: ARGS, start-strategy: gate, startup-delay: 1}
    h: {kind: linux, image: IMAGE, cmd: "sleep 3600"}
  links:
    - endpoints: ["g:eth1", "h:eth1"]
"""


def test_gate_runs_the_image_cmd_with_its_arguments_unchanged(dlab: DockerLab) -> None:
    topo = dlab.write(GATE.replace("ARGS", ARGS_IMAGE).replace("IMAGE", IMAGE))
    deployed = run_cli("deploy", "-t", str(topo), "--quiet")
    assert deployed.returncode == 0, deployed.stderr
    logs = _wait_logs(dlab, "g", "[  g  ]")
    assert logs.splitlines() == ["[a b]", "[c'd]", '[e"f]', "[  g  ]"]
    g = dlab.container("g")
    # the wrapper is mounted read-only and the original argv follows it untouched
    assert g["Config"]["Entrypoint"] == ["/bin/sh", "/.netknit/gate.sh"]
    assert g["Config"]["Cmd"][-4:] == ["a b", "c'd", 'e"f', "  g  "]
    assert any(m["Destination"] == "/.netknit" and not m["RW"] for m in g["Mounts"])


MIXED = """
name: LAB
mgmt: {network: nkm-TAG, ipv4-subnet: 172.31.TAGNET.0/24}
topology:
  nodes:
    d1:
      kind: linux
      image: IMAGE
      cmd: sleep 3600
      env: {FOO: "bar baz"}
      labels: {team: net}
      binds: ["files:/files:ro"]
      mgmt-ipv4: 172.31.TAGNET.11
      exec: ["ip -o addr show eth1"]
    d2: {kind: linux, image: IMAGE, cmd: sleep 3600, start-strategy: gate}
    side: {kind: linux, image: IMAGE, cmd: sleep 3600, network-mode: "container:d1"}
    n1: {kind: netns}
    brTAG: {kind: bridge}
  links:
    - endpoints: ["d1:eth1", "n1:eth1"]
      ipv4: ["10.77.1.1/24", "10.77.1.2/24"]
    - endpoints: ["d1:eth2", "brTAG:pTAG-d1"]
      ipv4: ["10.77.2.1/24", ""]
    - endpoints: ["d2:eth1", "brTAG:pTAG-d2"]
      ipv4: ["10.77.2.2/24", ""]
    - endpoints: ["n1:eth2", "brTAG:pTAG-n1"]
      ipv4: ["10.77.2.3/24", ""]
"""


def test_mixed_lab_docker_netns_and_bridge_ping_across(dlab: DockerLab) -> None:
    (dlab.dir / "files").mkdir()
    (dlab.dir / "files" / "hello").write_text("from the host\n")
    net = str(int(dlab.tag, 16) % 200 + 20)
    topo = dlab.write(MIXED.replace("IMAGE", IMAGE).replace("TAGNET", net))
    deployed = run_cli("deploy", "-t", str(topo))
    assert deployed.returncode == 0, deployed.stderr
    assert "10.77.1.1/24" in deployed.stderr  # the exec output
    for node, target in [("d1", "10.77.1.2"), ("d1", "10.77.2.2"), ("d2", "10.77.2.3"),
                         ("n1", "10.77.1.1"), ("n1", "10.77.2.2"), ("side", "10.77.1.2")]:
        ping = run_cli("exec", "-t", str(topo), "--node", node, "--",
                       "ping", "-c1", "-W2", target)
        assert ping.returncode == 0, f"{node} -> {target}: {ping.stdout}{ping.stderr}"
    d1 = dlab.container("d1")
    labels = d1["Config"]["Labels"]
    assert labels["containerlab"] == dlab.name and labels["clab-node-name"] == "d1"
    assert labels["clab-node-kind"] == "linux" and labels["team"] == "net"
    assert labels["clab-topo-file"] == str(topo)
    env = dict(e.split("=", 1) for e in d1["Config"]["Env"])
    assert env["FOO"] == "bar baz"
    assert env["NETKNIT_INTFS"] == "eth1,eth2" and env["CLAB_INTFS"] == "2"
    cat = run_cli("exec", "-t", str(topo), "--node", "d1", "--", "cat", "/files/hello")
    assert cat.stdout == "from the host\n"  # a relative bind, resolved beside the file
    # the management network: eth0 with the static address, in the sandbox's namespace
    eth0 = run_cli("exec", "-t", str(topo), "--node", "d1", "--", "ip", "-o", "addr",
                   "show", "eth0")
    assert f"172.31.{net}.11/24" in eth0.stdout
    view = json.loads(run_cli("inspect", "-t", str(topo), "-f", "json").stdout)
    states = {n["name"]: n["state"] for n in view[dlab.name]}
    assert states[f"clab-{dlab.name}-d1"] == "running" == states[f"clab-{dlab.name}-d2"]
    shown = json.loads(run_cli("inspect", "interfaces", "-t", str(topo), "-f", "json").stdout)
    d1_ifs = next(n for n in shown if n["node"] == "d1")["interfaces"]
    assert [(i["name"], i["state"], i["drift"]) for i in d1_ifs if i["managed"]] == [
        ("eth1", "up", []), ("eth2", "up", [])]
    again = run_cli("deploy", "-t", str(topo), "--quiet")
    assert again.returncode == 0 and "already deployed" in again.stderr
    gone = run_cli("destroy", "-t", str(topo))
    assert gone.returncode == 0, gone.stderr
    assert dlab.leftovers() == []


def test_missing_image_is_one_clear_error_and_changes_nothing(dlab: DockerLab) -> None:
    topo = dlab.write("""
name: LAB
topology:
  nodes:
    a: {kind: linux, image: "netknit-test/nosuch:1"}
    b: {kind: linux, image: "netknit-test/nosuch:1"}
""")
    started = time.monotonic()
    failed = run_cli("deploy", "-t", str(topo))
    assert time.monotonic() - started < 20  # never hangs on a pull
    assert failed.returncode == 1
    assert "image not found locally: netknit-test/nosuch:1 (nodes a, b)" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert dlab.leftovers() == []


def test_sandbox_image_fallback_to_gate_with_a_notice(dlab: DockerLab) -> None:
    topo = dlab.write(f"""
name: LAB
topology:
  defaults: {{sandbox-image: "netknit-test/nosandbox:1"}}
  nodes:
    a: {{kind: linux, image: "{IMAGE}", cmd: "sh -c 'ip link show eth1 && sleep 3600'"}}
    b: {{kind: linux, image: "{IMAGE}", cmd: "sleep 3600"}}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
""")
    deployed = run_cli("deploy", "-t", str(topo), "--quiet")
    assert deployed.returncode == 0, deployed.stderr
    assert "no sandbox image (netknit-test/nosandbox:1); starting it with the gate" \
        in deployed.stderr
    assert dlab.container("a")["Config"]["Entrypoint"] == ["/bin/sh", "/.netknit/gate.sh"]
    assert "eth1" in _wait_logs(dlab, "a", "eth1")


MGMT_NET = """
name: LAB
mgmt: {network: nkn-TAG, ipv4-subnet: 172.31.TAGNET.0/24, bridge: nkmbTAG}
topology:
  nodes:
    d1: {kind: linux, image: IMAGE, cmd: sleep 3600, mgmt-ipv4: 172.31.TAGNET.11}
    n1: {kind: netns}
  links:
    - type: mgmt-net
      endpoint: {node: n1, interface: eth0, ipv4: 172.31.TAGNET.50/24}
      host-interface: mnTAG
"""


def test_mgmt_net_link_joins_the_docker_management_network(dlab: DockerLab) -> None:
    net = str(int(dlab.tag, 16) % 200 + 20)
    topo = dlab.write(MGMT_NET.replace("IMAGE", IMAGE).replace("TAGNET", net))
    deployed = run_cli("deploy", "-t", str(topo))
    assert deployed.returncode == 0, deployed.stderr
    # the Docker network's bridge carries the lab's bridge name, and the veth is its port
    master = json.loads(subprocess.run(
        ["ip", "-j", "link", "show", f"mn{dlab.tag}"], capture_output=True, text=True,
        check=True).stdout)[0]["master"]
    assert master == f"nkmb{dlab.tag}"
    ping = run_cli("exec", "-t", str(topo), "--node", "n1", "--", "ping", "-c1", "-W2",
                   f"172.31.{net}.11")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert run_cli("destroy", "-t", str(topo)).returncode == 0
    left = subprocess.run(["ip", "link", "show", f"nkmb{dlab.tag}"], capture_output=True,
                          check=False)
    assert left.returncode != 0, "the management bridge went with its network"
