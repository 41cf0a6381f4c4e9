"""``veth-stitch`` (containerlab's): parsed like a veth link, planned as two veth
segments to the host joined by a tc stitch, named and addressed as containerlab does."""

from __future__ import annotations

import hashlib
from ipaddress import ip_interface

import pytest

from netknit._errors import TopologyError
from netknit.cli import _plan_rows
from netknit.links.veth_stitch import far_name
from netknit.plan import Configure, CreateVeth, Stitch, build, derive_mac
from netknit.topology import DEFAULT_LINK_MTU, Endpoint, loads

LAB = """\
name: vs
hosts: {A: {address: 192.0.2.1}, B: {address: 192.0.2.2}}
topology:
  defaults: {kind: netns, host: A}
  nodes:
    r1: {}
    r2: {}
    r3: {host: B}
    br: {kind: bridge}
  links:
"""
STITCH = """\
    - type: veth-stitch
      endpoints:
        - {node: r1, interface: eth1, mac: "02:4E:4B:00:88:01", ipv4: 10.88.0.1/24}
        - {node: r2, interface: eth1, ipv4: 10.88.0.2/24}
"""


def problems(links: str) -> list[tuple[str, str]]:
    with pytest.raises(TopologyError) as info:
        loads(LAB + links, filename="lab.yml")
    return [(p.path, p.message) for p in info.value.problems]


def test_far_end_names_are_containerlabs() -> None:
    """``clab-s-`` and the first 4 bytes of sha1(lab NUL node NUL interface), in hex:
    containerlab's stitchFarEndName, 15 characters."""
    digest = hashlib.sha1(b"vs\x00r1\x00eth1").hexdigest()
    assert far_name("vs", "r1", "eth1") == f"clab-s-{digest[:8]}" == "clab-s-d8afdc3f"
    assert len(far_name("a-long-lab-name", "node-with-long-name", "ethernet-1/1")) == 15


def test_parse() -> None:
    (link,) = loads(LAB + STITCH).links
    assert link.type == "veth-stitch"
    assert link.endpoints == (
        Endpoint("r1", "eth1", "02:4e:4b:00:88:01", (ip_interface("10.88.0.1/24"),)),
        Endpoint("r2", "eth1", None, (ip_interface("10.88.0.2/24"),)))
    assert link.mtu == DEFAULT_LINK_MTU  # containerlab's 9500
    assert link.host_interface is None and link.vxlan is None
    assert loads(LAB + STITCH + "      mtu: 1400\n").links[0].mtu == 1400


@pytest.mark.parametrize(("links", "expected"), [
    pytest.param("    - {type: veth-stitch, endpoints: [{node: r1, interface: e1}]}\n",
                 [("topology.links[0].endpoints",
                   "a veth-stitch link needs exactly 2 endpoints (got 1)")], id="one-end"),
    pytest.param("    - {type: veth-stitch, endpoints: [{node: r1, interface: e1},"
                 " {node: br, interface: p1}]}\n",
                 [("topology.links[0].endpoints[1].node", "node 'br' is of kind bridge: it has "
                   "no namespace of its own for a veth-stitch link; put this end on a netns or "
                   "linux node")], id="bridge-end"),
    pytest.param("    - {type: veth-stitch, endpoints: [{node: r1, interface: e1},"
                 " {node: r3, interface: e1}]}\n",
                 [("topology.links[0].endpoints[1].node", "a veth-stitch link joins nodes of "
                   "one machine: r1 runs on host A, r3 on host B; use a veth link between "
                   "hosts")], id="two-hosts"),
    pytest.param(STITCH + "    - {type: host, endpoint: {node: r1, interface: e9},"
                 f" host-interface: {far_name('vs', 'r2', 'eth1')}}}\n",
                 [("topology.links[1].host-interface", "interface 'clab-s-4ece1787' is already "
                   "used in the host namespace of host A at topology.links[0].endpoints[1] "
                   "(line 14)")],
                 id="host-name-taken"),
    pytest.param("    - {type: veth-stich, endpoints: []}\n",
                 [("topology.links[0].type",
                   "unknown link type 'veth-stich'; did you mean 'veth-stitch'?")], id="typo"),
])
def test_errors(links: str, expected: list[tuple[str, str]]) -> None:
    assert problems(links) == expected


def test_plan() -> None:
    plan = build(loads(LAB + STITCH), "A")
    far1, far2 = far_name("vs", "r1", "eth1"), far_name("vs", "r2", "eth1")
    seg1, seg2 = plan.of_kind(CreateVeth)
    assert isinstance(seg1, CreateVeth) and isinstance(seg2, CreateVeth)
    # the host-side end is the main one, with its node end's MAC and the link's MTU
    assert (seg1.main.netns, seg1.main.name, seg1.main.mac, seg1.main.mtu) == (
        None, far1, "02:4e:4b:00:88:01", DEFAULT_LINK_MTU)
    assert (seg1.peer.netns, seg1.peer.name, seg1.peer.mac) == (
        "clab-vs-r1", "eth1", "02:4e:4b:00:88:01")
    r2_mac = derive_mac("vs", "r2", "eth1")
    assert (seg2.main.name, seg2.main.mac, seg2.peer.name, seg2.peer.mac) == (
        far2, r2_mac, "eth1", r2_mac)
    assert [str(a) for a in seg2.peer.addresses] == ["10.88.0.2/24"]
    (stitch,) = plan.of_kind(Stitch)
    assert isinstance(stitch, Stitch) and (stitch.a, stitch.b) == (far1, far2)
    assert plan.deps[stitch.id] == {seg1.id, seg2.id}
    assert seg1.id == f"veth:host/{far1}" and stitch.id == f"stitch:{far1}"
    assert plan.deps[seg1.id] == {"on-enter:create-links:r1"}
    # each node's interfaces come up once the stitch joins them: exec may ping across
    for node in ("r1", "r2"):
        configure = f"configure:clab-vs-{node}"
        assert isinstance(plan.actions[configure], Configure)
        assert stitch.id in plan.deps[configure]


def test_plan_rows() -> None:
    rows = _plan_rows(build(loads(LAB + STITCH), "A"))
    far1, far2 = far_name("vs", "r1", "eth1"), far_name("vs", "r2", "eth1")
    assert [r for r in rows if r["what"] in ("veth", "tc stitch")] == [
        {"what": "veth", "name": f"host:{far1} <-> r1:eth1", "where": "host / clab-vs-r1",
         "details": "mtu 9500"},
        {"what": "veth", "name": f"host:{far2} <-> r2:eth1", "where": "host / clab-vs-r2",
         "details": "mtu 9500"},
        {"what": "tc stitch", "name": f"{far1} <-> {far2}", "where": "host",
         "details": "both ways"},
    ]
