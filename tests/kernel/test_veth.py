"""veth pairs born in place, bridges, configuration — against the real kernel."""

from __future__ import annotations

import subprocess
from ipaddress import ip_interface

import pytest

from netknit.kernel import (
    IfConfig,
    VethEnd,
    addresses,
    configure,
    create_bridge,
    create_veths,
    delete_links,
    links,
)

pytestmark = pytest.mark.root


def by_name(nl):
    return {link.name: link for link in links(nl)}


def ping(ns, address: str) -> subprocess.CompletedProcess[str]:
    # checking only: the work under test was done through netlink
    family = "-6" if ":" in address else "-4"
    return subprocess.run(
        ["ip", "netns", "exec", ns.name, "ping", family, "-c", "1", "-W", "2", address],
        capture_output=True, text=True, timeout=10, check=False,
    )


def test_veth_pair_between_namespaces(make_ns, host_nl):
    a, b = make_ns("a"), make_ns("b")
    main = VethEnd("eth1", ns_fd=a.fd, mac="02:00:00:aa:00:01", mtu=1400)
    peer = VethEnd("eth9", ns_fd=b.fd, mac="02:00:00:bb:00:01", mtu=1400)
    assert create_veths(host_nl, [(main, peer)]) == [None]

    in_a, in_b = by_name(a.nl), by_name(b.nl)
    assert set(in_a) == {"lo", "eth1"} and set(in_b) == {"lo", "eth9"}
    assert (in_a["eth1"].kind, in_a["eth1"].mac, in_a["eth1"].mtu) == ("veth", main.mac, 1400)
    assert (in_b["eth9"].kind, in_b["eth9"].mac, in_b["eth9"].mtu) == ("veth", peer.mac, 1400)
    assert in_a["eth1"].up, "the main end comes up in the creating request"
    assert not in_b["eth9"].up, "the peer waits for configure()"

    addr_a = (ip_interface("10.77.0.1/24"), ip_interface("fd77::1/64"))
    addr_b = (ip_interface("10.77.0.2/24"), ip_interface("fd77::2/64"))
    configure(a.nl, [IfConfig("eth1", addresses=addr_a)])
    configure(b.nl, [IfConfig("eth9", addresses=addr_b)])
    configure(b.nl, [IfConfig("eth9", addresses=addr_b)])  # again: idempotent

    in_a, in_b = by_name(a.nl), by_name(b.nl)
    assert in_b["eth9"].up and in_a["lo"].up and in_b["lo"].up
    assert set(addr_a) <= set(addresses(a.nl)[in_a["eth1"].index])
    assert set(addr_b) <= set(addresses(b.nl)[in_b["eth9"].index])

    for target in ("10.77.0.2", "fd77::2"):
        result = ping(a, target)
        assert result.returncode == 0, f"ping {target} from a:\n{result.stdout}{result.stderr}"


def test_monitor_sees_only_final_names_and_host_sees_nothing(make_ns, host_nl, monitor, tag):
    a, b = make_ns("a"), make_ns("b")
    watch_host, watch_a, watch_b = monitor(None), monitor(a), monitor(b)
    # names unique to this test, so events of anyone else on the host cannot match
    pairs = [(VethEnd(f"{tag}a{i}", ns_fd=a.fd), VethEnd(f"{tag}b{i}", ns_fd=b.fd))
             for i in range(20)]
    assert create_veths(host_nl, pairs) == [None] * 20
    configure(b.nl, [IfConfig(peer.name) for _main, peer in pairs])

    want_a = {main.name for main, _peer in pairs}
    want_b = {peer.name for _main, peer in pairs}
    # configure() also sets lo up in b: that event is expected, and not about our pairs
    seen_host, seen_a, seen_b = watch_host.names(), watch_a.names(), watch_b.names() - {"lo"}
    print(f"\nmonitor: host saw {len(watch_host.events)} link events, none ours: "
          f"{sorted(seen_host & (want_a | want_b))}; a saw {sorted(seen_a)}; "
          f"b saw {sorted(seen_b)}")
    assert not seen_host & (want_a | want_b), "a device of ours showed up in the host"
    assert not any(name.startswith(tag) for name in seen_host)
    assert seen_a == want_a, "namespace a saw a name other than the final ones"
    assert seen_b == want_b, "namespace b saw a name other than the final ones"
    assert {name for name in by_name(a.nl) if name != "lo"} == want_a
    assert all(link.up for link in links(b.nl) if link.name != "lo")


def test_bridge_port_enslaved_and_up(make_ns):
    a, b = make_ns("a"), make_ns("b")
    create_bridge(a.nl, "br0", mtu=1450)
    bridge = by_name(a.nl)["br0"]
    assert bridge.kind == "bridge" and bridge.up and bridge.mtu == 1450

    port = VethEnd("port1", master=bridge.index, mtu=1450)
    assert create_veths(a.nl, [(port, VethEnd("eth1", ns_fd=b.fd, mtu=1450))]) == [None]
    in_a = by_name(a.nl)
    assert in_a["port1"].master == bridge.index
    assert in_a["port1"].up and in_a["port1"].kind == "veth"
    assert "eth1" in by_name(b.nl)


def test_delete_links_tolerates_gone_names(make_ns):
    a = make_ns("a")
    assert create_veths(a.nl, [(VethEnd("x0"), VethEnd("x1"))]) == [None]
    assert delete_links(a.nl, ["x0", "nothere0"]) == ["x0"]
    # deleting one end took the pair: both names are gone now, and that is fine
    assert delete_links(a.nl, ["x0", "x1", "nothere0"]) == []
    assert set(by_name(a.nl)) == {"lo"}
