"""``veth-stitch`` against the real kernel: two nodes joined by two veth segments to the
(simulated) host and a tc stitch between them, deployed through the CLI, checked the way
a user would (host-side names, MACs, MTUs, tc filters, ping), destroyed, and the host
checked to be exactly as it was."""

from __future__ import annotations

import hashlib
import json
import subprocess

from .conftest import Lab
from .test_link_types import (
    World,
    addrs,
    as_recorded,
    deploy,
    destroy,
    iface,
    is_up,
    kind,
    no_nodes,
    ns_of,
    ping,
    snapshot,
    world,
)

__all__ = ["world"]  # the fixture, shared with the other link type tests

STITCHED = """\
name: LAB
topology:
  defaults: {kind: netns}
  nodes:
    r1: {}
    r2: {}
  links:
    - type: veth-stitch
      endpoints:
        - {node: r1, interface: eth1, mac: "02:4e:4b:00:88:01", ipv4: 10.88.0.1/24}
        - {node: r2, interface: eth1, ipv4: 10.88.0.2/24}
    - type: veth-stitch
      endpoints:
        - {node: r1, interface: eth2, ipv4: 10.89.0.1/24}
        - {node: r2, interface: eth2, ipv4: 10.89.0.2/24}
      mtu: 1400
"""


def far_end(lab: str, node: str, interface: str) -> str:
    """containerlab's host-side name of a segment (links/link_veth_stitched.go)."""
    digest = hashlib.sha1(f"{lab}\0{node}\0{interface}".encode()).hexdigest()
    return "clab-s-" + digest[:8]


def test_veth_stitch(lab: Lab, world: World) -> None:
    host = world.host
    topo = lab.write(STITCHED)
    before = snapshot(host)
    recorded = deploy(host, topo)

    for interface, mtu in (("eth1", 9500), ("eth2", 1400)):
        ends = {}
        for node in ("r1", "r2"):
            inner = iface(ns_of(lab, node), interface)
            name = far_end(lab.name, node, interface)
            outer = iface(host.name, name)
            assert kind(inner) == kind(outer) == "veth" and is_up(inner) and is_up(outer)
            # containerlab gives the host-side end its node end's MAC
            assert outer["address"] == inner["address"]
            assert inner["mtu"] == outer["mtu"] == mtu
            assert as_recorded(inner, recorded[(node, interface)])
            assert as_recorded(outer, recorded[("host", name)])
            ends[node] = name
        assert iface(ns_of(lab, "r1"), "eth1")["address"] == "02:4e:4b:00:88:01"
        for here, there in ((ends["r1"], ends["r2"]), (ends["r2"], ends["r1"])):
            shown = host.sh("tc", "filter", "show", "dev", here, "ingress").stdout
            assert "mirred" in shown and f"Redirect to device {there}" in shown, shown
    assert addrs(ns_of(lab, "r2"), "eth2") == ["10.89.0.2/24"]

    assert ping(ns_of(lab, "r1"), "10.88.0.2"), "r1 -> r2 across the first stitch"
    assert ping(ns_of(lab, "r2"), "10.89.0.1"), "r2 -> r1 across the second stitch"
    # the stitch is transparent: a full-size frame of the 1400 link passes, unfragmented
    big = host.sh("ip", "netns", "exec", ns_of(lab, "r1"), "ping", "-c1", "-W2", "-M", "do",
                  "-s", str(1400 - 28), "10.89.0.2")
    assert big.returncode == 0, big.stdout + big.stderr

    # a lost segment comes back through reconcile, with its MAC, stitched again both ways
    mac = iface(ns_of(lab, "r2"), "eth1")["address"]
    subprocess.run(["ip", "-n", ns_of(lab, "r2"), "link", "del", "eth1"], check=True)
    fixed = host.cli("reconcile", "-t", str(topo), "--format", "json")
    assert fixed.returncode == 0, fixed.stderr
    far2 = far_end(lab.name, "r2", "eth1")
    assert [d["action"] for d in json.loads(fixed.stdout)["drifts"]] == [
        f"recreate link host:{far2} <-> r2:eth1"]
    assert iface(ns_of(lab, "r2"), "eth1")["address"] == iface(host.name, far2)["address"] == mac
    assert ping(ns_of(lab, "r1"), "10.88.0.2"), "r1 -> r2 across the repaired stitch"

    destroy(host, topo)
    assert snapshot(host) == before
    assert host.links() == {"lo"}
    assert no_nodes(lab)
