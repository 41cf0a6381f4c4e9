"""Lab files of a Docker lab with a management network: the management addresses Docker
gave each node are in the /etc/hosts block, the inventories and topology-data.json, and
destroy gives /etc/hosts back byte for byte."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from ..integration.conftest import run_cli
from ..integration.test_lab_files import HOSTS, SSH_DIR, assert_gone, kept_host_files
from .conftest import IMAGE, DockerLab

TOPO = """
name: LAB
mgmt: {network: nkf-TAG, ipv4-subnet: 172.29.TAGNET.0/24}
topology:
  nodes:
    d1: {kind: linux, image: IMAGE, cmd: sleep 3600, mgmt-ipv4: 172.29.TAGNET.11,
         labels: {ansible-group: core}}
    d2: {kind: linux, image: IMAGE, cmd: sleep 3600, start-strategy: gate}
    n1: {kind: netns}
  links:
    - endpoints: ["d1:eth1", "d2:eth1"]
    - endpoints: ["d2:eth2", "n1:eth1"]
"""


@pytest.fixture
def host_files(dlab: DockerLab) -> Iterator[bytes]:
    with kept_host_files(dlab) as before:
        yield before


def _mgmt_ip(dlab: DockerLab, node: str) -> str:
    """The address Docker gave the node on the management network (on its sandbox, when
    the node has one: the workload shares its namespace)."""
    for name in (f"clab-{dlab.name}-{node}-sandbox", f"clab-{dlab.name}-{node}"):
        try:
            found: dict[str, Any] = dlab.api.inspect_container(name)
        except Exception:
            continue
        networks = found["NetworkSettings"]["Networks"]
        if f"nkf-{dlab.tag}" in networks:
            return str(networks[f"nkf-{dlab.tag}"]["IPAddress"])
    raise AssertionError(f"{node} is not on the management network")


def test_management_addresses_reach_hosts_inventories_and_topology_data(
        dlab: DockerLab, host_files: bytes) -> None:
    net = str(int(dlab.tag, 16) % 200 + 20)
    topo = str(dlab.write(TOPO.replace("IMAGE", IMAGE).replace("TAGNET", net)))
    deployed = run_cli("deploy", "-t", topo, "--quiet")
    assert deployed.returncode == 0, deployed.stderr
    ips = {node: _mgmt_ip(dlab, node) for node in ("d1", "d2")}
    assert ips["d1"] == f"172.29.{net}.11"
    ids = {node: dlab.container(node)["Id"][:12] for node in ("d1", "d2")}
    # found by its markers: other labs (every Docker lab has management addresses now)
    # may add theirs meanwhile
    lines = HOSTS.read_text().splitlines()
    first = lines.index(f"###### CLAB-{dlab.name}-START ######")
    block = lines[first:lines.index(f"###### CLAB-{dlab.name}-END ######") + 1]
    assert block[:1] + block[2:] == [
        f"###### CLAB-{dlab.name}-START ######",
        f"{ips['d1']}\tclab-{dlab.name}-d1 {ids['d1']}\t# Kind: linux",
        f"{ips['d2']}\tclab-{dlab.name}-d2 {ids['d2']}\t# Kind: linux",
        f"###### CLAB-{dlab.name}-END ######"]
    lab_dir = dlab.dir / f"clab-{dlab.name}"
    ansible = yaml.safe_load((lab_dir / "ansible-inventory.yml").read_text())["all"]
    hosts = ansible["children"]["linux"]["hosts"]
    assert hosts == {f"clab-{dlab.name}-{n}": {"ansible_host": ips[n]} for n in ips}
    assert ansible["children"]["core"]["hosts"] == {
        f"clab-{dlab.name}-d1": {"ansible_host": ips["d1"]}}
    assert ansible["children"]["netns"]["hosts"] == {f"clab-{dlab.name}-n1": {
        "ansible_host": None}}  # no management address: empty, as containerlab writes
    nornir = yaml.safe_load((lab_dir / "nornir-simple-inventory.yml").read_text())
    assert {n: nornir[n]["hostname"] for n in ips} == ips
    data = json.loads((lab_dir / "topology-data.json").read_text())
    mgmt = data["clab"]["config"]["mgmt"]  # the bridge as Docker named it, as containerlab
    assert list(mgmt) == ["network", "bridge", "ipv4-subnet"]
    assert (mgmt["network"], mgmt["ipv4-subnet"]) == (f"nkf-{dlab.tag}", f"172.29.{net}.0/24")
    d1 = data["nodes"]["d1"]
    assert (d1["mgmt-net"], d1["mgmt-ipv4-address"], d1["mgmt-ipv4-prefix-length"]) == (
        f"nkf-{dlab.tag}", ips["d1"], 24)
    assert d1["image"] == IMAGE and d1["labels"]["clab-node-kind"] == "linux"
    ssh = (SSH_DIR / f"clab-{dlab.name}.conf").read_text()
    assert f"Host clab-{dlab.name}-d1 {ids['d1']}\n" in ssh
    gone = run_cli("destroy", "-t", topo, "--quiet")
    assert gone.returncode == 0, gone.stderr
    assert_gone(dlab, host_files)
