"""The plan layer: pure, no root."""

from __future__ import annotations

from netknit.plan import (
    Configure,
    CreateNode,
    CreateVeth,
    EnsureBridge,
    Exec,
    StartNode,
    build,
    derive_mac,
)
from netknit.topology import loads

TOPO = """
name: p1
topology:
  nodes:
    a: {kind: netns, cmd: "sleep 1", exec: ["true"]}
    b: {kind: netns}
    br0: {kind: bridge}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.0.0.1/24", "10.0.0.2/24"]
    - endpoints: ["b:eth2", "br0:p-b"]
    - endpoints: ["a:eth2", "host:h-a"]
"""


def test_mac_is_stable_local_unicast_and_distinct() -> None:
    mac = derive_mac("lab", "a", "eth1")
    assert mac == derive_mac("lab", "a", "eth1")
    first = int(mac.split(":")[0], 16)
    assert first & 0x02 and not first & 0x01
    macs = {derive_mac("lab", f"n{i}", f"eth{j}") for i in range(300) for j in range(8)}
    assert len(macs) == 2400


def test_waves_order_nodes_links_configure_start_exec() -> None:
    plan = build(loads(TOPO))
    kinds = [sorted({type(a).__name__ for a in wave}) for wave in plan.waves()]
    assert kinds[0] == sorted([CreateNode.__name__, EnsureBridge.__name__])
    assert kinds[1] == [CreateVeth.__name__]
    assert Configure.__name__ in kinds[2]
    flat = [type(a) for wave in plan.waves() for a in wave]
    assert flat.index(StartNode) > max(i for i, t in enumerate(flat) if t is Configure)
    assert flat.index(Exec) > flat.index(StartNode)


def test_host_side_end_is_the_main_end_and_names_follow_prefix() -> None:
    plan = build(loads(TOPO))
    veths = {a.main.name: a for a in plan.actions.values() if isinstance(a, CreateVeth)}
    port = veths["p-b"]
    assert port.main.netns is None and port.main.master == "br0"
    assert port.peer.netns == "clab-p1-b" and port.peer.name == "eth2"
    host = veths["h-a"]
    assert host.main.netns is None and host.peer.netns == "clab-p1-a"
    assert veths["eth1"].main.netns == "clab-p1-a"
    assert veths["eth1"].peer.netns == "clab-p1-b"
    assert [str(x) for x in veths["eth1"].main.addresses] == ["10.0.0.1/24"]


def test_every_node_namespace_gets_a_configure_step() -> None:
    plan = build(loads("name: p2\ntopology:\n  nodes:\n    lone: {kind: netns}\n"))
    assert [a.netns for a in plan.actions.values() if isinstance(a, Configure)] == ["clab-p2-lone"]
