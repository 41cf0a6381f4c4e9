"""Stages on Docker nodes: wait-for on a container's health, hooks in the container."""

from __future__ import annotations

from tests.integration.conftest import run_cli

from .conftest import IMAGE, DockerLab

STAGED = f"""
name: LAB
topology:
  nodes:
    a:
      kind: linux
      image: {IMAGE}
      cmd: sleep 3600
      healthcheck: {{test: [CMD-SHELL, "ip -o link show eth1"], interval: 1, retries: 3}}
      stages:
        create-links:
          exec: [{{command: "ip -o addr show eth1", phase: on-exit}}]
    b:
      kind: netns
      stages:
        create:
          wait-for: [{{node: a, stage: healthy}}]
          exec: [{{command: "sh -c 'echo b >> order.txt'", target: host}}]
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.6.0.1/24", "10.6.0.2/24"]
"""


def test_netns_node_waits_for_a_healthy_container(dlab: DockerLab) -> None:
    topo = str(dlab.write(STAGED))
    deployed = run_cli("deploy", "-t", topo)
    assert deployed.returncode == 0, deployed.stderr
    # the container hook ran inside a once its links were up
    assert "10.6.0.1/24" in deployed.stderr
    assert (dlab.dir / "order.txt").read_text().split() == ["b"]
    assert dlab.container("a")["State"]["Health"]["Status"] == "healthy"
    ping = run_cli("exec", "-t", topo, "--node", "b", "--", "ping", "-c1", "-W2", "10.6.0.1")
    assert ping.returncode == 0, ping.stdout
    assert run_cli("destroy", "-t", topo).returncode == 0
