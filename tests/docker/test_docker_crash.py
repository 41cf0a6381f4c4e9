"""kill -9 during a Docker deploy, at every crash point: `destroy` then leaves no
container, sandbox, network, namespace or interface of the lab."""

from __future__ import annotations

import subprocess

from tests.integration.conftest import crash_sweep, run_cli

from .conftest import IMAGE, DockerLab

TOPO = """
name: LAB
mgmt: {network: nkc-TAG, ipv4-subnet: 172.30.TAGNET.0/24}
topology:
  defaults: {kind: linux, image: IMAGE, cmd: "sleep 3600"}
  nodes:
    s: {}
    g: {start-strategy: gate}
    n: {start-strategy: none}
    h: {kind: netns}
  links:
    - endpoints: ["s:eth1", "g:eth1"]
      ipv4: ["10.6.0.1/30", "10.6.0.2/30"]
    - endpoints: ["g:eth2", "h:eth1"]
    - endpoints: ["n:eth1", "host:hTAG-n"]
"""


def test_kill_9_at_every_point_of_a_docker_deploy_then_destroy(dlab: DockerLab) -> None:
    net = str(int(dlab.tag, 16) % 200 + 20)
    topo = dlab.write(TOPO.replace("IMAGE", IMAGE).replace("TAGNET", net))
    dlab.networks.append(f"nkc-{dlab.tag}")  # made by netknit: it goes with the lab

    def attempt(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        deployed = run_cli("deploy", "-t", str(topo), "--quiet", env=env)
        gone = run_cli("destroy", "-t", str(topo))
        assert gone.returncode == 0, gone.stderr
        assert dlab.leftovers() == [], f"crash point {env}: {dlab.leftovers()}"
        return deployed

    killed = crash_sweep(attempt, limit=100)
    assert killed >= 10  # intents, containers, links, starts: each was a crash point
