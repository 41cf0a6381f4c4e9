"""The lab files against containerlab's templates, with fixed inputs (no root, no I/O).

The expected texts are what containerlab's templates render for the same lab:
``core/assets/inventory_ansible.go.tpl``, ``inventory_nornir_simple.go.tpl``,
``ssh_config.go.tpl``, ``core/export_templates/auto.tmpl`` and ``core/hostsfile.go``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netknit.plan import MgmtAddress, build
from netknit.plan._labfiles import (
    LabNode,
    UnterminatedBlock,
    ansible_inventory,
    hosts_block,
    lab_nodes,
    nornir_inventory,
    ssh_config,
    topology_data,
    with_block,
    without_block,
)
from netknit.topology import load

LAB = """
name: files
mgmt: {network: fnet, ipv4-subnet: 172.30.0.0/24}
topology:
  nodes:
    r2: {kind: linux, image: img:1, labels: {ansible-group: spines, nornir-group-a: x}}
    r1: {kind: linux, image: img:1}
    n1: {kind: netns, labels: {ansible-no-host-var: "true"}}
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
      ipv4: ["10.0.0.1/30", "10.0.0.2/30"]
    - type: veth
      endpoints:
        - {node: r1, interface: eth2, mac: "02:00:00:00:00:01"}
        - {node: n1, interface: eth1}
"""

ID1 = "a1b2c3d4e5f60123456789"
ADDRS = {
    "r1": MgmtAddress(ID1, "172.30.0.2", 24, "3fff::2", 64, "02:42:ac:1e:00:02"),
    "r2": MgmtAddress("0123456789abcdef", "172.30.0.3", 24),
}


@pytest.fixture
def nodes(tmp_path: Path) -> list[LabNode]:
    path = tmp_path / "files.clab.yml"
    path.write_text(LAB)
    topo = load(path)
    return lab_nodes(topo, build(topo), "/labs/clab-files", ADDRS)


def test_ansible_inventory_groups_by_kind_then_by_ansible_group(nodes: list[LabNode]) -> None:
    assert ansible_inventory(nodes).decode() == """\
all:
  vars:
    # The generated inventory is assumed to be used from the clab host.
    # Hence no http proxy should be used. Therefore we make sure the http
    # module does not attempt using any global http proxy.
    ansible_httpapi_use_proxy: false
  children:
    linux:
      hosts:
        clab-files-r1:
          ansible_host: 172.30.0.2
        clab-files-r2:
          ansible_host: 172.30.0.3
    netns:
      hosts:
        clab-files-n1:
    spines:
      hosts:
        clab-files-r2:
          ansible_host: 172.30.0.3
"""


def test_nornir_inventory_has_platform_hostname_and_groups(nodes: list[LabNode]) -> None:
    no_creds = "    username: \n    password: \n"  # empty, with the space (as Go renders)
    assert nornir_inventory(nodes).decode() == (
        "---\n"
        f"r1:\n{no_creds}    platform: linux\n    hostname: 172.30.0.2\n"
        f"r2:\n{no_creds}    platform: linux\n    hostname: 172.30.0.3\n"
        "    groups:\n      - x\n"
        f"n1:\n{no_creds}    platform: netns\n    hostname: \n")


def test_ssh_config_names_the_node_and_its_short_container_id(nodes: list[LabNode]) -> None:
    assert ssh_config("files", nodes).decode() == """\
# Containerlab SSH Config for the files lab
Host clab-files-n1
\tStrictHostKeyChecking=no
\tUserKnownHostsFile=/dev/null

Host clab-files-r1 a1b2c3d4e5f6
\tStrictHostKeyChecking=no
\tUserKnownHostsFile=/dev/null

Host clab-files-r2 0123456789ab
\tStrictHostKeyChecking=no
\tUserKnownHostsFile=/dev/null
"""


def test_hosts_block_lists_ipv4_then_ipv6_and_skips_nodes_without_address(
        nodes: list[LabNode]) -> None:
    assert hosts_block("files", nodes).decode() == (
        "###### CLAB-files-START ######\n"
        "172.30.0.2\tclab-files-r1 a1b2c3d4e5f6\t# Kind: linux\n"
        "172.30.0.3\tclab-files-r2 0123456789ab\t# Kind: linux\n"
        "3fff::2\tclab-files-r1 a1b2c3d4e5f6\t# Kind: linux\n"
        "###### CLAB-files-END ######\n")


def test_topology_data_has_containerlabs_keys_in_order(nodes: list[LabNode],
                                                      tmp_path: Path) -> None:
    topo = load(tmp_path / "files.clab.yml")
    data = json.loads(topology_data(topo, nodes, "/labs/clab-files", ["ssh-ed25519 AAAA"]))
    assert list(data) == ["name", "type", "clab", "ssh-pub-keys", "nodes", "links"]
    assert data["clab"]["config"]["prefix"] == "clab"
    assert data["clab"]["config"]["mgmt"]["network"] == "fnet"
    assert data["ssh-pub-keys"] == ["ssh-ed25519 AAAA"]
    r1 = data["nodes"]["r1"]
    assert list(r1) == [
        "index", "shortname", "longname", "fqdn", "group", "labdir", "kind", "image",
        "mgmt-net", "mgmt-intf", "mgmt-ipv4-address", "mgmt-ipv4-prefix-length",
        "mgmt-ipv6-address", "mgmt-ipv6-prefix-length", "mac-address", "labels",
        "port-bindings"]
    assert (r1["index"], r1["longname"], r1["fqdn"], r1["labdir"]) == (
        "1", "clab-files-r1", "r1.files.io", "/labs/clab-files/r1")
    assert (r1["mgmt-ipv4-address"], r1["mgmt-ipv4-prefix-length"]) == ("172.30.0.2", 24)
    assert (r1["mgmt-ipv6-address"], r1["mac-address"]) == ("3fff::2", "02:42:ac:1e:00:02")
    assert r1["labels"]["clab-node-kind"] == "linux"
    assert list(r1["labels"]) == sorted(r1["labels"])
    n1 = data["nodes"]["n1"]
    assert (n1["mgmt-ipv4-address"], n1["mgmt-ipv4-prefix-length"]) == ("", 0)
    first, second = data["links"]
    assert first == {"endpoints": {
        "a": {"node": "r1", "interface": "eth1", "mac": "", "ipv4": "10.0.0.1/30",
              "peer": "z"},
        "z": {"node": "r2", "interface": "eth1", "mac": "", "ipv4": "10.0.0.2/30",
              "peer": "a"}}}
    assert second["endpoints"]["a"]["mac"] == "02:00:00:00:00:01"


BLOCK = b"###### CLAB-files-START ######\n1.1.1.1\ta\n###### CLAB-files-END ######\n"


@pytest.mark.parametrize("before", [
    b"127.0.0.1\tlocalhost\n",
    b"",
    b"1.2.3.4 x\n###### CLAB-other-START ######\n5.6.7.8 y\n###### CLAB-other-END ######\n\n",
])
def test_the_block_comes_and_goes_leaving_every_other_byte(before: bytes) -> None:
    added = with_block(before, "files", BLOCK)
    assert added == before + BLOCK
    assert with_block(added, "files", BLOCK) == added  # deploy again: still one block
    assert without_block(added, "files") == before
    assert without_block(before, "files") == before


def test_a_last_line_without_newline_is_not_glued_to_the_block() -> None:
    added = with_block(b"1.2.3.4 x", "files", BLOCK)
    assert added == b"1.2.3.4 x\n" + BLOCK  # containerlab appends right after "x"
    assert without_block(added, "files") == b"1.2.3.4 x\n"


def test_an_unterminated_block_leaves_the_file_alone() -> None:
    with pytest.raises(UnterminatedBlock):
        without_block(b"a\n###### CLAB-files-START ######\n1.1.1.1\ta\n", "files")


def test_the_mark_keeps_another_labs_block_of_the_same_name(nodes: list[LabNode]) -> None:
    theirs = hosts_block("files", nodes, "netknit-lab 1111 files")
    ours = hosts_block("files", nodes, "netknit-lab 2222 files")
    assert ours.splitlines()[1] == b"# netknit-lab 2222 files"
    both = with_block(theirs, "files", ours, "netknit-lab 2222 files")
    assert both == theirs + ours
    assert without_block(both, "files", "netknit-lab 2222 files") == theirs
    assert ssh_config("files", nodes, "netknit-lab 2222 files").splitlines()[1] == (
        b"# netknit-lab 2222 files")


def test_topology_data_carries_link_and_endpoint_vars_and_the_node_group(
        tmp_path: Path) -> None:
    path = tmp_path / "vars.clab.yml"
    path.write_text("""
name: vars
topology:
  nodes:
    r1: {kind: linux, image: img:1, group: spine}
    n1: {kind: netns}
  links:
    - type: veth
      endpoints:
        - {node: r1, interface: eth1, vars: {vlan: 10}}
        - {node: n1, interface: eth1}
      vars: {role: uplink}
""")
    topo = load(path)
    found = lab_nodes(topo, build(topo), "/labs/clab-vars", {})
    data = json.loads(topology_data(topo, found, "/labs/clab-vars"))
    (link,) = data["links"]
    assert link["vars"] == {"role": "uplink"}
    assert link["endpoints"]["a"]["vars"] == {"vlan": 10}
    assert "vars" not in link["endpoints"]["z"]  # as containerlab: no key for none
    assert data["nodes"]["r1"]["group"] == "spine"
    assert data["nodes"]["r1"]["labels"]["clab-node-group"] == "spine"
