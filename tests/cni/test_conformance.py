"""Issue 17, "CNI to the letter": one regression test per defect found by driving the
plugin as a runtime does, against SPEC 1.1.0 and the reference plugins in /usr/lib/cni.

Where an IPAM must fail on demand, ``nkcipam`` stands in: a four-line shell plugin that
answers like ``static`` and fails the commands listed in NKC_FAIL (the plugin passes its
environment on to IPAM, as the spec says)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import CniCall, link_names

pytestmark = pytest.mark.root

FAKE_IPAM = """#!/bin/sh
echo "$CNI_COMMAND" >> "$NKC_LOG"
case " $NKC_FAIL " in *" $CNI_COMMAND "*)
  echo '{"cniVersion":"1.1.0","code":50,"msg":"nkcipam: told to fail"}'; exit 1;; esac
[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.1.0","ips":[{"address":"10.76.0.2/24"}]}'
exit 0
"""


@pytest.fixture
def fake_ipam(tmp_path: Path, bin_dir: Path) -> Iterator[dict[str, Any]]:
    """CNI_PATH with ``nkcipam`` first; ``env(fail)`` → extra_env; ``calls()`` → log."""
    d = tmp_path / "ipambin"
    d.mkdir()
    (d / "nkcipam").write_text(FAKE_IPAM)
    (d / "nkcipam").chmod(0o755)
    log = tmp_path / "ipam.log"
    log.touch()

    def env(fail: str = "") -> dict[str, str]:
        return {"CNI_PATH": f"{d}:{bin_dir}", "NKC_LOG": str(log), "NKC_FAIL": fail}

    yield {"env": env, "calls": lambda: log.read_text().split()}


def hostdev(device: str, version: str = "1.0.0", **extra: Any) -> dict[str, Any]:
    return {"cniVersion": version, "name": "nkcnet", "type": "netknit-host-device",
            "device": device, **extra}


def meta(*delegates: dict[str, Any], version: str = "1.0.0", **extra: Any) -> dict[str, Any]:
    return {"cniVersion": version, "name": "nkcmeta", "type": "netknit",
            "delegates": list(delegates), **extra}


def ns_name(netns: str) -> str:
    return netns.rsplit("/", 1)[1]


def ip_in(netns: str, *args: str) -> str:
    return subprocess.run(["ip", "-n", ns_name(netns), *args], capture_output=True,
                          text=True, check=True).stdout


# 1. prevResult chained on ADD ---------------------------------------------------------


def test_1_delegate_chain_gets_prev_result(cni: CniCall, scratch: Any, tag: str) -> None:
    """host-device then tuning in one delegate conflist: tuning needs prevResult."""
    dev, netns = scratch.nic(), scratch.netns()
    mac = "0a:58:0a:00:00:17"
    chain = {"cniVersion": "1.0.0", "name": "hdtune", "plugins": [
        {"type": "netknit-host-device", "device": dev},
        {"type": "tuning", "mac": mac, "dataDir": f"/run/{tag}-tuning"}]}
    conf = meta({"conf": chain}, name=f"{tag}m")
    try:
        code, result = cni("ADD", conf, netns=netns, ifname="net1", cid=tag)
        assert code == 0, result
        assert link_names(netns)["net1"]["address"] == mac
        assert result["interfaces"] == [{"name": "net1", "mac": mac, "sandbox": netns}]
        assert cni("CHECK", {**conf, "prevResult": result}, netns=netns, ifname="net1",
                   cid=tag)[0] == 0
        code, out = cni("DEL", conf, netns=netns, ifname="net1", cid=tag)
        assert code == 0, out
        assert dev in link_names() and "net1" not in link_names(netns)
    finally:
        subprocess.run(["rm", "-rf", f"/run/{tag}-tuning"], check=False)


# 2. capabilities → runtimeConfig ---------------------------------------------------


def test_2_capabilities_become_runtime_config(cni: CniCall, scratch: Any, tag: str) -> None:
    """The runtime gives the meta plugin runtimeConfig.mac; tuning declares the "mac"
    capability and must get it as runtimeConfig (no "capabilities" key); host-device
    declares none and gets no runtimeConfig."""
    dev, netns = scratch.nic(), scratch.netns()
    mac = "0a:58:0a:00:00:27"
    chain = {"cniVersion": "1.0.0", "name": "hdcap", "plugins": [
        {"type": "netknit-host-device", "device": dev},
        {"type": "tuning", "capabilities": {"mac": True, "bandwidth": False},
         "dataDir": f"/run/{tag}-tuning"}]}
    conf = meta({"conf": chain}, name=f"{tag}m",
                runtimeConfig={"mac": mac, "bandwidth": {"ingressRate": 1}})
    try:
        code, result = cni("ADD", conf, netns=netns, ifname="net1", cid=tag)
        assert code == 0, result
        assert link_names(netns)["net1"]["address"] == mac
        assert cni("DEL", conf, netns=netns, ifname="net1", cid=tag)[0] == 0
        assert dev in link_names()
    finally:
        subprocess.run(["rm", "-rf", f"/run/{tag}-tuning"], check=False)


def test_2_device_id_selects_by_pci(cni: CniCall, scratch: Any) -> None:
    """runtimeConfig.deviceID (the deviceID capability) selects the device as pciBusID."""
    conf = {"cniVersion": "1.0.0", "name": "n", "type": "netknit-host-device",
            "runtimeConfig": {"deviceID": "0000:ff:1f.7"}}
    code, out = cni("ADD", conf, netns=scratch.netns(), ifname="net1")
    assert code != 0 and out["code"] == 101, out
    assert "pciBusID 0000:ff:1f.7" in out["msg"]


# 3. GC filtered per delegate (and disableGC) ----------------------------------------


def _two_hostdevs(scratch: Any, tag: str, **second: Any) -> tuple[dict[str, Any], str, str]:
    primary, extra = scratch.nic("a"), scratch.nic("b")
    conf = meta({"conf": hostdev(primary, "1.1.0", name="p")},
                {"ifname": "net1", "conf": {**hostdev(extra, "1.1.0", name="x"), **second}},
                version="1.1.0", name=f"{tag}m")
    return conf, primary, extra


@pytest.mark.parametrize("disable_gc", [False, True])
def test_3_gc_keeps_a_delegate_attachment_on_another_interface(
        cni: CniCall, scratch: Any, tag: str, disable_gc: bool) -> None:
    """The runtime says (cid, eth0) is valid: the net1 delegate's attachment is valid
    too, so after GC a DEL without CNI_NETNS (ctr's) still brings net1's device home.
    With disableGC on the delegate, GC must not reach it even if nothing is valid."""
    extra_conf = {"disableGC": True} if disable_gc else {}
    conf, primary, extra = _two_hostdevs(scratch, tag, **extra_conf)
    netns = scratch.netns()
    held = os.open(netns, os.O_RDONLY)  # held by a process: found without a bind mount
    try:
        code, out = cni("ADD", conf, netns=netns, ifname="eth0", cid=tag)
        assert code == 0, out
        valid = [] if disable_gc else [{"containerID": tag, "ifname": "eth0"}]
        code, out = cni("GC", {**conf, "cni.dev/valid-attachments": valid})
        assert code == 0, out
        code, out = cni("DEL", conf, netns="", ifname="eth0", cid=tag)
        assert code == 0, out
        assert extra in link_names(), "net1's device was left in the pod"
        if not disable_gc:  # (cid, eth0) was valid: the primary's state was kept too
            assert primary in link_names(), "eth0's device was left in the pod"
        assert set(link_names(netns)) <= {"lo", "eth0"}
    finally:
        os.close(held)


# 4. STATUS forwarded to IPAM ---------------------------------------------------------


def test_4_status_goes_to_ipam(cni: CniCall, fake_ipam: dict[str, Any]) -> None:
    conf = hostdev("nkcnone", "1.1.0", ipam={"type": "nkcipam"})
    assert cni("STATUS", conf, extra_env=fake_ipam["env"]()) == (0, None)
    code, out = cni("STATUS", conf, extra_env=fake_ipam["env"]("STATUS"))
    assert code != 0 and out["code"] == 50, out
    assert fake_ipam["calls"]() == ["STATUS", "STATUS"]


# 5. disableCheck -------------------------------------------------------------------


def test_5_disable_check_is_honoured(cni: CniCall, scratch: Any, tag: str) -> None:
    dev, netns = scratch.nic(), scratch.netns()
    static = {"type": "static", "addresses": [{"address": "10.75.0.2/24"}]}
    chain = {"cniVersion": "1.0.0", "name": "hd", "disableCheck": True,
             "plugins": [hostdev(dev, ipam=static)]}
    conf = meta({"conf": chain}, name=f"{tag}m")
    code, result = cni("ADD", conf, netns=netns, ifname="net1", cid=tag)
    assert code == 0, result
    ip_in(netns, "addr", "flush", "dev", "net1")  # a CHECK would now fail
    code, out = cni("CHECK", {**conf, "prevResult": result}, netns=netns, ifname="net1",
                    cid=tag)
    assert code == 0, out
    assert cni("DEL", conf, netns=netns, ifname="net1", cid=tag)[0] == 0


# 6. a failing IPAM never strands the device ----------------------------------------


def test_6_add_with_failing_ipam_rolls_back(cni: CniCall, scratch: Any) -> None:
    """ipam dhcp without a dhcp daemon: ADD fails, its rollback's IPAM DEL fails too,
    and the device is home all the same."""
    assert not os.path.exists("/run/cni/dhcp.sock"), "a dhcp daemon runs here"
    dev, netns = scratch.nic(), scratch.netns()
    conf = hostdev(dev, ipam={"type": "dhcp"})
    code, out = cni("ADD", conf, netns=netns, ifname="net1")
    assert code != 0, out
    assert dev in link_names() and "net1" not in link_names(netns)
    assert not link_names()[dev].get("ifalias")


def test_6_del_with_failing_ipam_brings_the_device_home(
        cni: CniCall, scratch: Any, fake_ipam: dict[str, Any]) -> None:
    dev, netns = scratch.nic(), scratch.netns()
    conf = hostdev(dev, ipam={"type": "nkcipam"})
    assert cni("ADD", conf, netns=netns, ifname="net1", extra_env=fake_ipam["env"]())[0] == 0
    code, out = cni("DEL", conf, netns=netns, ifname="net1",
                    extra_env=fake_ipam["env"]("DEL"))
    assert code != 0 and "nkcipam" in out["msg"], out  # the IPAM failure is reported
    assert dev in link_names() and "net1" not in link_names(netns)
    code, out = cni("DEL", conf, netns=netns, ifname="net1", extra_env=fake_ipam["env"]())
    assert code == 0, out  # a later DEL retries the IPAM and succeeds
    assert fake_ipam["calls"]() == ["ADD", "DEL", "DEL"]


# 7. DEL without CNI_NETNS, namespace held only by a bind mount ----------------------


def test_7_del_without_netns_finds_a_bind_mounted_namespace(cni: CniCall,
                                                            scratch: Any) -> None:
    dev, netns = scratch.nic(), scratch.netns()  # `ip netns add`: a bind mount only
    assert cni("ADD", hostdev(dev), netns=netns, ifname="net1")[0] == 0
    code, out = cni("DEL", hostdev(dev), netns="", ifname="net1")
    assert code == 0, out
    assert dev in link_names() and "net1" not in link_names(netns)


# 8. malformed prevResult: code 7 before any side effect -----------------------------


@pytest.mark.parametrize("prev", [
    {"cniVersion": "1.0.0", "interfaces": "eth0"},
    {"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.300/24"}]},
    {"cniVersion": "1.0.0", "interfaces": [], "ips": [{"address": "10.0.0.3/24",
                                                       "interface": 4}]},
    [1, 2],
])
def test_8_malformed_prev_result_is_refused_before_the_move(cni: CniCall, scratch: Any,
                                                            prev: Any) -> None:
    dev, netns = scratch.nic(), scratch.netns()
    code, out = cni("ADD", hostdev(dev, prevResult=prev), netns=netns, ifname="net1")
    assert code != 0 and out["code"] == 7 and "prevResult" in out["msg"], out
    assert dev in link_names() and "net1" not in link_names(netns)


# 9. the smaller ones -----------------------------------------------------------------


STATIC_GW = {"type": "static",
             "addresses": [{"address": "10.74.0.2/24", "gateway": "10.74.0.1"}],
             "routes": [{"dst": "10.73.0.0/16"}, {"dst": "10.72.0.0/16", "gw": "10.74.0.9"}]}


def test_9_route_without_gw_goes_via_the_gateway(cni: CniCall, scratch: Any) -> None:
    """As pkg/ipam ConfigureIface: a route without "gw" goes via the gateway of the
    interface's address of its family."""
    dev, netns = scratch.nic(), scratch.netns()
    conf = hostdev(dev, ipam=STATIC_GW)
    code, result = cni("ADD", conf, netns=netns, ifname="net1")
    assert code == 0, result
    routes = ip_in(netns, "route")
    assert "10.73.0.0/16 via 10.74.0.1 dev net1" in routes, routes
    assert "10.72.0.0/16 via 10.74.0.9 dev net1" in routes, routes
    assert cni("DEL", conf, netns=netns, ifname="net1")[0] == 0


def test_9_check_sees_a_missing_route(cni: CniCall, scratch: Any) -> None:
    dev, netns = scratch.nic(), scratch.netns()
    conf = hostdev(dev, ipam={**STATIC_GW, "routes": [{"dst": "10.72.0.0/16",
                                                       "gw": "10.74.0.9"}]})
    code, result = cni("ADD", conf, netns=netns, ifname="net1")
    assert code == 0, result
    checked = {**conf, "prevResult": result}
    assert cni("CHECK", checked, netns=netns, ifname="net1") == (0, None)
    ip_in(netns, "route", "del", "10.72.0.0/16")
    code, out = cni("CHECK", checked, netns=netns, ifname="net1")
    assert code != 0 and out["code"] == 103 and "10.72.0.0/16" in out["msg"], out
    assert cni("DEL", conf, netns=netns, ifname="net1")[0] == 0


def test_9_kernelpath_error_names_the_value(cni: CniCall, scratch: Any) -> None:
    conf = {"cniVersion": "1.0.0", "name": "n", "type": "netknit-host-device",
            "kernelpath": "/sys/devices/pci0000:00/0000:00:1f.6"}
    code, out = cni("ADD", conf, netns=scratch.netns(), ifname="net1")
    assert code != 0 and out["code"] == 2
    assert "/sys/devices/pci0000:00/0000:00:1f.6" in out["msg"]


@pytest.mark.parametrize("asked", ["9.9.9", "0.3.1", "1.0.0"])
def test_9_version_echoes_the_input_version(cni: CniCall, asked: str) -> None:
    code, out = cni("VERSION", {"cniVersion": asked})
    assert code == 0 and out["cniVersion"] == asked
    assert out["supportedVersions"] == ["0.4.0", "1.0.0", "1.1.0"]


def test_9_runtime_config_is_never_given_capabilities(tmp_path: Path, cni: CniCall,
                                                      scratch: Any, tag: str) -> None:
    """What a delegate receives, recorded by a plugin that writes its stdin down."""
    d = tmp_path / "bin"
    d.mkdir()
    (d / "nkcrec").write_text('#!/bin/sh\ncat >> "$NKC_LOG"; echo >> "$NKC_LOG"\n'
                              'echo \'{"cniVersion":"1.0.0"}\'\n')
    (d / "nkcrec").chmod(0o755)
    log = tmp_path / "seen"
    chain = {"cniVersion": "1.0.0", "name": "rec", "plugins": [
        {"type": "nkcrec", "capabilities": {"portMappings": True, "mac": True}},
        {"type": "nkcrec"}]}
    conf = meta({"conf": chain}, name=f"{tag}m",
                runtimeConfig={"portMappings": [{"hostPort": 8080, "containerPort": 80,
                                                 "protocol": "tcp"}], "ips": ["10.0.0.1"]})
    env = {"CNI_PATH": str(d), "NKC_LOG": str(log)}
    code, out = cni("ADD", conf, netns=scratch.netns(), ifname="eth0", cid=tag,
                    extra_env=env)
    assert code == 0, out
    first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert "capabilities" not in first and "prevResult" not in first
    assert first["runtimeConfig"] == {"portMappings": conf["runtimeConfig"]["portMappings"]}
    assert first["name"] == "rec" and first["cniVersion"] == "1.0.0"
    assert "runtimeConfig" not in second and second["prevResult"] == {"cniVersion": "1.0.0"}
    assert cni("DEL", conf, netns="", ifname="eth0", cid=tag, extra_env=env)[0] == 0


# the chain runtimes build: tuning and bandwidth after host-device -------------------


def test_tuned_mac_is_undone_when_del_comes_without_netns(cni: CniCall, scratch: Any,
                                                          tag: str) -> None:
    """ctr calls DEL without CNI_NETNS: tuning cannot reach the pod to undo its MAC, so
    the device's own MAC (noted in its alias at ADD) is given back on the way home."""
    dev, netns = scratch.nic(), scratch.netns()
    own = link_names()[dev]["address"]
    chain = {"cniVersion": "1.0.0", "name": "hdtune", "plugins": [
        {"type": "netknit-host-device", "device": dev},
        {"type": "tuning", "mac": "0a:58:0a:00:00:37", "dataDir": f"/run/{tag}-tuning"}]}
    conf = meta({"conf": chain}, name=f"{tag}m")
    try:
        assert cni("ADD", conf, netns=netns, ifname="net1", cid=tag)[0] == 0
        code, out = cni("DEL", conf, netns="", ifname="net1", cid=tag)
        assert code == 0, out
        assert link_names()[dev]["address"] == own
    finally:
        subprocess.run(["rm", "-rf", f"/run/{tag}-tuning"], check=False)


def test_host_peer_needs_a_veth_with_its_peer_in_the_host(cni: CniCall, scratch: Any,
                                                          tag: str) -> None:
    dev, netns, other = scratch.nic(), scratch.netns(), scratch.netns("o")
    subprocess.run(["ip", "link", "set", f"{dev}p", "netns", ns_name(other)], check=True)
    code, out = cni("ADD", hostdev(dev, hostPeer=True), netns=netns, ifname="net1")
    assert code != 0 and out["code"] == 7 and "hostPeer" in out["msg"], out
    assert dev in link_names() and "net1" not in link_names(netns)
    code, out = cni("ADD", hostdev(dev, hostPeer="yes"), netns=netns, ifname="net1")
    assert code != 0 and out["code"] == 7, out


def test_host_peer_is_reported_and_its_qdiscs_reset_on_del(cni: CniCall, scratch: Any,
                                                           tag: str) -> None:
    dev, netns = scratch.nic(), scratch.netns()
    peer = f"{dev}p"
    subprocess.run(["ip", "link", "set", peer, "up"], check=True)
    chain = {"cniVersion": "1.0.0", "name": f"{tag}bw", "plugins": [
        {"type": "netknit-host-device", "device": dev, "hostPeer": True},
        {"type": "bandwidth", "ingressRate": 8_000_000, "ingressBurst": 100_000}]}
    conf = meta({"conf": chain}, name=f"{tag}m")
    code, result = cni("ADD", conf, netns=netns, ifname="net1", cid=tag)
    assert code == 0, result
    assert [i["name"] for i in result["interfaces"]] == [peer, "net1"]
    assert "sandbox" not in result["interfaces"][0]
    shown = subprocess.run(["tc", "qdisc", "show", "dev", peer], capture_output=True,
                           text=True, check=True).stdout
    assert "tbf" in shown
    assert cni("DEL", conf, netns=netns, ifname="net1", cid=tag)[0] == 0
    shown = subprocess.run(["tc", "qdisc", "show", "dev", peer], capture_output=True,
                           text=True, check=True).stdout
    assert "tbf" not in shown and "ingress" not in shown, shown
    assert not link_names()[peer].get("ifalias")
    # the next pod gets the same device: bandwidth can add its tbf again
    assert cni("ADD", conf, netns=netns, ifname="net1", cid=tag)[0] == 0
    assert cni("DEL", conf, netns=netns, ifname="net1", cid=tag)[0] == 0


def test_meta_passes_its_own_prev_result_through(cni: CniCall, scratch: Any,
                                                 tag: str) -> None:
    dev, netns = scratch.nic(), scratch.netns()
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": netns}],
            "ips": [{"address": "10.71.0.5/24", "interface": 0}]}
    conf = meta({"ifname": "net1", "conf": hostdev(dev)}, name=f"{tag}m")
    code, result = cni("ADD", {**conf, "prevResult": prev}, netns=netns, ifname="eth0",
                       cid=tag)
    assert code == 0, result
    assert [i["name"] for i in result["interfaces"]] == ["eth0", "net1"]
    assert result["ips"] == [{"address": "10.71.0.5/24", "interface": 0}]
    assert cni("DEL", conf, netns=netns, ifname="eth0", cid=tag)[0] == 0
