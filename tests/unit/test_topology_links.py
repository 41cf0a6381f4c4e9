"""Link types beyond veth/host (vxlan, vxlan-stitch, macvlan, mgmt-net, host-device,
dummy), labs that span ``hosts:``, and the VNIs of cross-host links."""

from __future__ import annotations

import hashlib
from ipaddress import ip_address, ip_interface
from textwrap import dedent

import pytest

from netknit._errors import Problem, TopologyError
from netknit.topology import (
    DEFAULT_LINK_MTU,
    DEFAULT_UNDERLAY_MTU,
    VXLAN_DEFAULT_PORT,
    Endpoint,
    Host,
    Link,
    Topology,
    Vxlan,
    loads,
)
from netknit.topology._model import VNI_MAX

NODES = "a: {}\nb: {}\nc: {}\nbr: {kind: bridge}\nh: {kind: host}"


def lab(links: str, nodes: str = NODES, extra: str = "") -> str:
    """Nodes from line 4; with the default nodes, the first link is on line 10."""
    nodes_block = "\n".join("    " + line for line in dedent(nodes).splitlines())
    links_block = "\n".join("    " + line for line in dedent(links).splitlines())
    return f"name: t\n{extra}topology:\n  nodes:\n{nodes_block}\n  links:\n{links_block}\n"


def load(text: str, runtime: str | None = None) -> Topology:
    return loads(text, filename="lab.yml", runtime=runtime)


def problems(text: str, runtime: str | None = None) -> list[Problem]:
    with pytest.raises(TopologyError) as info:
        load(text, runtime)
    return list(info.value.problems)


def problem(text: str, path: str, *fragments: str, line: int | None = None) -> Problem:
    """The one problem at ``path`` whose message has all ``fragments``."""
    found = problems(text)
    at = [p for p in found if p.path == path]
    assert at, f"no problem at {path}: {found}"
    matching = [p for p in at if all(f in p.message for f in fragments)]
    assert matching, f"at {path}: {[p.message for p in at]}"
    if line is not None:
        assert matching[0].line == line, matching[0]
    return matching[0]


def one(text: str, runtime: str | None = None) -> Link:
    (link,) = load(text, runtime).links
    return link


# --- each type, parsed exactly ------------------------------------------------------------


def test_vxlan() -> None:
    link = one(lab("""\
        - type: vxlan
          endpoint: {node: a, interface: vx1, mac: "02:00:00:00:00:AA", ipv4: 10.0.0.1/24}
          remote: 192.0.2.7
          vni: 100
          udp-port: 4789
          src-port: 10000-20000
          parent-interface: eth0
          mtu: 1450
          labels: {l: 1}
          vars: {x: y}"""))
    assert link == Link(
        type="vxlan",
        endpoints=(Endpoint("a", "vx1", "02:00:00:00:00:aa", (ip_interface("10.0.0.1/24"),)),),
        mtu=1450,
        labels=link.labels,
        where="topology.links[0]",
        vxlan=Vxlan(100, ip_address("192.0.2.7"), 4789, (10000, 20000), "eth0"),
    )
    assert dict(link.labels) == {"l": "1"}
    assert link.stitch_device is None


def test_vxlan_defaults() -> None:
    link = one(lab("- {type: vxlan, endpoint: {node: a, interface: e1}, remote: '2001:db8::9',"
                   " vni: 5}"))
    assert link.mtu == 0 and link.host_interface is None
    assert link.vxlan == Vxlan(5, ip_address("2001:db8::9"), VXLAN_DEFAULT_PORT, None, None)


@pytest.mark.parametrize(("ports", "expected"), [
    ("dst-port: 4789", 4789),
    ("{udp-port: 4789, dst-port: 4789}", 4789),
    ("udp-port: 0", VXLAN_DEFAULT_PORT),  # containerlab's "unset"
])
def test_vxlan_ports(ports: str, expected: int) -> None:
    extra = ports if ports.startswith("{") else "{" + ports + "}"
    text = lab("- type: vxlan\n  endpoint: {node: a, interface: e1}\n  remote: 192.0.2.1\n"
               f"  vni: 1\n  <<: {extra}")
    vxlan = one(text).vxlan
    assert vxlan is not None and vxlan.dst_port == expected


def test_vxlan_single_src_port() -> None:
    text = lab("- {type: vxlan, endpoint: {node: a, interface: e1}, remote: 192.0.2.1, vni: 1,"
               " src-port: 5000}")
    vxlan = one(text).vxlan
    assert vxlan is not None and vxlan.src_ports == (5000, 5000)


def test_vxlan_stitch() -> None:
    link = one(lab("- {type: vxlan-stitch, endpoint: {node: a, interface: e1},"
                   " remote: 192.0.2.1, vni: 7}"))
    assert link.type == "vxlan-stitch"
    assert link.host_interface == "ve-a_e1" and link.stitch_device == "vx-a_e1"
    assert link.vxlan == Vxlan(7, ip_address("192.0.2.1"))
    assert link.mtu == 0


def test_macvlan() -> None:
    link = one(lab("- {type: macvlan, endpoint: {node: a, interface: mv1},"
                   " host-interface: enp0s3, mode: VEPA}"))
    assert link == Link("macvlan", (Endpoint("a", "mv1"),), mtu=0, host_interface="enp0s3",
                        labels=link.labels, where="topology.links[0]", mode="vepa")


def test_macvlan_default_mode_and_shared_parent() -> None:
    topo = load(lab("- {type: macvlan, endpoint: {node: a, interface: m1}, host-interface: p0}\n"
                    "- {type: macvlan, endpoint: {node: b, interface: m1}, host-interface: p0,"
                    " mtu: 1400}"))
    assert [(x.mode, x.mtu, x.host_interface) for x in topo.links] == [
        ("bridge", 0, "p0"), ("bridge", 1400, "p0")]


def test_mgmt_net() -> None:
    link = one(lab("- {type: mgmt-net, endpoint: {node: a, interface: eth9},"
                   " host-interface: a-eth9}"))
    lab_hash = hashlib.sha256(b"t").hexdigest()[:12]
    assert link == Link("mgmt-net", (Endpoint("a", "eth9"),), mtu=DEFAULT_LINK_MTU,
                        host_interface="a-eth9", labels=link.labels, where="topology.links[0]",
                        bridge=f"br-{lab_hash}")


@pytest.mark.parametrize("runtime", [None, "netns"])
def test_mgmt_net_bridge_from_mgmt(runtime: str | None) -> None:
    text = lab("- {type: mgmt-net, endpoint: {node: a, interface: e1}, host-interface: a-e1}",
               extra="mgmt: {bridge: labbr0}\n")
    topo = load(text, runtime)
    assert topo.links[0].bridge == "labbr0"
    if runtime == "netns":  # the notice no longer claims all of mgmt is ignored
        assert topo.notices == ("mgmt: --runtime netns has no management network; mgmt-net "
                                "links join bridge labbr0, the other mgmt keys are ignored",)


def test_host_device_by_name_and_by_mac() -> None:
    topo = load(lab("- {type: host-device, endpoint: {node: a, interface: eth1},"
                    " host-interface: enp5s0}\n"
                    "- {type: host-device, endpoint: {node: b, interface: eth1},"
                    " hwaddr: '52:54:00:AB:CD:EF', mtu: 9000}"))
    by_name, by_mac = topo.links
    assert by_name == Link("host-device", (Endpoint("a", "eth1"),), mtu=0,
                           host_interface="enp5s0", labels=by_name.labels,
                           where="topology.links[0]")
    assert by_mac.host_interface is None and by_mac.hwaddr == "52:54:00:ab:cd:ef"
    assert by_mac.mtu == 9000


def test_dummy() -> None:
    link = one(lab("- type: dummy\n  endpoint: {node: a, interface: d0, ipv6: 'fd00::1/64'}"))
    assert link == Link("dummy", (Endpoint("a", "d0", ipv6=(ip_interface("fd00::1/64"),)),),
                        mtu=0, labels=link.labels, where="topology.links[0]")


def test_brief_macvlan_and_mgmt_net() -> None:
    topo = load(lab('- endpoints: ["a:eth1", "macvlan:enp0s3"]\n'
                    '- endpoints: ["mgmt-net:b-eth1", "b:eth1"]\n  mtu: 1500'))
    mac, mgmt = topo.links
    assert (mac.type, mac.endpoints, mac.host_interface, mac.mode, mac.mtu) == (
        "macvlan", (Endpoint("a", "eth1"),), "enp0s3", "bridge", 0)
    assert (mgmt.type, mgmt.endpoints, mgmt.host_interface, mgmt.mtu) == (
        "mgmt-net", (Endpoint("b", "eth1"),), "b-eth1", 1500)
    assert mgmt.bridge and mgmt.bridge.startswith("br-")


# --- errors of single-ended links --------------------------------------------------------

VX = "- type: vxlan\n  endpoint: {node: a, interface: e1}\n  remote: 192.0.2.1\n  vni: 10\n"

SINGLE_ERRORS = [
    pytest.param(VX.replace("192.0.2.1", "peer.example.com"), "topology.links[0].remote",
                 ["'peer.example.com' is not an IP address",
                  "write the remote's address; netknit does not resolve names at validation"],
                 12, id="remote-hostname"),
    pytest.param(VX.replace("192.0.2.1", "192.0.2.1/24"), "topology.links[0].remote",
                 ["has a prefix length", "(192.0.2.1)"], 12, id="remote-prefix"),
    pytest.param(VX.replace("192.0.2.1", "239.1.1.1"), "topology.links[0].remote",
                 ["multicast group: set parent-interface"], 12, id="remote-multicast"),
    pytest.param(VX.replace("  vni: 10\n", ""), "topology.links[0]",
                 ["missing required key 'vni'"], 10, id="vni-missing"),
    pytest.param(VX.replace("vni: 10", "vni: 16777216"), "topology.links[0].vni",
                 ["vni must be between 1 and 16777215"], 13, id="vni-range"),
    pytest.param(VX.replace("vni: 10", "vni: '10'"), "topology.links[0].vni",
                 ["expected a whole number"], 13, id="vni-type"),
    pytest.param(VX + "  udp-port: 4789\n  dst-port: 4790\n", "topology.links[0].dst-port",
                 ["dst-port 4790 contradicts udp-port 4789", "write only one"], 15,
                 id="ports-differ"),
    pytest.param(VX + "  udp-port: 70000\n", "topology.links[0].udp-port",
                 ["udp-port must be a UDP port, 1 to 65535"], 14, id="port-range"),
    pytest.param(VX + "  src-port: 2000-1000\n", "topology.links[0].src-port",
                 ["range 2000-1000 must be within 1-65535, low end first"], 14,
                 id="src-port-order"),
    pytest.param(VX + "  src-port: lots\n", "topology.links[0].src-port",
                 ["expected a number or a range like '1-65535'"], 14, id="src-port-text"),
    pytest.param(VX + "  parent-interface: a-very-long-parent0\n",
                 "topology.links[0].parent-interface", ["Linux allows at most 15"], 14,
                 id="parent-name"),
    pytest.param(VX + "  mtu: 0\n", None, [], 0, id="vxlan-mtu-0-is-fine"),
    pytest.param(VX + "  mtu: 20\n", "topology.links[0].mtu",
                 ["mtu must be between 68 and 65535 (or 0: the kernel decides)"], 14,
                 id="vxlan-mtu"),
    pytest.param(VX.replace("vxlan", "vxlan-stitch").replace("node: a, interface: e1",
                                                             "node: a, interface: ethernet-12"),
                 "topology.links[0].endpoint",
                 ["vxlan-stitch names its host interfaces 've-a_ethernet-12' and "
                  "'vx-a_ethernet-12' (16 bytes; Linux allows at most 15): shorten the node "
                  "or interface name"], 11, id="stitch-name-too-long"),
    pytest.param(VX.replace("vxlan", "vxlan-stitch")
                 + "- {type: host, endpoint: {node: b, interface: e1}, host-interface: ve-a_e1}",
                 "topology.links[1].host-interface",
                 ["interface 've-a_e1' is already used in the host namespace at "
                  "topology.links[0].endpoint"], 14, id="stitch-name-taken"),
    pytest.param("- {type: macvlan, endpoint: {node: a, interface: e1}, host-interface: p0,"
                 " mode: brige}", "topology.links[0].mode",
                 ["macvlan mode 'brige' is not one of bridge, vepa, private, passthru, source",
                  "did you mean 'bridge'?"], 10, id="macvlan-mode"),
    pytest.param("- {type: macvlan, endpoint: {node: a, interface: e1}}", "topology.links[0]",
                 ["missing required key 'host-interface'"], 10, id="macvlan-parent-missing"),
    pytest.param("- {type: macvlan, endpoint: {node: a, interface: e1}, host-interface: p0,"
                 " mode: passthru}\n- {type: macvlan, endpoint: {node: b, interface: e1},"
                 " host-interface: p0}", "topology.links[1].host-interface",
                 ["already the parent of the macvlan link at topology.links[0].host-interface",
                  "passthru"], 11, id="macvlan-passthru-shared"),
    pytest.param("- {type: mgmt-net, endpoint: {node: a, interface: e1}, host-interface: x}\n"
                 "- {type: mgmt-net, endpoint: {node: b, interface: e1}, host-interface: x}",
                 "topology.links[1].host-interface",
                 ["interface 'x' is already used in the host namespace"], 11,
                 id="mgmt-net-host-interface-twice"),
    pytest.param("- {type: host-device, endpoint: {node: a, interface: e1}}",
                 "topology.links[0]", ["needs exactly one of host-interface", "hwaddr"], 10,
                 id="host-device-neither"),
    pytest.param("- {type: host-device, endpoint: {node: a, interface: e1}, host-interface: x,"
                 " hwaddr: '02:00:00:00:00:01'}", "topology.links[0]",
                 ["needs exactly one of host-interface", "remove one"], 10,
                 id="host-device-both"),
    pytest.param("- {type: host-device, endpoint: {node: a, interface: e1}, hwaddr: zz}",
                 "topology.links[0].hwaddr", ["MAC address 'zz' is not six hex octets"], 10,
                 id="host-device-bad-mac"),
    pytest.param("- {type: host-device, endpoint: {node: a, interface: e1}, host-interface: d}\n"
                 "- {type: host-device, endpoint: {node: b, interface: e1}, host-interface: d}",
                 "topology.links[1].host-interface",
                 ["interface 'd' is already used in the host namespace at "
                  "topology.links[0].host-interface"], 11, id="host-device-twice"),
    pytest.param("- {type: host-device, endpoint: {node: a, interface: e1}, hwaddr: "
                 "'02:00:00:00:00:01'}\n- {type: host-device, endpoint: {node: b, interface: "
                 "e1}, hwaddr: '02:00:00:00:00:01'}", "topology.links[1].hwaddr",
                 ["the host device with MAC 02:00:00:00:00:01 is already moved by the link at "
                  "topology.links[0].hwaddr"], 11, id="host-device-mac-twice"),
    pytest.param("- {type: dummy, endpoint: {node: br, interface: d0}}",
                 "topology.links[0].endpoint.node",
                 ["node 'br' is of kind bridge: it has no namespace of its own for a dummy "
                  "link; put this end on a netns or linux node"], 10, id="dummy-on-bridge"),
    pytest.param("- {type: vxlan, endpoint: {node: h, interface: v0}, remote: 192.0.2.1,"
                 " vni: 1}", "topology.links[0].endpoint.node",
                 ["node 'h' is of kind host"], 10, id="vxlan-on-host-node"),
    pytest.param("- {type: dummy, endpoint: {node: a, interface: d0}}\n"
                 '- endpoints: ["a:d0", "b:eth1"]', "topology.links[1].endpoints[0]",
                 ["interface 'd0' of node 'a' is already used at topology.links[0].endpoint"],
                 11, id="dummy-interface-twice"),
    pytest.param("- {type: dummy, endpoint: {node: aa, interface: d0}}",
                 "topology.links[0].endpoint.node", ["unknown node 'aa'", "did you mean 'a'?"],
                 10, id="dummy-unknown-node"),
    pytest.param("- {type: dumy, endpoint: {node: a, interface: d0}}", "topology.links[0].type",
                 ["unknown link type 'dumy'", "did you mean 'dummy'?"], 10, id="type-typo"),
    pytest.param("- {type: dummy, endpoint: {node: a, interface: d0}, remote: x}",
                 "topology.links[0].remote", ["unknown key 'remote'"], 10, id="unknown-key"),
    pytest.param('- endpoints: ["a:eth1", "macvlan:p0"]\n  ipv4: ["10.0.0.1/24", "10.0.0.2/24"]',
                 "topology.links[0].ipv4[1]",
                 ["the macvlan end has no address netknit sets: write '' for it"], 11,
                 id="brief-macvlan-address"),
    pytest.param('- endpoints: ["a:eth1", "mgmt-net:"]', "topology.links[0].endpoints[1]",
                 ["interface name is empty"], 10, id="brief-mgmt-net-empty"),
]


@pytest.mark.parametrize(("links", "path", "fragments", "line"), SINGLE_ERRORS)
def test_single_ended_errors(links: str, path: str | None, fragments: list[str],
                             line: int) -> None:
    text = lab(links)
    if path is None:
        assert load(text).links
        return
    problem(text, path, *fragments, line=line)


def test_mgmt_bridge_name_is_checked() -> None:
    text = lab("- {type: mgmt-net, endpoint: {node: a, interface: e1}, host-interface: x}",
               extra="mgmt: {bridge: a-much-too-long-bridge}\n")
    problem(text, "mgmt.bridge", "the management bridge's name is an interface name",
            "at most 15")


def test_vxlan_vni_collision_on_one_host() -> None:
    text = lab(VX + VX.replace("node: a", "node: b").replace("192.0.2.1", "192.0.2.2"))
    problem(text, "topology.links[1].vni", "vni 10 with UDP port 14789 is already used by the "
            "link at topology.links[0] (line 10)", "change vni or udp-port", line=17)
    # another port, or another address family: the kernel allows both
    assert load(lab(VX + VX.replace("node: a", "node: b") + "  udp-port: 4789\n"))
    assert load(lab(VX + VX.replace("node: a", "node: b").replace("192.0.2.1", "2001:db8::1")))


# --- hosts -------------------------------------------------------------------------------

HOSTS = """\
hosts:
  m1: {address: 192.0.2.1}
  m2: {address: 192.0.2.2, vni-range: 1000-1999, mtu: 9000}
"""


def spanning(links: str, nodes: str = "a: {host: m1}\nb: {host: m2}\nc: {host: m1}",
             hosts: str = HOSTS) -> str:
    return lab(links, nodes, extra=hosts)


def test_hosts_are_read_in_file_order() -> None:
    topo = load(spanning("[]"))
    assert list(topo.hosts) == ["m1", "m2"]
    assert topo.hosts["m1"] == Host("m1", ip_address("192.0.2.1"), (1, VNI_MAX),
                                    DEFAULT_UNDERLAY_MTU, "hosts.m1")
    assert topo.hosts["m2"] == Host("m2", ip_address("192.0.2.2"), (1000, 1999), 9000,
                                    "hosts.m2")
    assert [n.host for n in topo.nodes.values()] == ["m1", "m2", "m1"]


def test_host_merges_from_defaults_and_kinds() -> None:
    text = ("name: t\n" + HOSTS + "topology:\n  defaults: {host: m1}\n"
            "  kinds: {netns: {host: m2}}\n"
            "  nodes: {a: {}, b: {kind: bridge}, c: {kind: host, host: m2}, d: {kind: linux}}\n")
    topo = load(text, runtime="netns")
    assert {n.name: n.host for n in topo.nodes.values()} == {
        "a": "m2", "b": "m1", "c": "m2", "d": "m1"}


def test_vni_range_as_a_list() -> None:
    hosts = "hosts:\n  m1: {address: 192.0.2.1, vni-range: [5, 9]}\n"
    assert load(lab("[]", "a: {host: m1}", extra=hosts)).hosts["m1"].vni_range == (5, 9)


HOST_ERRORS = [
    pytest.param(HOSTS, "a: {host: m1}\nb: {}", "topology.nodes.b",
                 ["node 'b' has no host, but this lab spans hosts (m1, m2): set `host:` on the "
                  "node, or `defaults: {host: m1}`"], id="node-without-host"),
    pytest.param(HOSTS, "a: {host: m1}\nb: {host: mm1}", "topology.nodes.b.host",
                 ["unknown host 'mm1'", "did you mean 'm1'?", "are: m1, m2"], id="unknown-host"),
    pytest.param("", "a: {host: A}", "topology.nodes.a.host",
                 ["host 'A' is not defined: add a top-level hosts: map"], id="no-hosts-map"),
    pytest.param("hosts:\n  m1: {address: 192.0.2.1}\n  m2: {address: 192.0.2.1}\n",
                 "a: {host: m1}", "hosts.m2.address",
                 ["address 192.0.2.1 is also the address of host 'm1' at hosts.m1.address",
                  "each host needs its own"], id="same-address"),
    pytest.param("hosts:\n  m1: {address: m1.example.com}\n", "a: {host: m1}",
                 "hosts.m1.address", ["is not an IP address: write host m1's address"],
                 id="address-name"),
    pytest.param("hosts:\n  m1: {address: 192.0.2.1/24}\n", "a: {host: m1}",
                 "hosts.m1.address", ["has a prefix length"], id="address-prefix"),
    pytest.param("hosts:\n  m1: {vni-range: 1-5}\n", "a: {host: m1}", "hosts.m1",
                 ["missing required key 'address'"], id="address-missing"),
    pytest.param("hosts:\n  m1: {address: 192.0.2.1, vni-range: 0-5}\n", "a: {host: m1}",
                 "hosts.m1.vni-range", ["must be within 1-16777215"], id="vni-range-zero"),
    pytest.param("hosts:\n  m1: {address: 192.0.2.1, vni-range: 9-5}\n", "a: {host: m1}",
                 "hosts.m1.vni-range", ["range 9-5", "low end first"], id="vni-range-order"),
    pytest.param("hosts:\n  m1: {address: 192.0.2.1, vni-range: [1, 2, 3]}\n", "a: {host: m1}",
                 "hosts.m1.vni-range", ["expected a range like"], id="vni-range-shape"),
    pytest.param("hosts:\n  m1: {address: 192.0.2.1, mtu: 20}\n", "a: {host: m1}",
                 "hosts.m1.mtu", ["mtu must be between 68 and 65535"], id="host-mtu"),
    pytest.param("hosts:\n  m/1: {address: 192.0.2.1}\n", "a: {}", 'hosts["m/1"]',
                 ["host name 'm/1' may only contain"], id="host-name"),
    pytest.param("hosts:\n  m1: {address: 192.0.2.1, adress: x}\n", "a: {host: m1}",
                 "hosts.m1.adress", ["did you mean 'address'?"], id="host-key-typo"),
    pytest.param("hosts: [m1]\n", "a: {host: m1}", "hosts",
                 ["expected a mapping of host names"], id="hosts-not-a-mapping"),
]


@pytest.mark.parametrize(("hosts", "nodes", "path", "fragments"), HOST_ERRORS)
def test_host_errors(hosts: str, nodes: str, path: str, fragments: list[str]) -> None:
    problem(lab("[]", nodes, extra=hosts), path, *fragments)


def test_vxlan_remote_is_own_host() -> None:
    text = spanning("- {type: vxlan, endpoint: {node: a, interface: v1}, remote: 192.0.2.1,"
                    " vni: 5}")
    problem(text, "topology.links[0].remote", "remote 192.0.2.1 is host m1's own address; "
            "a VXLAN link needs the other end's address")
    assert load(spanning("- {type: vxlan, endpoint: {node: a, interface: v1},"
                         " remote: 192.0.2.2, vni: 5}"))


def test_explicit_vni_on_different_hosts_is_fine() -> None:
    links = ("- {type: vxlan, endpoint: {node: a, interface: v1}, remote: 192.0.2.2, vni: 5}\n"
             "- {type: vxlan, endpoint: {node: b, interface: v1}, remote: 192.0.2.1, vni: 5}\n"
             "- {type: vxlan, endpoint: {node: c, interface: v1}, remote: 192.0.2.9, vni: 5}")
    problem(spanning(links), "topology.links[2].vni", "on host m1 by the link at "
            "topology.links[0]")
    assert load(spanning(links.rsplit("\n", 1)[0]))


def test_cross_host_link() -> None:
    topo = load(spanning('- endpoints: ["a:eth1", "b:eth1"]\n- endpoints: ["a:eth2", "c:eth2"]'))
    cross, local = topo.links
    assert cross.type == "veth" and len(cross.endpoints) == 2
    assert cross.vxlan is not None and cross.vxlan.remote is None
    assert cross.vxlan.dst_port == VXLAN_DEFAULT_PORT
    assert 1000 <= cross.vxlan.vni <= 1999  # m2's range
    assert cross.mtu == 1450  # min(1500, 9000) - 50
    assert local.vxlan is None and local.mtu == DEFAULT_LINK_MTU


def test_cross_host_vni_is_the_documented_hash() -> None:
    link = load(spanning('- endpoints: ["b:eth1", "a:eth1"]')).links[0]
    identity = b"t\0a:eth1\0b:eth1"  # lab, then the endpoints sorted
    expected = 1000 + int.from_bytes(hashlib.sha256(identity).digest()[:8], "big") % 1000
    assert link.vxlan is not None and link.vxlan.vni == expected


def test_cross_host_ipv6_underlay() -> None:
    hosts = "hosts:\n  m1: {address: '2001:db8::1'}\n  m2: {address: '2001:db8::2'}\n"
    link = load(spanning('- endpoints: ["a:eth1", "b:eth1"]', hosts=hosts)).links[0]
    assert link.mtu == 1430 and link.vxlan is not None


def test_cross_host_written_mtu() -> None:
    assert load(spanning('- {endpoints: ["a:eth1", "b:eth1"], mtu: 1400}')).links[0].mtu == 1400
    problem(spanning('- endpoints: ["a:eth1", "b:eth1"]\n  mtu: 9000'), "topology.links[0].mtu",
            "mtu 9000 cannot be carried over the underlay: hosts m1/m2 have MTU 1500/9000, "
            "VXLAN needs 50 bytes: at most 1450", line=12)
    hosts = HOSTS.replace("mtu: 9000", "mtu: 1500")
    problem(spanning('- {endpoints: ["a:eth1", "b:eth1"], mtu: 1451}', hosts=hosts),
            "topology.links[0].mtu", "hosts m1/m2 have MTU 1500, VXLAN needs 50 bytes: "
            "at most 1450")


def test_cross_host_mixed_families() -> None:
    hosts = "hosts:\n  m1: {address: 192.0.2.1}\n  m2: {address: '2001:db8::2'}\n"
    problem(spanning('- endpoints: ["a:eth1", "b:eth1"]', hosts=hosts), "topology.links[0]",
            "joins hosts m1 (IPv4) and m2 (IPv6); a VXLAN underlay needs one address family")


def test_cross_host_ranges_do_not_overlap() -> None:
    hosts = HOSTS.replace("  m1: {address: 192.0.2.1}", "  m1: {address: 192.0.2.1, "
                          "vni-range: 1-999}")
    problem(spanning('- endpoints: ["a:eth1", "b:eth1"]', hosts=hosts), "topology.links[0]",
            "hosts m1 (vni-range 1-999) and m2 (vni-range 1000-1999) have no VNI in common",
            "make their vni-range overlap")


def _vnis(text: str) -> dict[str, int]:
    return {str(x): x.vxlan.vni for x in load(text).links if x.vxlan is not None}


def test_auto_vnis_are_stable() -> None:
    links = "\n".join(f'- endpoints: ["a:e{i}", "b:e{i}"]' for i in range(20))
    first = _vnis(spanning(links))
    assert first == _vnis(spanning(links))
    assert len(set(first.values())) == 20
    # a link added elsewhere (and links reordered) do not move the others
    more = '- endpoints: ["c:x1", "b:x1"]\n' + "\n".join(reversed(links.splitlines()))
    again = _vnis(spanning(more))
    collided = again.pop("c:x1 <-> b:x1")
    assert again == first or collided in first.values()
    if collided not in first.values():
        assert again == first


def test_auto_vni_avoids_explicit_vnis_and_probes() -> None:
    tight = HOSTS.replace("vni-range: 1000-1999", "vni-range: 1000-1002")
    cross = '- endpoints: ["a:eth1", "b:eth1"]'
    preferred = load(spanning(cross, hosts=tight)).links[0].vxlan
    assert preferred is not None
    # an explicit VNI on the default port takes the preferred one: the link moves on
    explicit = (f"- {{type: vxlan, endpoint: {{node: c, interface: v1}}, remote: 198.51.100.1,"
                f" vni: {preferred.vni}}}")
    moved = load(spanning(cross + "\n" + explicit, hosts=tight)).links[0].vxlan
    assert moved is not None
    assert moved.vni == 1000 + (preferred.vni - 1000 + 1) % 3  # the next, wrapping
    # on another port it does not collide
    other = load(spanning(cross + "\n" + explicit[:-1] + ", udp-port: 4789}", hosts=tight))
    assert other.links[0].vxlan == preferred


def test_auto_vnis_exhaust_the_range() -> None:
    tight = HOSTS.replace("vni-range: 1000-1999", "vni-range: 1000-1001")
    links = "\n".join(f'- endpoints: ["a:e{i}", "b:e{i}"]' for i in range(3))
    found = problems(spanning(links, hosts=tight))
    assert len(found) == 1
    assert found[0].message == ("no free VNI for this cross-host link: the vni-range 1000-1001 "
                                "shared by hosts m1/m2 is used up by other links; widen the "
                                "hosts' vni-range")
    assert load(spanning(links.rsplit("\n", 1)[0], hosts=tight))


def test_host_namespaces_are_per_host() -> None:
    links = ("- {type: host, endpoint: {node: a, interface: e1}, host-interface: up0}\n"
             "- {type: host, endpoint: {node: b, interface: e1}, host-interface: up0}")
    assert load(spanning(links))  # different machines
    problem(spanning(links.replace("node: b", "node: c")), "topology.links[1].host-interface",
            "interface 'up0' is already used in the host namespace of host m1 at")
