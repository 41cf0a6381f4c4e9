"""Link impairment on Docker nodes: set from the file and by `tools netem` (the node named
by its container), and back through reconcile after `docker restart` of a gate node (its
container holds the namespace) and after a sandbox is lost (a new sandbox, a new namespace)."""

from __future__ import annotations

import json

from tests.integration.conftest import run_cli

from .conftest import IMAGE, DockerLab

LAB = f"""
name: LAB
topology:
  nodes:
    g: {{kind: linux, image: {IMAGE}, cmd: sleep 3600, start-strategy: gate}}
    s: {{kind: linux, image: {IMAGE}, cmd: sleep 3600}}
    n: {{kind: netns}}
  links:
    - endpoints: ["s:eth1", "n:eth3"]
      impairment: {{rate: 2mbit}}
    - endpoints: ["g:eth1", "n:eth1"]
      ipv4: ["10.33.0.1/24", "10.33.0.2/24"]
      impairment: {{rate: 1mbit}}
    - endpoints: ["g:eth2", "n:eth2"]
"""


def rates(container: str) -> dict[str, int]:
    out = run_cli("tools", "netem", "show", "-n", container, "-f", "json")
    assert out.returncode == 0, out.stderr
    return {row["interface"]: row["rate"] for row in json.loads(out.stdout)[container]}


def test_docker_node_impairments_come_back_after_docker_restart(dlab: DockerLab) -> None:
    topo = str(dlab.write(LAB))
    g = f"clab-{dlab.name}-g"
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0, "deploy"
    set_ = run_cli("tools", "netem", "set", "-n", g, "-i", "eth2", "--rate", "500")
    assert set_.returncode == 0, set_.stderr
    assert rates(g) == {"eth1": 1000, "eth2": 500}
    s = f"clab-{dlab.name}-s"  # the default strategy: a sandbox holds the namespace
    assert rates(s) == {"eth1": 2000}
    dlab.api.restart(g, timeout=1)
    dlab.api.kill(f"{s}-sandbox")  # a new sandbox, a new namespace
    fixed = run_cli("reconcile", "-t", topo)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert rates(g) == {"eth1": 1000, "eth2": 500}
    assert rates(s) == {"eth1": 2000}
    ping = run_cli("exec", "-t", topo, "--node", "n", "--", "ping", "-c1", "-W2", "10.33.0.1")
    assert ping.returncode == 0, ping.stdout
    assert run_cli("destroy", "-t", topo).returncode == 0
