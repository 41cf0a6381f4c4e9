"""Planning Docker nodes: container names, labels and env fixed up front; the workload
starts after its namespace is wired; shared-namespace nodes start after their owner."""

from __future__ import annotations

from textwrap import dedent

from netknit.plan import CreateNode, StartNode, build
from netknit.topology import loads

LAB = dedent("""\
    name: lab1
    topology:
      defaults: {kind: linux, image: "img:1", labels: {team: net}}
      nodes:
        a: {cmd: "sleep 1"}
        b: {network-mode: "container:a"}
        c: {kind: netns}
      links:
        - endpoints: ["a:eth1", "c:eth1"]
        - endpoints: ["a:uplink0", "c:eth2"]
    """)


def test_container_spec_follows_containerlab() -> None:
    plan = build(loads(LAB))
    a = plan.nodes["a"].container
    assert a is not None
    assert a.name == "clab-lab1-a" and a.sandbox_name == "clab-lab1-a-sandbox"
    assert a.env["NETKNIT_INTFS"] == "eth1,uplink0" and a.env["CLAB_INTFS"] == "2"  # every endpoint
    assert a.labels["containerlab"] == "lab1" and a.labels["clab-node-name"] == "a"
    assert a.labels["clab-node-kind"] == "linux" and a.labels["team"] == "net"
    assert a.strategy == "sandbox" and a.network_mode == "none"
    b = plan.nodes["b"].container
    assert b is not None and b.network_mode == "container:clab-lab1-a"
    assert plan.nodes["b"].netns is None and plan.nodes["c"].container is None


def test_workload_starts_after_wiring_and_shared_nodes_after_their_owner() -> None:
    plan = build(loads(LAB))
    order = {a.id: k for k, wave in enumerate(plan.waves()) for a in wave}
    assert order["node:a"] < order["veth:clab-lab1-a/eth1"] < order["configure:clab-lab1-a"]
    assert order["configure:clab-lab1-a"] < order["start:a"] < order["start:b"]
    assert isinstance(plan.actions["start:a"], StartNode)
    assert not any(isinstance(x, CreateNode) and x.node.name == "b"
                   for x in plan.actions.values())
