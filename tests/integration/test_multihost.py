"""One topology across two machines: two simulated hosts (network namespaces joined by a
veth underlay), netknit run inside each under ``ip netns exec`` with its own lab
directory, each deploying its half. Cross-host links become VXLAN pairs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from .conftest import Lab, SimHost, netns_names

TOPOLOGY = """\
name: LAB
hosts:
  A: {address: 192.0.2.1}
  B: {address: 192.0.2.2}
topology:
  defaults: {kind: netns}
  nodes:
    a1: {host: A}
    a2: {host: A}
    a3: {host: A}
    a4: {host: A}
    b1: {host: B}
    b2: {host: B}
    b3: {host: B}
    b4: {host: B}
  links:
    - endpoints: [a1:eth1, b1:eth1]
      ipv4: [10.1.1.1/24, 10.1.1.2/24]
      ipv6: ["fd00:1::1/64", "fd00:1::2/64"]
    - endpoints: [a2:eth1, b2:eth1]
      ipv4: [10.1.2.1/24, 10.1.2.2/24]
      ipv6: ["fd00:2::1/64", "fd00:2::2/64"]
    - endpoints: [a3:eth1, b3:eth1]
      ipv4: [10.1.3.1/24, 10.1.3.2/24]
      ipv6: ["fd00:3::1/64", "fd00:3::2/64"]
    - endpoints: [a1:eth2, a4:eth1]
      ipv4: [10.2.1.1/24, 10.2.1.2/24]
      ipv6: ["fd00:21::1/64", "fd00:21::2/64"]
    - endpoints: [b3:eth2, b4:eth1]
      ipv4: [10.2.2.1/24, 10.2.2.2/24]
      ipv6: ["fd00:22::1/64", "fd00:22::2/64"]
"""

CROSS = [("a1", "10.1.1.2", "fd00:1::2"), ("a2", "10.1.2.2", "fd00:2::2"),
         ("a3", "10.1.3.2", "fd00:3::2")]
LOCAL = [("a1", "10.2.1.2", "fd00:21::2"), ("b3", "10.2.2.2", "fd00:22::2")]


def ping(lab: Lab, node: str, address: str) -> bool:
    """A few tries: the first packets over a VXLAN link wait for neighbour resolution."""
    for _ in range(5):
        done = subprocess.run(["ip", "netns", "exec", f"clab-{lab.name}-{node}", "ping",
                               "-c1", "-W1", address], capture_output=True, check=False)
        if done.returncode == 0:
            return True
        time.sleep(0.2)
    return False


def iface(lab: Lab, node: str, name: str) -> dict[str, object]:
    out = subprocess.run(["ip", "-j", "-d", "-n", f"clab-{lab.name}-{node}", "link", "show",
                          name], capture_output=True, text=True, check=True).stdout
    found: dict[str, object] = json.loads(out)[0]
    return found


def test_two_hosts_one_topology(lab: Lab, two_hosts: tuple[SimHost, SimHost]) -> None:
    a, b = two_hosts
    topo = lab.write(TOPOLOGY)

    done = a.cli("deploy", "-t", str(topo), "--host", "A")
    assert done.returncode == 0, done.stderr
    done = b.cli("deploy", "-t", str(topo))  # B is found from its address
    assert done.returncode == 0, done.stderr
    assert "deploying host B's part" in done.stderr
    mine = {n for n in netns_names() if n.startswith(lab.prefix)}
    assert mine == {f"{lab.prefix}{n}" for n in
                    ("a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4")}

    # the cross-host ends are VXLAN devices: same VNI on both sides, remote the other host
    for node_a, node_b in (("a1", "b1"), ("a2", "b2"), ("a3", "b3")):
        da, db = iface(lab, node_a, "eth1"), iface(lab, node_b, "eth1")
        xa = da["linkinfo"]["info_data"]  # type: ignore[index]
        xb = db["linkinfo"]["info_data"]  # type: ignore[index]
        assert da["linkinfo"]["info_kind"] == "vxlan"  # type: ignore[index]
        assert xa["id"] == xb["id"]  # type: ignore[index]
        assert xa["remote"] == "192.0.2.2" and xb["remote"] == "192.0.2.1"  # type: ignore[index]
        assert xa["port"] == 14789  # type: ignore[index]
        assert da["mtu"] == db["mtu"] == 1450  # 1500 underlay - 50 bytes of VXLAN
    assert iface(lab, "a1", "eth2")["linkinfo"]["info_kind"] == "veth"  # type: ignore[index]

    for node, v4, v6 in CROSS + LOCAL:
        assert ping(lab, node, v4), f"{node} -> {v4}"
        assert ping(lab, node, v6), f"{node} -> {v6}"

    # a redeploy on A changes nothing; inspect on A shows A's nodes without drift
    again = a.cli("deploy", "-t", str(topo), "--host", "A")
    assert again.returncode == 0 and "nothing to do" in again.stderr
    view = json.loads(a.cli("inspect", "interfaces", "-t", str(topo), "--format",
                            "json").stdout)
    assert sorted(n["node"] for n in view) == ["a1", "a2", "a3", "a4"]
    assert not [i for n in view for i in n["interfaces"] if i["drift"]]

    # a lost VXLAN end comes back through reconcile, and with a restarted node
    subprocess.run(["ip", "-n", f"clab-{lab.name}-a2", "link", "del", "eth1"], check=True)
    fixed = a.cli("reconcile", "-t", str(topo), "--format", "json")
    assert fixed.returncode == 0, fixed.stderr
    assert [d["action"] for d in json.loads(fixed.stdout)["drifts"]] == ["recreate vxlan a2:eth1"]
    assert a.cli("restart", "-t", str(topo), "--node", "a3").returncode == 0
    for node, v4, v6 in CROSS[1:]:
        assert ping(lab, node, v4) and ping(lab, node, v6), f"{node} after repair"

    for host in (a, b):
        gone = host.cli("destroy", "-t", str(topo))
        assert gone.returncode == 0, gone.stderr
    assert lab.leftovers() == []
    for host in (a, b):
        assert host.links() == {"lo", "ul0"}, "nothing but the underlay is left"


def _handwritten(lab: Lab, mine: str, theirs: str, remote: str) -> str:
    """containerlab style: each host's own file, a vxlan link per cross-host link."""
    links = "\n".join(
        f"""    - type: vxlan
      endpoint: {{node: {mine}{i}, interface: eth1, ipv4: 10.1.{i}.{1 if mine == 'a' else 2}/24}}
      remote: {remote}
      vni: {4000 + i}
      udp-port: 14789"""
        for i in (1, 2, 3))
    nodes = "\n".join(f"    {mine}{i}: {{kind: netns}}" for i in (1, 2, 3, 4))
    return f"name: LAB-{mine}\ntopology:\n  nodes:\n{nodes}\n  links:\n{links}\n"


def test_handwritten_vxlan_links(lab: Lab, two_hosts: tuple[SimHost, SimHost]) -> None:
    a, b = two_hosts
    topo_a = lab.write(_handwritten(lab, "a", "b", b.address), "a.clab.yml")
    topo_b = lab.write(_handwritten(lab, "b", "a", a.address), "b.clab.yml")
    assert a.cli("deploy", "-t", str(topo_a)).returncode == 0
    done = b.cli("deploy", "-t", str(topo_b))
    assert done.returncode == 0, done.stderr
    for i in (1, 2, 3):
        node = f"{lab.name}-a-a{i}"
        out = subprocess.run(["ip", "netns", "exec", f"clab-{node}", "ping", "-c1", "-W2",
                              f"10.1.{i}.2"], capture_output=True, check=False)
        if out.returncode:  # first try may wait for neighbour resolution
            out = subprocess.run(["ip", "netns", "exec", f"clab-{node}", "ping", "-c2",
                                  "-W2", f"10.1.{i}.2"], capture_output=True, check=False)
        assert out.returncode == 0, f"a{i} -> b{i}"
    for host, topo in ((a, topo_a), (b, topo_b)):
        assert host.cli("destroy", "-t", str(topo)).returncode == 0
    assert not [n for n in netns_names() if n.startswith(f"clab-{lab.name}-")]


def test_remote_that_is_this_host_is_refused_before_anything(
        lab: Lab, two_hosts: tuple[SimHost, SimHost]) -> None:
    a, _b = two_hosts
    topo = lab.write(_handwritten(lab, "a", "b", a.address))  # its own address
    done = a.cli("deploy", "-t", str(topo))
    assert done.returncode != 0
    assert "is an address of this host" in done.stderr
    assert not [n for n in netns_names() if n.startswith(f"clab-{lab.name}-")]


def test_plan_for_a_host_is_pure(lab: Lab) -> None:
    topo = lab.write(TOPOLOGY)
    out = subprocess.run([sys.executable, "-m", "netknit", "plan", "-t", str(topo), "--host", "B",
                          "--format", "json"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["items"]
    vxlans = [r for r in rows if r["what"] == "vxlan"]
    assert sorted(r["name"] for r in vxlans) == ["b1:eth1", "b2:eth1", "b3:eth1"]
    assert all("remote 192.0.2.1" in r["details"] and "local 192.0.2.2" in r["details"]
               for r in vxlans)
    assert not any(r["name"].startswith("a") for r in rows)
    assert not (lab.dir / f"clab-{lab.name}").exists()
    missing = subprocess.run([sys.executable, "-m", "netknit", "plan", "-t", str(topo)],
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "--host" in missing.stderr
