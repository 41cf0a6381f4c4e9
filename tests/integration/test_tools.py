"""`tools veth create` and `tools vxlan create`: links added to a deployed lab by hand,
journaled into it (destroy removes them), kept by reconcile and by deploy of a changed
file."""

from __future__ import annotations

import json
import subprocess

from .conftest import Lab, host_links, run_cli
from .test_reconcile import LAB  # a, b, c and the bridge brTAG


def sh(lab: Lab, node: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", f"clab-{lab.name}-{node}", *argv],
                          capture_output=True, text=True, check=False)


def link_json(lab: Lab | None, node: str | None, name: str) -> dict[str, object]:
    where = ["-n", f"clab-{lab.name}-{node}"] if lab and node else []
    out = subprocess.run(["ip", *where, "-d", "-j", "link", "show", name],
                         capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out)[0])


def test_veth_between_two_nodes_carries_traffic_survives_reconcile_and_goes_with_destroy(
        lab: Lab) -> None:
    topo = str(lab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    made = run_cli("tools", "veth", "create", "-t", topo, "-a", "a:eth9", "-b", "b:eth9",
                   "--mtu", "1400")
    assert made.returncode == 0, made.stderr
    assert "veth a:eth9 <-> b:eth9 created" in made.stdout
    for node in ("a", "b"):
        seen = link_json(lab, node, "eth9")
        assert seen["mtu"] == 1400 and "UP" in seen["flags"]
        assert seen["ifalias"].startswith("netknit-lab ")  # the lab's mark
    assert sh(lab, "a", "ip", "addr", "add", "10.9.9.1/24", "dev", "eth9").returncode == 0
    assert sh(lab, "b", "ip", "addr", "add", "10.9.9.2/24", "dev", "eth9").returncode == 0
    ping = run_cli("exec", "-t", topo, "--node", "a", "--", "ping", "-c1", "-W2", "10.9.9.2")
    assert ping.returncode == 0, ping.stdout

    # not in the topology: reconcile neither removes it nor calls it drift
    again = run_cli("reconcile", "-t", topo, "-f", "json")
    assert again.returncode == 0 and json.loads(again.stdout)["drifts"] == []
    assert link_json(lab, "a", "eth9")["mtu"] == 1400
    # the same end twice, an unknown node, a bad endpoint: refused, nothing made
    for a_end, words in (("a:eth9", "already has an interface eth9"),
                         ("zz:eth5", "node 'zz' is not in lab"),
                         ("a:b:c", "malformed veth endpoint")):
        refused = run_cli("tools", "veth", "create", "-t", topo, "-a", a_end, "-b", "b:eth5")
        assert refused.returncode == 2 and words in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    assert sh(lab, "b", "ip", "link", "show", "eth5").returncode != 0

    # deploy of a changed file keeps it (the file's own links are applied around it)
    lab.write(LAB + '    - endpoints: ["a:eth3", "b:eth3"]\n')
    changed = run_cli("deploy", "-t", topo, "--quiet")
    assert changed.returncode == 0, changed.stderr
    assert sh(lab, "a", "ip", "link", "show", "eth3").returncode == 0
    assert sh(lab, "a", "ip", "link", "show", "eth9").returncode == 0
    assert run_cli("destroy", "-t", topo).returncode == 0  # the fixture checks leftovers


def test_veth_to_the_host_and_to_a_bridge_and_vxlan_stitched_to_the_host_end(
        lab: Lab) -> None:
    topo = str(lab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    host_end, port = f"v{lab.tag}h", f"p{lab.tag}b"
    for a_end, b_end in (("a:eth8", f"host:{host_end}"),
                         ("b:eth7", f"bridge:br{lab.tag}:{port}")):
        made = run_cli("tools", "veth", "create", "-t", topo, "-a", a_end, "-b", b_end)
        assert made.returncode == 0, made.stderr
    assert link_json(None, None, host_end)["mtu"] == 9500  # containerlab's default
    assert link_json(None, None, port)["master"] == f"br{lab.tag}"

    made = run_cli("tools", "vxlan", "create", "-t", topo, "--remote", "192.0.2.77",
                   "--id", "4242", "--link", host_end, "--dst-port", "4790")
    assert made.returncode == 0, made.stderr
    vx = link_json(None, None, f"vx-{host_end}")
    data = vx["linkinfo"]["info_data"]  # type: ignore[index]
    assert vx["linkinfo"]["info_kind"] == "vxlan"  # type: ignore[index]
    assert (data["id"], data["remote"], data["port"]) == (4242, "192.0.2.77", 4790)
    assert vx["mtu"] == 1450 and vx["ifalias"].startswith("netknit-lab ")
    tc = subprocess.run(["tc", "filter", "show", "dev", host_end, "ingress"],
                        capture_output=True, text=True, check=True).stdout
    assert f"Redirect to device vx-{host_end}" in tc
    # only the lab's own interfaces are stitched (destroy removes them, stitch and all)
    refused = run_cli("tools", "vxlan", "create", "-t", topo, "--remote", "192.0.2.77",
                      "--link", "lo")
    assert refused.returncode == 2 and "not a host interface of lab" in refused.stderr

    assert run_cli("destroy", "-t", topo).returncode == 0
    assert not {host_end, port, f"vx-{host_end}"} & host_links()


def test_tools_on_a_lab_that_is_not_deployed_is_a_clear_error(lab: Lab) -> None:
    topo = str(lab.write(LAB))
    done = run_cli("tools", "veth", "create", "-t", topo, "-a", "a:eth9", "-b", "b:eth9")
    assert done.returncode != 0
    assert "not deployed" in done.stderr and "Traceback" not in done.stderr
