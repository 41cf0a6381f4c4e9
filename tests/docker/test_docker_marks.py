"""A Docker lab whose journal is lost (lab directory deleted) is still destroyed whole:
its containers and network by their labels, its namespaces and links by their marks."""

from __future__ import annotations

import shutil

from tests.integration.conftest import run_cli

from .conftest import IMAGE, DockerLab

TOPO = """
name: LAB
mgmt: {network: nkm-TAG, ipv4-subnet: 172.30.TAGNET.0/24}
topology:
  defaults: {kind: linux, image: IMAGE, cmd: "sleep 3600"}
  nodes:
    s: {}
    g: {start-strategy: gate}
    h: {kind: netns}
  links:
    - endpoints: ["s:eth1", "g:eth1"]
      ipv4: ["10.6.0.1/30", "10.6.0.2/30"]
    - endpoints: ["g:eth2", "h:eth1"]
    - endpoints: ["s:eth2", "host:hTAG-s"]
"""


def test_destroy_finds_a_docker_lab_whose_directory_was_deleted(dlab: DockerLab) -> None:
    net = str(int(dlab.tag, 16) % 200 + 20)
    topo = dlab.write(TOPO.replace("IMAGE", IMAGE).replace("TAGNET", net))
    dlab.networks.append(f"nkm-{dlab.tag}")  # netknit made it, no journal names it: it goes
    done = run_cli("deploy", "-t", str(topo), "--quiet")
    assert done.returncode == 0, done.stderr
    assert len(dlab.containers()) >= 3  # sandboxes and workloads
    shutil.rmtree(dlab.dir / f"clab-{dlab.name}")
    gone = run_cli("destroy", "-t", str(topo))
    assert gone.returncode == 0, gone.stderr
    assert dlab.leftovers() == []
