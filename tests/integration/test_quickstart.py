"""The quickstart lab through the CLI, as a user runs it: deploy, look, ping, destroy."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Lab, netns_names, run_cli

EXAMPLE = Path(__file__).parents[2] / "examples" / "quickstart.clab.yml"


def _quickstart(lab: Lab) -> Path:
    """The shipped example under a unique lab name and unique host-side names."""
    text = EXAMPLE.read_text()
    text = text.replace("name: quickstart", "name: LAB")
    text = text.replace("br-qs", "brTAG").replace("qs-", "qTAG-")
    return lab.write(text)


def test_deploy_inspect_ping_destroy(lab: Lab) -> None:
    topo = _quickstart(lab)
    deployed = run_cli("deploy", "-t", str(topo))
    assert deployed.returncode == 0, deployed.stderr
    assert f"clab-{lab.name}-h1" in deployed.stdout and "netns" in deployed.stdout  # the table

    view = json.loads(run_cli("inspect", "interfaces", "-t", str(topo), "--format",
                              "json").stdout)
    nodes = {n["node"]: n for n in view}
    assert nodes["h1"]["netns"] == f"clab-{lab.name}-h1"
    assert nodes["h1"]["state"] == "running"
    r1 = {i["name"]: i for i in nodes["r1"]["interfaces"]}
    assert r1["eth2"]["mac"] == "02:00:00:00:01:01"
    assert r1["eth2"]["mtu"] == 1500
    assert r1["eth1"]["mtu"] == 9500  # containerlab's default link MTU
    assert set(r1["eth2"]["addresses"]) == {"10.0.1.254/24", "fd00:1::1/64"}
    assert all(i["state"] == "up" and not i["drift"] for n in view
               for i in n["interfaces"] if i["managed"])
    bridge_ports = {i["name"] for i in nodes[f"br{lab.tag}"]["interfaces"]}
    assert bridge_ports == {f"q{lab.tag}-h1", f"q{lab.tag}-h2", f"q{lab.tag}-r1"}

    # same L2 segment over the bridge, then routed through r1 (routes set by `exec:`)
    for node, target in (("h1", "10.0.0.2"), ("h1", "10.0.1.3"), ("h3", "10.0.0.1"),
                         ("r1", "fd00:1::3")):
        ping = run_cli("exec", "-t", str(topo), "--node", node, "--",
                       "ping", "-c1", "-W2", target)
        assert ping.returncode == 0, f"{node} -> {target}: {ping.stdout}{ping.stderr}"
        assert "1 received" in ping.stdout

    again = run_cli("deploy", "-t", str(topo))
    assert again.returncode == 0
    assert "already deployed" in again.stderr

    gone = run_cli("destroy", "-t", str(topo), "--cleanup")
    assert gone.returncode == 0, gone.stderr
    assert lab.leftovers() == []
    assert not (lab.dir / f"clab-{lab.name}").exists()
    twice = run_cli("destroy", "-t", str(topo))
    assert twice.returncode == 0
    assert "nothing to destroy" in twice.stderr


def test_topology_found_in_current_directory(lab: Lab) -> None:
    _quickstart(lab)
    deployed = run_cli("deploy", "--quiet", cwd=lab.dir)
    assert deployed.returncode == 0, deployed.stderr
    assert f"clab-{lab.name}-h1" in netns_names()
    positional = run_cli("inspect", str(lab.dir / "lab.clab.yml"))
    assert positional.returncode == 0 and "h3" in positional.stdout
    assert run_cli("destroy", cwd=lab.dir).returncode == 0
    assert lab.leftovers() == []
