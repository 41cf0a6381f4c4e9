"""Spec behaviour of netknit-cni, command by command, on the real kernel."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from .conftest import CniCall, link_names

pytestmark = pytest.mark.root


def hostdev(device: str, version: str = "1.0.0", **extra: Any) -> dict[str, Any]:
    return {"cniVersion": version, "name": "nkcnet", "type": "netknit-host-device",
            "device": device, **extra}


STATIC = {"type": "static", "addresses": [{"address": "10.77.0.2/24", "gateway": "10.77.0.1"}],
          "routes": [{"dst": "10.78.0.0/16", "gw": "10.77.0.1"}]}


def test_version(cni: CniCall) -> None:
    code, out = cni("VERSION", {"cniVersion": "1.1.0"})
    assert code == 0
    assert out == {"cniVersion": "1.1.0", "supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]}


def test_malformed_stdin_is_code_6(cni: CniCall, scratch: Any) -> None:
    code, out = cni("ADD", b"{not json", netns=scratch.netns())
    assert code != 0 and out["code"] == 6 and out["msg"]


def test_unknown_version_is_code_1(cni: CniCall, scratch: Any) -> None:
    dev = scratch.nic()
    code, out = cni("ADD", hostdev(dev, version="9.9.9"), netns=scratch.netns())
    assert code != 0 and out["code"] == 1
    assert dev in link_names()


@pytest.mark.parametrize(("cid", "ifname", "netns"), [
    ("bad id!", "eth0", "/run/netns/x"), ("ok", "a/b", "/run/netns/x"),
    ("ok", "x" * 16, "/run/netns/x"), ("ok", "eth0", "relative/path"), ("", "eth0", "/x"),
    ("ok", "eth%d", "/run/netns/x")])
def test_invalid_environment_is_code_4(cni: CniCall, cid: str, ifname: str, netns: str) -> None:
    code, out = cni("ADD", hostdev("nkcnone"), cid=cid, ifname=ifname, netns=netns)
    assert code != 0 and out["code"] == 4, out


def test_missing_netns_is_code_3(cni: CniCall, scratch: Any) -> None:
    dev = scratch.nic()
    code, out = cni("ADD", hostdev(dev), netns="/run/netns/nkc-does-not-exist")
    assert code != 0 and out["code"] == 3


def test_add_check_del_with_ipam(cni: CniCall, scratch: Any) -> None:
    dev = scratch.nic(mtu=1400)
    netns = scratch.netns()
    before = link_names()[dev]
    conf = hostdev(dev, ipam=STATIC)
    code, result = cni("ADD", conf, netns=netns, ifname="net1")
    assert code == 0, result
    assert dev not in link_names()
    inside = link_names(netns)["net1"]
    assert inside["address"] == before["address"] and inside["mtu"] == 1400
    assert result["interfaces"] == [{"name": "net1", "mac": before["address"],
                                     "sandbox": netns}]
    assert result["ips"][0]["address"] == "10.77.0.2/24"
    routes = subprocess.run(["ip", "-n", netns.rsplit("/", 1)[1], "route"],
                            capture_output=True, text=True, check=True).stdout
    assert "10.78.0.0/16 via 10.77.0.1" in routes
    code, out = cni("CHECK", {**conf, "prevResult": result}, netns=netns, ifname="net1")
    assert code == 0, out
    # CHECK notices a missing address
    subprocess.run(["ip", "-n", netns.rsplit("/", 1)[1], "addr", "flush", "dev", "net1"],
                   check=True)
    code, out = cni("CHECK", {**conf, "prevResult": result}, netns=netns, ifname="net1")
    assert code != 0 and out["code"] == 103
    for _ in range(2):  # DEL twice
        code, out = cni("DEL", conf, netns=netns, ifname="net1")
        assert code == 0, out
    back = link_names()[dev]
    assert back["mtu"] == 1400 and "UP" in back["flags"] and not back.get("ifalias")
    assert "net1" not in link_names(netns)


def test_down_device_comes_back_down_and_prev_result_chains(cni: CniCall, scratch: Any) -> None:
    dev = scratch.nic(up=False)
    netns = scratch.netns()
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": netns}],
            "ips": [{"address": "10.1.0.5/24", "interface": 0}], "routes": [], "dns": {}}
    conf = hostdev(dev, prevResult=prev)
    code, result = cni("ADD", conf, netns=netns, ifname="net2")
    assert code == 0, result
    assert [i["name"] for i in result["interfaces"]] == ["eth0", "net2"]
    assert result["ips"] == prev["ips"]
    code, _ = cni("DEL", conf, netns=netns, ifname="net2")
    assert code == 0
    assert "UP" not in link_names()[dev]["flags"]


def test_select_by_hwaddr(cni: CniCall, scratch: Any) -> None:
    dev = scratch.nic()
    mac = link_names()[dev]["address"]
    netns = scratch.netns()
    conf = {"cniVersion": "1.1.0", "name": "n", "type": "netknit-host-device", "hwaddr": mac}
    assert cni("ADD", conf, netns=netns, ifname="eth3")[0] == 0
    assert link_names(netns)["eth3"]["address"] == mac
    assert cni("DEL", conf, netns=netns, ifname="eth3")[0] == 0
    assert dev in link_names()


def test_add_with_ifname_taken_is_an_error(cni: CniCall, scratch: Any) -> None:
    dev = scratch.nic()
    netns = scratch.netns()
    name = netns.rsplit("/", 1)[1]
    subprocess.run(["ip", "-n", name, "link", "add", "net1", "type", "veth", "peer", "name",
                    "x1"], check=True)
    code, out = cni("ADD", hostdev(dev), netns=netns, ifname="net1")
    assert code != 0 and out["code"] == 102
    assert dev in link_names()  # untouched


def test_del_when_the_host_name_is_taken_in_the_container(cni: CniCall, scratch: Any) -> None:
    """DEL renames the device to its host name in the container before the one move
    home; when a stranger there has that name, it takes the detour (two moves) and
    leaves the stranger alone."""
    dev = scratch.nic()
    netns = scratch.netns()
    name = netns.rsplit("/", 1)[1]
    assert cni("ADD", hostdev(dev), netns=netns, ifname="net1")[0] == 0
    subprocess.run(["ip", "-n", name, "link", "add", dev, "type", "veth", "peer", "name",
                    "x1"], check=True)
    stranger = link_names(netns)[dev]["address"]
    code, out = cni("DEL", hostdev(dev), netns=netns, ifname="net1")
    assert code == 0, out
    back = link_names()[dev]
    assert "UP" in back["flags"] and not back.get("ifalias")
    inside = link_names(netns)
    assert "net1" not in inside and inside[dev]["address"] == stranger


def test_del_with_namespace_gone(cni: CniCall, scratch: Any) -> None:
    dev = scratch.nic()
    netns = scratch.netns()
    assert cni("ADD", hostdev(dev), netns=netns, ifname="net1")[0] == 0
    subprocess.run(["ip", "netns", "del", netns.rsplit("/", 1)[1]], check=True)
    code, out = cni("DEL", hostdev(dev), netns=netns, ifname="net1")
    assert code == 0, out  # a veth dies with the namespace: nothing to bring back
    code, out = cni("DEL", hostdev(dev), netns="", ifname="net1")
    assert code == 0, out


def test_del_restores_a_device_the_kernel_returned(cni: CniCall, scratch: Any, tag: str) -> None:
    """Hardware returns to the host under its container name when the namespace dies;
    DEL (and GC) find it by its alias and give it its own name back."""
    dev = scratch.nic()
    name = f"{tag}x"
    subprocess.run(["ip", "link", "set", dev, "down"], check=True)
    subprocess.run(["ip", "link", "set", dev, "name", name, "alias",
                    f"netknit-cni {dev} up net7 cidret"], check=True)
    code, out = cni("DEL", hostdev(dev), netns="", ifname="net7", cid="cidret")
    assert code == 0, out
    back = link_names()[dev]
    assert "UP" in back["flags"] and not back.get("ifalias")


def test_status_and_gc(cni: CniCall, scratch: Any, tag: str) -> None:
    conf = {"cniVersion": "1.1.0", "name": "n", "type": "netknit-host-device",
            "device": "x"}
    assert cni("STATUS", conf) == (0, None)
    code, out = cni("STATUS", {**conf, "cniVersion": "1.0.0"})
    assert code != 0 and out["code"] == 1
    dev = scratch.nic()
    subprocess.run(["ip", "link", "set", dev, "name", f"{tag}y", "alias",
                    f"netknit-cni {dev} down net1 gone1"], check=True)
    subprocess.run(["ip", "link", "set", scratch.nic("k"), "alias",
                    f"netknit-cni {tag}k up net1 alive1"], check=True)
    gc_conf = {**conf, "cni.dev/valid-attachments": [{"containerID": "alive1",
                                                      "ifname": "net1"}]}
    assert cni("GC", gc_conf)[0] == 0
    names = link_names()
    assert dev in names and not names[dev].get("ifalias")
    assert names[f"{tag}k"].get("ifalias")  # a valid attachment is left alone


def test_unknown_type_is_an_error(cni: CniCall, scratch: Any) -> None:
    code, out = cni("ADD", {"cniVersion": "1.0.0", "name": "n", "type": "nope"},
                    netns=scratch.netns())
    assert code != 0 and out["code"] == 7
