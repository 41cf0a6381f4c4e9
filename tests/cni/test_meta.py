"""The meta plugin: delegates in order, reverse on DEL, rollback, never nesting."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from .conftest import CniCall, link_names

pytestmark = pytest.mark.root


def bridge_conflist(tag: str) -> dict[str, Any]:
    return {"cniVersion": "1.0.0", "name": f"{tag}br", "plugins": [
        {"type": "bridge", "bridge": f"{tag}b", "isGateway": True,
         "ipam": {"type": "host-local", "subnet": "10.231.0.0/24",
                  "dataDir": f"/run/{tag}-ipam"}}]}


def meta(tag: str, dev: str, **extra: Any) -> dict[str, Any]:
    return {"cniVersion": "1.0.0", "name": f"{tag}meta", "type": "netknit", "delegates": [
        {"conf": bridge_conflist(tag)},
        {"ifname": "net1", "conf": {"cniVersion": "1.0.0", "name": "hd",
                                    "type": "netknit-host-device", "device": dev}}],
        **extra}


@pytest.fixture
def bridge_cleanup(tag: str) -> Any:
    yield
    subprocess.run(["ip", "link", "del", f"{tag}b"], capture_output=True, check=False)
    subprocess.run(["rm", "-rf", f"/run/{tag}-ipam"], check=False)


def test_add_del_primary_and_attachment(cni: CniCall, scratch: Any, tag: str,
                                        bridge_cleanup: None) -> None:
    dev = scratch.nic()
    netns = scratch.netns()
    conf = meta(tag, dev)
    code, result = cni("ADD", conf, netns=netns, ifname="eth0", cid=tag)
    assert code == 0, result
    inside = link_names(netns)
    assert {"eth0", "net1"} <= set(inside)
    names = [i["name"] for i in result["interfaces"]]
    assert "eth0" in names and "net1" in names
    eth0 = names.index("eth0")
    assert any(ip["interface"] == eth0 and ip["address"].startswith("10.231.0.")
               for ip in result["ips"])
    assert cni("CHECK", {**conf, "prevResult": result}, netns=netns, cid=tag)[0] == 0
    for _ in range(2):
        code, out = cni("DEL", conf, netns=netns, ifname="eth0", cid=tag)
        assert code == 0, out
    assert dev in link_names() and set(link_names(netns)) == {"lo"}
    assert not [f for f in os.listdir(f"/run/{tag}-ipam/{tag}br") if f[0].isdigit()]


def test_failed_delegate_rolls_back_the_ones_before(cni: CniCall, scratch: Any, tag: str,
                                                    bridge_cleanup: None) -> None:
    netns = scratch.netns()
    code, out = cni("ADD", meta(tag, f"{tag}missing"), netns=netns, cid=tag)
    assert code != 0 and out["code"] == 101 and "deleted" in out["msg"]
    assert set(link_names(netns)) == {"lo"}
    assert not [f for f in os.listdir(f"/run/{tag}-ipam/{tag}br") if f[0].isdigit()]


def test_nesting_is_refused(cni: CniCall, scratch: Any, tag: str) -> None:
    inner = {"cniVersion": "1.0.0", "name": "x", "type": "netknit",
             "delegates": [{"conf": bridge_conflist(tag)}]}
    conf = {"cniVersion": "1.0.0", "name": "y", "type": "netknit",
            "delegates": [{"conf": {"cniVersion": "1.0.0", "name": "x", "plugins": [inner]}}]}
    code, out = cni("ADD", conf, netns=scratch.netns(), cid=tag)
    assert code != 0 and out["code"] == 7 and "nest" in out["msg"]


def test_readiness_file(cni: CniCall, scratch: Any, tag: str, tmp_path: Any,
                        bridge_cleanup: None) -> None:
    dev = scratch.nic()
    netns = scratch.netns()
    ready = tmp_path / "ready"
    conf = meta(tag, dev, readinessIndicatorFile=str(ready), readinessTimeout=0.3)
    code, out = cni("ADD", conf, netns=netns, cid=tag)
    assert code != 0 and out["code"] == 11
    conf11 = {**conf, "cniVersion": "1.1.0"}
    code, out = cni("STATUS", conf11)
    assert code != 0 and out["code"] == 50
    ready.write_text("")
    assert cni("STATUS", conf11) == (0, None)
    code, out = cni("ADD", conf, netns=netns, cid=tag)
    assert code == 0, out
    assert cni("DEL", conf, netns=netns, cid=tag)[0] == 0
    json.dumps(out)
