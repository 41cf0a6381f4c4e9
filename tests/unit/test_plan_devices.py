"""Plans for labs across hosts and for the single-ended link types: pure, no root."""

from __future__ import annotations

import pytest

from netknit._errors import PlanError
from netknit.plan import (
    Configure,
    CreateDevice,
    CreateNode,
    CreateVeth,
    EnsureBridge,
    MoveDevice,
    Stitch,
    build,
)
from netknit.topology import loads

TWO_HOSTS = """
name: mh
hosts:
  A: {address: 192.0.2.1}
  B: {address: 192.0.2.2, mtu: 9000}
topology:
  defaults: {kind: netns}
  nodes:
    a1: {host: A}
    a2: {host: A}
    b1: {host: B}
    br: {kind: bridge, host: B}
  links:
    - endpoints: [a1:eth1, b1:eth1]
      ipv4: [10.0.0.1/24, 10.0.0.2/24]
    - endpoints: [a1:eth2, a2:eth1]
    - endpoints: [a2:eth2, br:p-a2]
"""


def test_each_host_plans_only_its_nodes_and_its_end_of_cross_links() -> None:
    topo = loads(TWO_HOSTS)
    plan_a, plan_b = build(topo, "A"), build(topo, "B")
    assert sorted(plan_a.nodes) == ["a1", "a2"]
    assert sorted(plan_b.nodes) == ["b1", "br"]
    dev_a = [a for a in plan_a.actions.values() if isinstance(a, CreateDevice)]
    dev_b = [a for a in plan_b.actions.values() if isinstance(a, CreateDevice)]
    # a1:eth1 <-> b1:eth1 and a2:eth2 <-> br: one VXLAN end on each side
    assert sorted(d.iface.name for d in dev_a) == ["eth1", "eth2"]
    assert sorted(d.iface.name for d in dev_b) == ["eth1", "p-a2"]
    by_name = {d.iface.name: d for d in dev_a}
    tunnel = by_name["eth1"].vxlan
    assert tunnel is not None
    assert (tunnel.remote, tunnel.local, tunnel.dst_port) == ("192.0.2.2", "192.0.2.1", 14789)
    peer = {d.iface.name: d for d in dev_b}["eth1"].vxlan
    assert peer is not None and peer.vni == tunnel.vni  # the same VNI on both hosts
    assert (peer.remote, peer.local) == ("192.0.2.1", "192.0.2.2")
    # the smaller underlay MTU decides: 1500 - 50
    assert by_name["eth1"].iface.mtu == 1450
    # the bridge end on B is a VXLAN port of the bridge, in B's host namespace
    port = {d.iface.name: d for d in dev_b}["p-a2"]
    assert port.iface.netns is None and port.iface.master == "br"
    assert port.id in plan_b.deps and "bridge:br" in plan_b.deps[port.id]
    # the local link stays a veth pair
    assert [a.main.name for a in plan_a.actions.values() if isinstance(a, CreateVeth)] == ["eth2"]


def test_vni_is_stable_across_loads() -> None:
    first = build(loads(TWO_HOSTS), "A")
    again = build(loads(TWO_HOSTS), "A")
    vnis = sorted(a.vxlan.vni for a in first.actions.values()
                  if isinstance(a, CreateDevice) and a.vxlan)
    assert vnis == sorted(a.vxlan.vni for a in again.actions.values()
                          if isinstance(a, CreateDevice) and a.vxlan)
    assert len(set(vnis)) == 2


def test_a_lab_across_hosts_needs_a_host_to_plan() -> None:
    topo = loads(TWO_HOSTS)
    with pytest.raises(PlanError, match="--host"):
        build(topo)
    with pytest.raises(PlanError, match="unknown host 'C'"):
        build(topo, "C")


SINGLE = """
name: st
mgmt: {bridge: mgbr}
topology:
  defaults: {kind: netns}
  nodes:
    n1: {}
  links:
    - type: vxlan
      endpoint: {node: n1, interface: vx0}
      remote: 192.0.2.9
      vni: 77
    - type: vxlan-stitch
      endpoint: {node: n1, interface: eth1}
      remote: 192.0.2.9
      vni: 78
    - type: macvlan
      endpoint: {node: n1, interface: eth2}
      host-interface: par0
      mode: vepa
    - type: mgmt-net
      endpoint: {node: n1, interface: eth3}
      host-interface: mg-n1
    - type: host-device
      endpoint: {node: n1, interface: eth4}
      host-interface: ens9
"""


def test_single_ended_types_plan_the_right_actions() -> None:
    plan = build(loads(SINGLE, runtime="netns"))
    devices = {a.iface.name: a for a in plan.actions.values() if isinstance(a, CreateDevice)}
    assert devices["vx0"].kind == "vxlan" and devices["vx0"].iface.netns == "clab-st-n1"
    assert devices["vx0"].vxlan is not None and devices["vx0"].vxlan.vni == 77
    assert devices["eth2"].kind == "macvlan" and devices["eth2"].parent == "par0"
    assert devices["eth2"].mode == "vepa"
    # vxlan-stitch: veth node <-> ve-n1_eth1 in the host, vx-n1_eth1 in the host, tc between
    stitch_dev = devices["vx-n1_eth1"]
    assert stitch_dev.iface.netns is None
    veths = {a.main.name: a for a in plan.actions.values() if isinstance(a, CreateVeth)}
    assert veths["ve-n1_eth1"].peer.name == "eth1"
    assert veths["ve-n1_eth1"].main.mtu == 1450  # the tunnel's MTU, so nothing is dropped
    stitches = [a for a in plan.actions.values() if isinstance(a, Stitch)]
    assert [(s.a, s.b) for s in stitches] == [("ve-n1_eth1", "vx-n1_eth1")]
    assert plan.deps[stitches[0].id] == {"veth:host/ve-n1_eth1", "device:host/vx-n1_eth1"}
    # mgmt-net: a veth whose host end is a port of the management bridge, which is made
    assert veths["mg-n1"].main.master == "mgbr"
    assert any(isinstance(a, EnsureBridge) and a.name == "mgbr" for a in plan.actions.values())
    # host-device: moved in, keeps its own MAC
    moves = [a for a in plan.actions.values() if isinstance(a, MoveDevice)]
    assert [(m.source, m.iface.name, m.iface.mac) for m in moves] == [("ens9", "eth4", "")]
    # the node's configuration waits for every interface that lands in it
    configure = next(a for a in plan.actions.values()
                     if isinstance(a, Configure) and a.netns == "clab-st-n1")
    assert {"device:clab-st-n1/vx0", "move:clab-st-n1/eth4"} <= plan.deps[configure.id]
    # and every device waits for its node to enter create-links (the namespace exists)
    assert all("on-enter:create-links:n1" in plan.deps[d.id] for d in devices.values()
               if d.iface.netns is not None)
    assert any(isinstance(a, CreateNode) for a in plan.actions.values())
