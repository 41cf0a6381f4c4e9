"""The CLI on a lab with Docker nodes, as a containerlab user's scripts read it: inspect
rows with container ids, images and management addresses; exec -f json on containers
chosen by label; inspect interfaces with the management interface; --all finding the lab
by its containers' labels when nothing else says where it is."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.conftest import run_cli

from .conftest import IMAGE, DockerLab

LAB = """
name: LAB
mgmt: {network: nkc-TAG, ipv4-subnet: 172.30.NET.0/24}
topology:
  nodes:
    d1: {kind: linux, image: IMAGE, cmd: sleep 3600, mgmt-ipv4: 172.30.NET.11,
         labels: {role: edge}}
    d2: {kind: linux, image: IMAGE, cmd: sleep 3600, group: spine}
    n1: {kind: netns, labels: {role: edge}}
  links:
    - endpoints: ["d1:eth1", "n1:eth1"]
      ipv4: ["10.78.1.1/24", "10.78.1.2/24"]
    - endpoints: ["d1:eth2", "d2:eth1"]
"""


def test_inspect_and_exec_on_docker_nodes_as_containerlab_prints_them(dlab: DockerLab) -> None:
    net = str(int(dlab.tag, 16) % 200 + 20)
    topo = dlab.write(LAB.replace("IMAGE", IMAGE).replace("NET", net))
    deployed = run_cli("deploy", "-t", str(topo))
    assert deployed.returncode == 0, deployed.stderr
    assert f"clab-{dlab.name}-d1" in deployed.stdout and "Kind/Image" in deployed.stdout
    shown = run_cli("inspect", "-t", str(topo), "-f", "json")
    assert shown.returncode == 0, shown.stderr
    rows = {r["name"]: r for r in json.loads(shown.stdout)[dlab.name]}
    assert sorted(rows) == [f"clab-{dlab.name}-{n}" for n in ("d1", "d2", "n1")]
    d1, d2, n1 = (rows[f"clab-{dlab.name}-{n}"] for n in ("d1", "d2", "n1"))
    container = dlab.container("d1")
    assert d1["container_id"] == container["Id"][:12]
    assert (d1["image"], d1["kind"], d1["state"]) == (IMAGE, "linux", "running")
    assert d1["ipv4_address"] == f"172.30.{net}.11/24" and d1["ipv6_address"] == "N/A"
    assert d1["owner"] == container["Config"]["Labels"]["clab-owner"]
    assert d1["absLabPath"] == str(topo) and d1["labPath"] in (str(topo), "lab.clab.yml")
    assert d2["group"] == "spine" and d2["ipv4_address"].startswith(f"172.30.{net}.")
    assert d2["container_id"] == dlab.container("d2")["Id"][:12]
    assert (n1["kind"], n1["container_id"], n1["ipv4_address"]) == ("netns", "", "N/A")

    # exec on the nodes a label picks, Docker and namespace alike
    ran = run_cli("exec", "-t", str(topo), "--label", "role=edge", "--cmd",
                  "ip -o addr show eth1", "--cmd", "sh -c 'echo e >&2; exit 2'", "-f", "json")
    assert ran.returncode == 2, ran.stderr
    out = json.loads(ran.stdout)
    assert list(out) == [f"clab-{dlab.name}-d1", f"clab-{dlab.name}-n1"]
    d1_out = out[f"clab-{dlab.name}-d1"]
    assert "10.78.1.1/24" in d1_out[0]["stdout"] and d1_out[0]["return-code"] == 0
    assert (d1_out[1]["stdout"], d1_out[1]["stderr"], d1_out[1]["return-code"]) == (
        "", "e\n", 2)
    kinds = run_cli("exec", "-t", str(topo), "--label", "clab-node-kind=linux", "--cmd",
                    "ip -o link show eth1", "-f", "json")
    assert kinds.returncode == 0, kinds.stdout + kinds.stderr
    assert list(json.loads(kinds.stdout)) == [f"clab-{dlab.name}-d1", f"clab-{dlab.name}-d2"]

    # interfaces: eth0 on the management network is the container's, eth1 the lab's
    view = json.loads(run_cli("inspect", "interfaces", "-t", str(topo), "-n", "d1", "-f",
                              "json").stdout)
    ifaces = {i["name"]: i for i in view[0]["interfaces"]}
    assert view[0]["name"] == f"clab-{dlab.name}-d1"
    assert not ifaces["eth0"]["managed"] and f"172.30.{net}.11/24" in ifaces["eth0"]["addresses"]
    assert ifaces["eth1"]["managed"] and ifaces["eth1"]["drift"] == []
    assert ifaces["eth1"]["state"] == "up" and ifaces["eth1"]["type"] == "veth"

    # the lab's containers carry its directory: --all finds it without deploy's note
    for note in Path("/run/netknit/labs").glob("*.json"):
        if json.loads(note.read_text())["lab"] == dlab.name:
            note.unlink()
    every = json.loads(run_cli("inspect", "--all", "-f", "json", cwd=Path("/")).stdout)
    assert sorted(r["name"] for r in every[dlab.name]) == sorted(rows)
    gone = run_cli("destroy", "--name", dlab.name, cwd=Path("/"))
    assert gone.returncode == 0, gone.stderr
    assert dlab.leftovers() == []


def test_inspect_all_says_which_lab_it_cannot_see(dlab: DockerLab) -> None:
    """A lab of Docker nodes only, its engine out of reach (DOCKER_HOST at a socket that
    does not exist): `inspect --all` still answers, and names the lab it cannot show."""
    topo = dlab.write(f"""
name: LAB
topology:
  nodes:
    d1: {{kind: linux, image: {IMAGE}, cmd: sleep 3600, network-mode: none}}
""")
    deployed = run_cli("deploy", "-t", str(topo), "--quiet")
    assert deployed.returncode == 0, deployed.stderr
    away = {"DOCKER_HOST": f"unix://{dlab.dir}/no-engine.sock"}
    shown = run_cli("inspect", "--all", "-f", "json", cwd=Path("/"), env=away)
    assert shown.returncode == 0, shown.stderr
    assert dlab.name not in json.loads(shown.stdout or "{}")
    assert f"lab {dlab.name!r}" in shown.stderr and "engine running" in shown.stderr
    assert "Traceback" not in shown.stderr
    # with its engine back in reach: listed, no warning about it
    shown = run_cli("inspect", "--all", "-f", "json", cwd=Path("/"))
    assert [r["name"] for r in json.loads(shown.stdout)[dlab.name]] == [f"clab-{dlab.name}-d1"]
    assert f"lab {dlab.name!r}" not in shown.stderr
