"""The single-ended link types against the real kernel: vxlan-stitch, macvlan, mgmt-net,
host-device (by name and by MAC), dummy and vxlan, each deployed through the CLI inside a
simulated host (a network namespace, netknit run under ``ip netns exec``), checked the way
a user would (``ip -d -j``, ``tc``, ping), destroyed, and the simulated host checked to be
exactly as it was.

The host-device and vxlan tests also watch ``ip -o monitor link`` in the simulated host
and in the node while deploying: a device must never show up under an intermediate name.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import Lab, SimHost, netns_names


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, text=True)


@dataclass
class World:
    """One simulated host plus the extra namespaces a test makes (peers of its NICs)."""

    lab: Lab
    host: SimHost
    extra: list[str] = field(default_factory=list)

    def namespace(self, suffix: str) -> str:
        name = f"nkt-{self.lab.tag}-{suffix}"
        _ip("netns", "add", name)
        self.extra.append(name)
        _ip("-n", name, "link", "set", "lo", "up")
        return name

    def nic(self, name: str, peer_ns: str, peer_address: str, *, mac: str | None = None,
            mtu: int | None = None) -> None:
        """A veth in the simulated host standing in for a NIC, up, its peer ``p0`` (up,
        addressed) in ``peer_ns``."""
        _ip("-n", self.host.name, "link", "add", name, "type", "veth", "peer", "name", "p0",
            "netns", peer_ns)
        if mac:
            _ip("-n", self.host.name, "link", "set", name, "address", mac)
        if mtu:
            _ip("-n", self.host.name, "link", "set", name, "mtu", str(mtu))
            _ip("-n", peer_ns, "link", "set", "p0", "mtu", str(mtu))
        _ip("-n", self.host.name, "link", "set", name, "up")
        _ip("-n", peer_ns, "addr", "add", peer_address, "dev", "p0")
        _ip("-n", peer_ns, "link", "set", "p0", "up")


@pytest.fixture
def world(lab: Lab) -> Iterator[World]:
    host = SimHost(f"nkt-{lab.tag}-h", "192.0.2.1", lab.dir / "host")
    the_world = World(lab, host)
    try:
        host.labdir.mkdir()
        _ip("netns", "add", host.name)
        _ip("-n", host.name, "link", "set", "lo", "up")
        yield the_world
    finally:
        for topo in lab.dir.glob("*.clab.yml"):
            host.cli("destroy", "-t", str(topo), "--quiet")
        for name in [*the_world.extra, host.name]:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


# -- what a user looks at ---------------------------------------------------------------


def ns_of(lab: Lab, node: str) -> str:
    return f"clab-{lab.name}-{node}"


def iface(netns: str, name: str) -> dict[str, Any]:
    out = subprocess.run(["ip", "-j", "-d", "-n", netns, "link", "show", name],
                         capture_output=True, text=True, check=True).stdout
    found: dict[str, Any] = json.loads(out)[0]
    return found


def addrs(netns: str, name: str) -> list[str]:
    out = subprocess.run(["ip", "-j", "-n", netns, "addr", "show", name],
                         capture_output=True, text=True, check=True).stdout
    return [f"{a['local']}/{a['prefixlen']}" for a in json.loads(out)[0]["addr_info"]
            if a["family"] == "inet"]


def kind(found: dict[str, Any]) -> str | None:
    info = found.get("linkinfo") or {}
    return info.get("info_kind")


def is_up(found: dict[str, Any]) -> bool:
    return "UP" in found["flags"]


def ping(netns: str, address: str, tries: int = 5) -> bool:
    """A few tries: the first packets may wait for neighbour resolution."""
    for _ in range(tries):
        done = subprocess.run(["ip", "netns", "exec", netns, "ping", "-c1", "-W1", address],
                              capture_output=True, check=False)
        if done.returncode == 0:
            return True
        time.sleep(0.2)
    return False


Shot = dict[str, tuple[str | None, str | None, int, tuple[str, ...]]]


def snapshot(host: SimHost) -> Shot:
    """Every interface of the simulated host: name -> (kind, MAC, MTU, flags), once the
    carrier flags have settled (the kernel sets them asynchronously after a change)."""
    def read() -> Shot:
        out = json.loads(host.sh("ip", "-j", "-d", "link", "show").stdout)
        return {d["ifname"]: (kind(d), d.get("address"), d["mtu"], tuple(sorted(d["flags"])))
                for d in out}

    now = read()
    for _ in range(30):
        time.sleep(0.1)
        last, now = now, read()
        moving = any({"NO-CARRIER", "LOWER_UP"} <= set(v[3]) for v in now.values())
        if now == last and not moving:
            break
    return now


def deploy(host: SimHost, topo: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Deploy, deploy again (a no-op), and return what ``inspect`` records for each
    interface, ``(node, name) -> {mac, mtu, ...}``, after checking it shows no drift."""
    done = host.cli("deploy", "-t", str(topo))
    assert done.returncode == 0, done.stderr
    again = host.cli("deploy", "-t", str(topo))
    assert again.returncode == 0 and "nothing to do" in again.stderr, again.stderr
    view = host.cli("inspect", "interfaces", "-t", str(topo), "--format", "json")
    assert view.returncode == 0, view.stderr
    recorded = {(n["node"], i["name"]): i for n in json.loads(view.stdout)
                for i in n["interfaces"] if i["managed"]}
    assert not [i for i in recorded.values() if i["drift"]], view.stdout
    return recorded


def as_recorded(found: dict[str, Any], recorded: dict[str, Any]) -> bool:
    """The kernel's interface has the MAC and MTU netknit recorded for it, and is up."""
    return (found["address"], found["mtu"], is_up(found)) == (
        recorded["mac"], recorded["mtu"], "down" not in recorded["drift"])


def destroy(host: SimHost, topo: Path) -> None:
    done = host.cli("destroy", "-t", str(topo))
    assert done.returncode == 0, done.stderr
    twice = host.cli("destroy", "-t", str(topo))
    assert twice.returncode == 0, twice.stderr


def no_nodes(lab: Lab) -> bool:
    return not [n for n in netns_names() if n.startswith(lab.prefix)]


# -- link monitors ----------------------------------------------------------------------

_EVENT = re.compile(r"^(?:Deleted )?\d+: ([^:@ ]+)")


def names_in(text: str) -> list[str]:
    """The interface names ``ip -o monitor link`` reported, one per event."""
    return [m.group(1) for line in text.splitlines() if (m := _EVENT.match(line.strip()))]


class HostMonitor:
    """``ip -o monitor link`` in the simulated host, started by us, stopped by its pid."""

    def __init__(self, host: SimHost, out: Path) -> None:
        self.out = out
        self._file = out.open("w")
        self.proc = subprocess.Popen(["ip", "netns", "exec", host.name, "ip", "-o", "monitor",
                                      "link"], stdout=self._file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        time.sleep(0.3)  # listening before anything happens

    def stop(self) -> str:
        if self.proc.poll() is None:
            time.sleep(0.2)  # the last events reach the file
            os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=10)
        self._file.close()
        return self.out.read_text()


def node_monitor_hook(lab: Lab, node: str) -> str:
    """A create-links hook on the host that starts ``ip -o monitor link`` in the node
    (output in <node>.mon, its pid in <node>.pid) before the node's links are made."""
    mon, pid = lab.dir / f"{node}.mon", lab.dir / f"{node}.pid"
    command = (f"sh -c 'ip netns exec clab-{lab.name}-{node} ip -o monitor link > {mon} 2>&1 "
               f"< /dev/null & echo $! > {pid}; sleep 0.3'")
    return (f"      stages:\n        create-links:\n          exec:\n"
            f"            - command: \"{command}\"\n              target: host\n")


def stop_node_monitor(lab: Lab, node: str) -> str | None:
    """Stop the node's monitor (by the pid its hook wrote); its output, None if it never
    started."""
    pid_file = lab.dir / f"{node}.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().split()[0])
    pid_file.unlink()
    time.sleep(0.2)
    try:  # the pid is still that monitor (not reused by anything else)
        if b"monitor" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGTERM)
    except (FileNotFoundError, ProcessLookupError):
        pass  # it ended by itself
    for _ in range(50):  # not our child: wait until it is gone
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.05)
    return (lab.dir / f"{node}.mon").read_text()


# -- 1. vxlan-stitch ----------------------------------------------------------------------

STITCH_A = """\
name: LAB-a
topology:
  nodes:
    n1: {kind: netns}
  links:
    - type: vxlan-stitch
      endpoint: {node: n1, interface: eth1, ipv4: 10.91.0.1/24}
      remote: 192.0.2.2
      vni: 4242
"""

PLAIN_B = """\
name: LAB-b
topology:
  nodes:
    m1: {kind: netns}
  links:
    - type: vxlan
      endpoint: {node: m1, interface: eth1, ipv4: 10.91.0.2/24}
      remote: 192.0.2.1
      vni: 4242
"""


def test_vxlan_stitch(lab: Lab, two_hosts: tuple[SimHost, SimHost]) -> None:
    a, b = two_hosts
    topo_a, topo_b = lab.write(STITCH_A, "a.clab.yml"), lab.write(PLAIN_B, "b.clab.yml")
    before_a, before_b = snapshot(a), snapshot(b)
    on_a = deploy(a, topo_a)
    deploy(b, topo_b)

    veth, vxlan = iface(a.name, "ve-n1_eth1"), iface(a.name, "vx-n1_eth1")
    assert kind(veth) == "veth" and is_up(veth)
    assert kind(vxlan) == "vxlan" and is_up(vxlan)
    tunnel = vxlan["linkinfo"]["info_data"]
    assert tunnel["id"] == 4242 and tunnel["remote"] == "192.0.2.2"
    assert tunnel["port"] == 14789
    assert as_recorded(veth, on_a[("host", "ve-n1_eth1")])
    inner = iface(ns_of(lab, "a-n1"), "eth1")
    assert kind(inner) == "veth" and as_recorded(inner, on_a[("n1", "eth1")])
    assert inner["mtu"] == veth["mtu"] == 1450  # what the tunnel carries
    assert addrs(ns_of(lab, "a-n1"), "eth1") == ["10.91.0.1/24"]
    for dev, to in (("ve-n1_eth1", "vx-n1_eth1"), ("vx-n1_eth1", "ve-n1_eth1")):
        shown = a.sh("tc", "filter", "show", "dev", dev, "ingress").stdout
        assert "mirred" in shown and f"Redirect to device {to}" in shown, shown
    far = iface(ns_of(lab, "b-m1"), "eth1")
    assert kind(far) == "vxlan" and is_up(far)

    assert ping(ns_of(lab, "a-n1"), "10.91.0.2"), "n1 -> m1 across the stitch"

    destroy(a, topo_a)
    destroy(b, topo_b)
    assert snapshot(a) == before_a and snapshot(b) == before_b
    assert a.links() == {"lo", "ul0"} and b.links() == {"lo", "ul0"}
    assert no_nodes(lab)


# -- 2. macvlan ---------------------------------------------------------------------------

MACVLAN = """\
name: LAB
topology:
  defaults: {kind: netns}
  nodes:
    n1: {}
    n2: {}
  links:
    - type: macvlan
      endpoint: {node: n1, interface: eth1, mac: "02:4e:4b:00:77:01", ipv4: 10.77.0.1/24}
      host-interface: par0
      mode: bridge
    - endpoints: ["n2:eth1", "macvlan:par0"]
      ipv4: ["10.77.0.2/24", ""]
"""


def test_macvlan(lab: Lab, world: World) -> None:
    host = world.host
    world.nic("par0", world.namespace("P"), "10.77.0.100/24")
    peer = world.extra[0]
    before = snapshot(host)
    topo = lab.write(MACVLAN)
    recorded = deploy(host, topo)

    n1 = iface(ns_of(lab, "n1"), "eth1")
    assert kind(n1) == "macvlan" and n1["linkinfo"]["info_data"]["mode"] == "bridge"
    assert n1["address"] == "02:4e:4b:00:77:01" and as_recorded(n1, recorded[("n1", "eth1")])
    assert n1["mtu"] == 1500  # the parent's
    assert addrs(ns_of(lab, "n1"), "eth1") == ["10.77.0.1/24"]
    n2 = iface(ns_of(lab, "n2"), "eth1")  # the brief form: mode bridge too
    assert kind(n2) == "macvlan" and n2["linkinfo"]["info_data"]["mode"] == "bridge"
    assert as_recorded(n2, recorded[("n2", "eth1")]) and n2["mtu"] == 1500
    assert n2["address"] != n1["address"]
    assert ping(ns_of(lab, "n1"), "10.77.0.100"), "n1 -> P through par0"
    assert ping(ns_of(lab, "n2"), "10.77.0.100"), "n2 -> P through par0"
    assert snapshot(host) == before  # nothing made in the host

    destroy(host, topo)
    assert snapshot(host) == before  # par0 untouched: MAC, MTU, up
    assert no_nodes(lab)
    assert ping(peer, "10.77.0.100", tries=1)


# -- 3. mgmt-net --------------------------------------------------------------------------

MGMT_NET = """\
name: LAB
mgmt: {bridge: mgTAG}
topology:
  defaults: {kind: netns}
  nodes:
    n1: {}
    n2: {}
  links:
    - type: mgmt-net
      endpoint: {node: n1, interface: eth1, ipv4: 10.79.0.1/24}
      host-interface: mgATAG
    - type: mgmt-net
      endpoint: {node: n2, interface: eth1, ipv4: 10.79.0.2/24}
      host-interface: mgBTAG
"""


def test_mgmt_net(lab: Lab, world: World) -> None:
    host = world.host
    before = snapshot(host)
    topo = lab.write(MGMT_NET)
    recorded = deploy(host, topo)

    bridge, ports = f"mg{lab.tag}", (f"mgA{lab.tag}", f"mgB{lab.tag}")
    found = iface(host.name, bridge)
    assert kind(found) == "bridge" and is_up(found) and found["mtu"] == 9500
    for port, node in zip(ports, ("n1", "n2"), strict=True):
        end = iface(host.name, port)
        assert kind(end) == "veth" and as_recorded(end, recorded[("host", port)])
        assert end.get("master") == bridge and end["mtu"] == 9500
        inner = iface(ns_of(lab, node), "eth1")
        assert kind(inner) == "veth" and as_recorded(inner, recorded[(node, "eth1")])
    assert ping(ns_of(lab, "n1"), "10.79.0.2"), "n1 -> n2 over the management bridge"

    destroy(host, topo)
    assert snapshot(host) == before
    assert no_nodes(lab)


# -- 4./5. host-device --------------------------------------------------------------------

HOST_DEVICE = """\
name: LAB
topology:
  nodes:
    n1:
      kind: netns
HOOK  links:
    - type: host-device
      endpoint: {node: n1, interface: eth5, ipv4: 10.78.0.1/24}
      SELECT
      mtu: 1300
"""

NIC_MAC = "02:4e:4b:00:78:05"


def _host_device(lab: Lab, world: World, select: str) -> None:
    host, nic = world.host, f"hd{lab.tag}"
    peer = world.namespace("P")
    world.nic(nic, peer, "10.78.0.100/24", mac=NIC_MAC, mtu=1400)
    before = snapshot(host)
    topo = lab.write(HOST_DEVICE.replace("HOOK", node_monitor_hook(lab, "n1"))
                     .replace("SELECT", select.replace("NIC", nic)))

    watch = HostMonitor(host, lab.dir / "host.mon")
    try:
        recorded = deploy(host, topo)
    finally:
        seen_host = watch.stop()
        seen_node = stop_node_monitor(lab, "n1")

    assert as_recorded(iface(ns_of(lab, "n1"), "eth5"), recorded[("n1", "eth5")])
    eth5 = iface(ns_of(lab, "n1"), "eth5")
    assert eth5["address"] == NIC_MAC and eth5["mtu"] == 1300 and is_up(eth5)
    assert kind(eth5) == "veth"
    assert addrs(ns_of(lab, "n1"), "eth5") == ["10.78.0.1/24"]
    assert nic not in host.links()
    assert ping(ns_of(lab, "n1"), "10.78.0.100"), "n1 -> P over the moved device"

    # no intermediate names: the host only ever saw the device leave under its own name,
    # the node only saw it arrive as eth5 (lo, made with the namespace, comes up too)
    assert set(names_in(seen_host)) == {nic} and "eth5" not in seen_host, seen_host
    assert seen_node is not None, "the create-links hook did not start the node's monitor"
    assert set(names_in(seen_node)) - {"lo"} == {"eth5"}, seen_node

    destroy(host, topo)
    assert snapshot(host) == before  # name, MAC, MTU 1400, up: as it was
    assert no_nodes(lab)
    # its peer is intact: P reaches it again
    _ip("-n", host.name, "addr", "add", "10.78.0.2/24", "dev", nic)
    assert ping(peer, "10.78.0.2"), "P -> the device, back home"


def test_host_device_by_name(lab: Lab, world: World) -> None:
    _host_device(lab, world, "host-interface: NIC")


def test_host_device_by_hwaddr(lab: Lab, world: World) -> None:
    _host_device(lab, world, f'hwaddr: "{NIC_MAC.upper()}"')


# -- 6. dummy -----------------------------------------------------------------------------

DUMMY = """\
name: LAB
topology:
  nodes:
    n1: {kind: netns}
  links:
    - type: dummy
      endpoint: {node: n1, interface: dm0, mac: "02:4e:4b:00:d0:01", ipv4: 10.76.0.1/24}
      mtu: 1400
"""


def _has_dummy_driver(world: World) -> bool:
    probe = world.namespace("probe")
    made = subprocess.run(["ip", "-n", probe, "link", "add", "d0", "type", "dummy"],
                          capture_output=True, check=False)
    return made.returncode == 0


def test_dummy(lab: Lab, world: World) -> None:
    host = world.host
    before = snapshot(host)
    topo = lab.write(DUMMY)
    done = host.cli("deploy", "-t", str(topo))
    if not _has_dummy_driver(world):
        assert done.returncode == 1, done.stderr
        assert "dummy" in done.stderr and "modprobe dummy" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        assert no_nodes(lab), "a failed deploy leaves nothing behind"
        assert snapshot(host) == before
        reason = done.stderr.strip().splitlines()
        pytest.skip("kernel has no dummy driver: " + " / ".join(reason[-3:]))
    assert done.returncode == 0, done.stderr
    dm0 = iface(ns_of(lab, "n1"), "dm0")
    assert kind(dm0) == "dummy" and is_up(dm0)
    assert dm0["address"] == "02:4e:4b:00:d0:01" and dm0["mtu"] == 1400
    assert addrs(ns_of(lab, "n1"), "dm0") == ["10.76.0.1/24"]
    destroy(host, topo)
    assert snapshot(host) == before
    assert no_nodes(lab)


# -- 7. vxlan, watched --------------------------------------------------------------------

VXLAN = """\
name: LAB
topology:
  nodes:
    n1:
      kind: netns
HOOK  links:
    - type: vxlan
      endpoint: {node: n1, interface: vxTAG, ipv4: 10.75.0.1/24}
      remote: 192.0.2.2
      vni: 4243
"""


def test_vxlan_is_born_in_the_node(lab: Lab, world: World) -> None:
    host = world.host
    before = snapshot(host)
    topo = lab.write(VXLAN.replace("HOOK", node_monitor_hook(lab, "n1")))
    name = f"vx{lab.tag}"

    watch = HostMonitor(host, lab.dir / "host.mon")
    try:
        recorded = deploy(host, topo)
    finally:
        seen_host = watch.stop()
        seen_node = stop_node_monitor(lab, "n1")

    dev = iface(ns_of(lab, "n1"), name)
    assert kind(dev) == "vxlan" and as_recorded(dev, recorded[("n1", name)])
    assert addrs(ns_of(lab, "n1"), name) == ["10.75.0.1/24"]
    assert dev["linkinfo"]["info_data"]["id"] == 4243
    assert dev["linkinfo"]["info_data"]["remote"] == "192.0.2.2"
    assert name not in names_in(seen_host), seen_host  # never in the host, not even briefly
    assert name not in seen_host
    assert seen_node is not None, "the create-links hook did not start the node's monitor"
    assert set(names_in(seen_node)) - {"lo"} == {name}, seen_node

    destroy(host, topo)
    assert snapshot(host) == before
    assert no_nodes(lab)
