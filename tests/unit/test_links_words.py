"""What the link types say about their actions: the rows of ``netknit plan``, reconcile's
repair words, the checks before a deploy and the hints on kernel errors (the engine asks
:mod:`netknit.links` for them). Expected texts are the ones netknit printed before link
types became modules."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from netknit import links
from netknit._errors import KernelError
from netknit.cli import _plan_rows
from netknit.links._base import Facts
from netknit.plan import CreateDevice, CreateVeth, MoveDevice, Plan, build
from netknit.topology import loads

ALL = """\
name: all
mgmt: {bridge: mgbr0}
topology:
  defaults: {kind: netns}
  nodes:
    a: {}
    b: {}
    c: {}
    br: {kind: bridge}
    h: {kind: host}
  links:
    - endpoints: [a:eth1, b:eth1]
      ipv4: [10.0.0.1/24, 10.0.0.2/24]
    - endpoints: [a:eth2, br:br-a]
    - endpoints: [b:eth2, host:b-eth2]
    - endpoints: [c:eth5, h:c-eth5]
    - {type: host, endpoint: {node: c, interface: eth1}, host-interface: c-eth1}
    - {type: vxlan, endpoint: {node: a, interface: vx1}, remote: 192.0.2.9, vni: 100,
       udp-port: 4789}
    - {type: vxlan, endpoint: {node: a, interface: vx2}, remote: 192.0.2.9, vni: 101,
       parent-interface: eth0, mtu: 1400}
    - {type: vxlan-stitch, endpoint: {node: b, interface: vs1}, remote: 192.0.2.9, vni: 102}
    - {type: macvlan, endpoint: {node: c, interface: mv1}, host-interface: par0, mode: vepa}
    - endpoints: ["c:mv2", "macvlan:par0"]
    - {type: mgmt-net, endpoint: {node: a, interface: m9}, host-interface: a-m9}
    - endpoints: ["mgmt-net:b-m9", "b:m9"]
    - {type: host-device, endpoint: {node: b, interface: hd1}, host-interface: enp9}
    - {type: host-device, endpoint: {node: c, interface: hd2}, hwaddr: "02:00:00:00:00:09"}
    - {type: dummy, endpoint: {node: c, interface: d0}}
"""
K = "mtu: kernel's"
ROWS = [
    ("namespace", "a", "clab-all-a", ""),
    ("namespace", "b", "clab-all-b", ""),
    ("namespace", "c", "clab-all-c", ""),
    ("veth", "a:eth1 <-> b:eth1", "clab-all-a / clab-all-b", "mtu 9500"),
    ("veth", "br:br-a <-> a:eth2", "host / clab-all-a", "mtu 9500, port of br"),
    ("veth", "host:b-eth2 <-> b:eth2", "host / clab-all-b", "mtu 9500"),
    ("veth", "h:c-eth5 <-> c:eth5", "host / clab-all-c", "mtu 9500"),
    ("veth", "host:c-eth1 <-> c:eth1", "host / clab-all-c", "mtu 9500"),
    ("vxlan", "a:vx1", "clab-all-a",
     "vni 100, remote 192.0.2.9, port 4789, mtu 1450, to vxlan 192.0.2.9 vni 100"),
    ("vxlan", "a:vx2", "clab-all-a",
     "vni 101, remote 192.0.2.9, port 14789, mtu 1400, to vxlan 192.0.2.9 vni 101"),
    ("veth", "host:ve-b_vs1 <-> b:vs1", "host / clab-all-b", "mtu 1450"),
    ("vxlan", "host:vx-b_vs1", "host",
     "vni 102, remote 192.0.2.9, port 14789, mtu 1450, to vxlan 192.0.2.9 vni 102"),
    ("tc stitch", "ve-b_vs1 <-> vx-b_vs1", "host", "both ways"),
    ("macvlan", "c:mv1", "clab-all-c", f"{K}, on par0, mode vepa, to macvlan on host:par0"),
    ("macvlan", "c:mv2", "clab-all-c", f"{K}, on par0, mode bridge, to macvlan on host:par0"),
    ("veth", "host:a-m9 <-> a:m9", "host / clab-all-a", "mtu 9500, port of mgbr0"),
    ("veth", "host:b-m9 <-> b:m9", "host / clab-all-b", "mtu 9500, port of mgbr0"),
    ("host-device", "b:hd1", "clab-all-b", "moved in: enp9"),
    ("host-device", "c:hd2", "clab-all-c", "moved in: the interface with MAC 02:00:00:00:00:09"),
    ("dummy", "c:d0", "clab-all-c", f"{K}, to dummy"),
    ("bridge", "br", "host", "mtu 9500"),
    ("bridge", "mgbr0", "host", "mtu 9500"),
]


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build(loads(ALL))


def _by_name(plan: Plan, kind: type, name: str) -> object:
    for action in plan.actions.values():
        made = getattr(action, "iface", None) or getattr(action, "peer", None)
        if isinstance(action, kind) and made is not None and made.name == name:
            return action
    raise AssertionError(name)


def test_plan_rows_of_every_type(plan: Plan) -> None:
    rows = [(r["what"], r["name"], r["where"], r["details"]) for r in _plan_rows(plan)]
    assert rows == ROWS


def test_repair_words(plan: Plan) -> None:
    veth = _by_name(plan, CreateVeth, "eth1")
    device = _by_name(plan, CreateDevice, "vx1")
    moved = _by_name(plan, MoveDevice, "hd2")
    assert isinstance(veth, CreateVeth) and isinstance(device, CreateDevice)
    assert isinstance(moved, MoveDevice)
    assert links.repair_words(veth) == "recreate link a:eth1 <-> b:eth1"
    assert links.repair_words(device) == "recreate vxlan a:vx1"
    assert links.repair_words(moved) == ("move the interface with MAC 02:00:00:00:00:09 in "
                                         "again as hd2")


def test_hints(plan: Plan) -> None:
    vxlan = _by_name(plan, CreateDevice, "vx1")
    dummy = _by_name(plan, CreateDevice, "d0")
    macvlan = _by_name(plan, CreateDevice, "mv1")
    assert isinstance(vxlan, CreateDevice) and isinstance(dummy, CreateDevice)
    assert isinstance(macvlan, CreateDevice)
    assert links.hint(vxlan, KernelError("create", 17)) == (
        "another VXLAN device on this host already uses VNI 100 on port 4789: give this "
        "link another vni")
    assert links.hint(dummy, KernelError("create", 95)) == (
        "this kernel has no dummy driver: `modprobe dummy`, or use another link type")
    assert links.hint(dummy, KernelError("create", 17)) is None
    assert links.hint(macvlan, KernelError("create", 95)) is None


def test_preflight(plan: Plan) -> None:
    asked = []

    def local() -> set[str]:
        asked.append(1)
        return {"192.0.2.9"}

    facts = Facts({"eth0": SimpleNamespace(mac="02:00:00:00:00:01")}, local, None)
    problems = [p for a in plan.actions.values() for p in links.preflight(a, facts)]
    remote = ("VXLAN remote 192.0.2.9 is an address of this host (topology.links[{}]): it "
              "must be the other end's")
    assert problems == [
        remote.format(5), remote.format(6), remote.format(7),
        "host interface par0 does not exist (topology.links[8]: c:mv1)",
        "host interface par0 does not exist (topology.links[9]: c:mv2)",
        "enp9 does not exist in the host namespace (topology.links[12]: for b:hd1)",
        "the interface with MAC 02:00:00:00:00:09 does not exist in the host namespace "
        "(topology.links[13]: for c:hd2)",
    ]
    assert len(asked) == 1  # the addresses are asked once


def test_preflight_of_a_host_in_hosts() -> None:
    topo = loads("name: mh\nhosts: {A: {address: 192.0.2.1}, B: {address: 192.0.2.2}}\n"
                 "topology:\n  defaults: {kind: netns}\n  nodes: {a: {host: A}, b: {host: B}}\n"
                 "  links: [{endpoints: [a:eth1, b:eth1]}]\n")
    facts = Facts({}, lambda: {"198.51.100.1"}, "A")
    problems = [p for a in build(topo, "A").actions.values() for p in links.preflight(a, facts)]
    assert problems == ["192.0.2.1 (host A's address in hosts:) is not configured on this "
                        "machine: is this really host A? (topology.links[0])"]
