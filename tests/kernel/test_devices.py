"""Devices born in place (vxlan, macvlan, dummy) and tc stitching — against the real
kernel. Scratch namespaces play the "hosts" (underlays); the host namespace is never
given a device."""

from __future__ import annotations

import json
import subprocess
import sys
from ipaddress import ip_interface

import pytest

from netknit._errors import KernelError
from netknit.kernel import (
    Device,
    IfConfig,
    Namespace,
    VethEnd,
    VxlanParams,
    configure,
    create_devices,
    create_veths,
    device_request,
    links,
    stitch,
    stitched,
    vxlan_info,
)

pytestmark = pytest.mark.root

UNDER1, UNDER2 = "192.0.2.1", "192.0.2.2"
VNI, PORT = 4242, 14789


def by_name(nl):
    return {link.name: link for link in links(nl)}


def ping(ns: Namespace, address: str) -> None:
    # checking only: the work under test was done through netlink
    family = "-6" if ":" in address else "-4"
    result = subprocess.run(
        ["ip", "netns", "exec", ns.name, "ping", family, "-c", "1", "-W", "2", address],
        capture_output=True, text=True, timeout=10, check=False,
    )
    assert result.returncode == 0, f"ping {address} from {ns.name}:\n{result.stdout}{result.stderr}"


def two_hosts(make_ns) -> tuple[Namespace, Namespace]:
    """Two scratch "hosts" U1, U2 joined by a veth u0 (192.0.2.1/24 ↔ 192.0.2.2/24)."""
    u1, u2 = make_ns("u1"), make_ns("u2")
    assert create_veths(u1.nl, [(VethEnd("u0"), VethEnd("u0", ns_fd=u2.fd))]) == [None]
    configure(u1.nl, [IfConfig("u0", addresses=(ip_interface(f"{UNDER1}/24"),))])
    configure(u2.nl, [IfConfig("u0", addresses=(ip_interface(f"{UNDER2}/24"),))])
    return u1, u2


def test_vxlan_born_in_node_namespaces_across_two_hosts(make_ns):
    u1, u2 = two_hosts(make_ns)
    n1, n2 = make_ns("n1"), make_ns("n2")
    vx1 = Device("vxlan", "eth1", ns_fd=n1.fd, mac="02:00:00:55:00:01", mtu=1400, up=True,
                 vxlan=VxlanParams(VNI, remote=UNDER2, local=UNDER1, dst_port=PORT))
    vx2 = Device("vxlan", "eth1", ns_fd=n2.fd, mac="02:00:00:55:00:02", mtu=1400,
                 vxlan=VxlanParams(VNI, remote=UNDER1, local=UNDER2, dst_port=PORT,
                                   src_ports=(40000, 40100), learning=False))
    assert create_devices(u1.nl, [vx1]) == [None]
    assert create_devices(u2.nl, [vx2]) == [None]

    in_n1, in_n2 = by_name(n1.nl), by_name(n2.nl)
    assert set(in_n1) == {"lo", "eth1"} and set(in_n2) == {"lo", "eth1"}
    for dev, got in ((vx1, in_n1["eth1"]), (vx2, in_n2["eth1"])):
        assert (got.kind, got.mac, got.mtu) == ("vxlan", dev.mac, 1400)
    assert in_n1["eth1"].up, "IFF_UP in the creating request works for a vxlan born elsewhere"
    assert not in_n2["eth1"].up
    assert set(by_name(u1.nl)) == {"lo", "u0"}, "nothing of the vxlan is left in the underlay"

    info = vxlan_info(n1.nl)
    assert list(info) == [in_n1["eth1"].index]
    got = info[in_n1["eth1"].index]
    assert (got.vni, got.remote, got.local, got.dst_port, got.parent_index) == (
        VNI, UNDER2, UNDER1, PORT, None)
    assert vxlan_info(n2.nl)[in_n2["eth1"].index].remote == UNDER1
    assert vxlan_info(u1.nl) == {}

    configure(n1.nl, [IfConfig("eth1", addresses=(ip_interface("10.55.0.1/24"),
                                                  ip_interface("fd55::1/64")))])
    configure(n2.nl, [IfConfig("eth1", addresses=(ip_interface("10.55.0.2/24"),
                                                  ip_interface("fd55::2/64")))])
    ping(n1, "10.55.0.2")
    ping(n1, "fd55::2")


def test_monitor_sees_no_intermediate_names(make_ns, monitor, tag):
    u, n, p = make_ns("u"), make_ns("n"), make_ns("p")
    assert create_veths(u.nl, [(VethEnd("up0"), VethEnd("eth0", ns_fd=p.fd))]) == [None]
    parent = by_name(u.nl)["up0"].index
    watch_u, watch_n = monitor(u), monitor(n)
    devices = [
        Device("vxlan", f"vx{tag}", ns_fd=n.fd, up=True, vxlan=VxlanParams(7, remote=UNDER2)),
        Device("macvlan", f"mv{tag}", ns_fd=n.fd, up=True, parent=parent),
    ]
    assert create_devices(u.nl, devices) == [None, None]
    final = {dev.name for dev in devices}
    seen_u, seen_n = watch_u.names(), watch_n.names()
    print(f"\nmonitor: underlay saw {sorted(seen_u)}, node saw {sorted(seen_n)}")
    # the macvlan's parent changes state in U (it gains an upper device): its own event
    assert not seen_u & final, "the underlay never sees the devices"
    assert seen_u <= {"up0"}
    assert seen_n == final, "the node sees its devices only under their final names"
    assert {e.event for e in watch_n.events} == {"new"}


def test_macvlan_born_in_node_namespace(make_ns):
    u, n, p = make_ns("u"), make_ns("n"), make_ns("p")
    assert create_veths(u.nl, [(VethEnd("up0"), VethEnd("eth0", ns_fd=p.fd))]) == [None]
    configure(p.nl, [IfConfig("eth0", addresses=(ip_interface("10.56.0.2/24"),))])
    parent = by_name(u.nl)["up0"].index
    dev = Device("macvlan", "eth1", ns_fd=n.fd, mac="02:00:00:56:00:01", mtu=1400, up=True,
                 parent=parent, macvlan_mode="private")
    assert create_devices(u.nl, [dev]) == [None]

    got = by_name(n.nl)["eth1"]
    assert (got.kind, got.mac, got.mtu, got.up) == ("macvlan", dev.mac, 1400, True)
    assert "eth1" not in by_name(u.nl)
    detail = json.loads(subprocess.run(
        ["ip", "-n", n.name, "-d", "-j", "link", "show", "eth1"],
        capture_output=True, text=True, check=True).stdout)[0]
    assert detail["linkinfo"]["info_data"]["mode"] == "private"

    configure(n.nl, [IfConfig("eth1", addresses=(ip_interface("10.56.0.1/24"),))])
    ping(n, "10.56.0.2")


def test_dummy_or_a_clear_missing_driver_error(make_ns):
    u, n = make_ns("u"), make_ns("n")
    dev = Device("dummy", "dum0", ns_fd=n.fd, mac="02:00:00:57:00:01", mtu=1400, up=True)
    [err] = create_devices(u.nl, [dev])
    if err is not None:
        assert "this kernel has no 'dummy' driver (modprobe dummy)" in str(err), err
        print(f"\n{err}")
        pytest.skip("kernel has no dummy driver")
    got = by_name(n.nl)["dum0"]
    assert (got.kind, got.mac, got.mtu, got.up) == ("dummy", dev.mac, 1400, True)


def test_stitch_veth_to_vxlan_in_the_underlay(make_ns):
    u1, u2 = two_hosts(make_ns)
    n1, n2 = make_ns("n1"), make_ns("n2")
    for u, n, remote, local, last in ((u1, n1, UNDER2, UNDER1, 1), (u2, n2, UNDER1, UNDER2, 2)):
        pair = (VethEnd("a1", mtu=1450), VethEnd("eth1", ns_fd=n.fd, mtu=1450))
        assert create_veths(u.nl, [pair]) == [None]
        vx = Device("vxlan", "vx1", up=True, vxlan=VxlanParams(VNI, remote=remote, local=local))
        assert create_devices(u.nl, [vx]) == [None]
        here = by_name(u.nl)
        assert not stitched(u.nl, here["a1"].index)
        kind = stitch(u.nl, here["a1"].index, here["vx1"].index)
        assert kind in ("matchall", "flower", "u32")
        print(f"\nstitch classifier: {kind}")
        assert stitch(u.nl, here["a1"].index, here["vx1"].index) == kind  # idempotent
        assert stitched(u.nl, here["a1"].index) and stitched(u.nl, here["vx1"].index)
        assert not stitched(u.nl, here["u0"].index)
        filters = subprocess.run(["tc", "-n", u.name, "filter", "show", "dev", "a1", "ingress"],
                                 capture_output=True, text=True, check=True).stdout
        assert "Egress Redirect to device vx1" in filters
        assert filters.count("mirred") == 1, f"stitching twice added a filter:\n{filters}"
        configure(n.nl, [IfConfig("eth1", addresses=(ip_interface(f"10.57.0.{last}/24"),
                                                     ip_interface(f"fd57::{last}/64")))])
    ping(n1, "10.57.0.2")
    ping(n2, "fd57::1")


def test_same_vni_twice_in_one_underlay_is_a_readable_error(make_ns):
    u, n1, n2 = make_ns("u"), make_ns("n1"), make_ns("n2")
    first = Device("vxlan", "eth1", ns_fd=n1.fd, vxlan=VxlanParams(VNI, remote=UNDER2))
    # another node namespace, same underlay: the VNI/port is taken in the underlay
    second = Device("vxlan", "eth1", ns_fd=n2.fd, vxlan=VxlanParams(VNI, remote=UNDER2))
    assert create_devices(u.nl, [first]) == [None]
    [err] = create_devices(u.nl, [second])
    assert isinstance(err, KernelError) and err.errno == 17
    print(f"\n{err}")
    assert "create vxlan eth1: File exists" in str(err)
    assert "eth1" not in by_name(n2.nl)


def test_vxlan_ipv6_underlay_and_parent(make_ns):
    u, n = make_ns("u"), make_ns("n")
    assert create_veths(u.nl, [(VethEnd("u0"), VethEnd("u9"))]) == [None]
    parent = by_name(u.nl)["u0"].index
    params = VxlanParams(99, remote="fd00::2", local="fd00::1", dst_port=4789,
                         parent_index=parent)
    assert create_devices(u.nl, [Device("vxlan", "eth1", ns_fd=n.fd, vxlan=params)]) == [None]
    [got] = vxlan_info(n.nl).values()
    assert (got.vni, got.remote, got.local, got.dst_port, got.parent_index) == (
        99, "fd00::2", "fd00::1", 4789, parent)


def test_request_validation():
    with pytest.raises(ValueError, match="needs VxlanParams"):
        device_request(Device("vxlan", "vx0"))
    with pytest.raises(ValueError, match="parent"):
        device_request(Device("macvlan", "mv0"))
    with pytest.raises(ValueError, match="mode"):
        device_request(Device("macvlan", "mv0", parent=2, macvlan_mode="x"))
    with pytest.raises(ValueError, match="family"):
        device_request(Device("vxlan", "vx0", vxlan=VxlanParams(1, remote="fd00::1",
                                                                local="192.0.2.1")))
    with pytest.raises(ValueError, match="VNI"):
        device_request(Device("vxlan", "vx0", vxlan=VxlanParams(1 << 24, remote="192.0.2.1")))


def test_kernel_package_import_stays_light():
    code = ("import sys, netknit.kernel._devices, netknit.kernel._tc; "
            "print('pyroute2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
