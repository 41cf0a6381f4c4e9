"""Self-healing without a watcher: `reconcile` and `restart` on namespace nodes."""

from __future__ import annotations

import json
import subprocess

from .conftest import Lab, links_with, netns_names, run_cli

LAB = """
name: LAB
topology:
  nodes:
    a: {kind: netns, cmd: "sleep 3600; ':' TAG"}
    b: {kind: netns}
    c: {kind: netns}
    brTAG: {kind: bridge}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.5.0.1/24", "10.5.0.2/24"]
      ipv6: ["fd00:5::1/64", "fd00:5::2/64"]
    - endpoints: ["a:eth2", "c:eth1"]
      mtu: 1500
      ipv4: ["10.5.1.1/24", "10.5.1.3/24"]
    - endpoints: ["b:eth2", "brTAG:pTAG-b"]
"""


def ip(lab: Lab, node: str, *args: str) -> str:
    return subprocess.run(["ip", "-n", f"clab-{lab.name}-{node}", *args], check=True,
                          capture_output=True, text=True).stdout


def in_sync(lab: Lab, topo: str) -> None:
    view = json.loads(run_cli("inspect", "interfaces", "-t", topo, "-f", "json").stdout)
    drift = {(n["node"], i["name"]): i["drift"] for n in view for i in n["interfaces"]
             if i["drift"]}
    assert drift == {}
    for node, target in (("a", "10.5.0.2"), ("c", "10.5.1.1"), ("b", "fd00:5::1")):
        ping = run_cli("exec", "-t", topo, "--node", node, "--", "ping", "-c1", "-W2", target)
        assert ping.returncode == 0, f"{node} -> {target}: {ping.stdout}"


def test_reconcile_repairs_hand_made_drift_and_dry_run_changes_nothing(lab: Lab) -> None:
    topo = str(lab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    mac_before = ip(lab, "b", "-o", "link", "show", "eth1").split("link/ether ")[1].split()[0]
    # drift by hand: a peer end deleted (its twin dies too), an address removed,
    # an MTU changed, a bridge port taken out, an interface set down
    ip(lab, "c", "link", "del", "eth1")
    ip(lab, "a", "addr", "del", "10.5.0.1/24", "dev", "eth1")
    ip(lab, "b", "link", "set", "eth1", "mtu", "1400")
    subprocess.run(["ip", "link", "set", f"p{lab.tag}-b", "nomaster"], check=True)
    ip(lab, "b", "link", "set", "eth2", "down")

    dry = run_cli("reconcile", "-t", topo, "--dry-run", "-f", "json")
    assert dry.returncode == 0, dry.stderr
    found = {(d["node"], d["found"]) for d in json.loads(dry.stdout)["drifts"]}
    assert ("c", "eth1 missing") in found or ("a", "eth2 missing") in found
    assert ("a", "eth1 lacks 10.5.0.1/24") in found
    assert ("b", "eth1 mtu 1400") in found
    assert ("b", "eth2 down") in found
    assert ("brTAG".replace("TAG", lab.tag), f"p{lab.tag}-b not in bridge br{lab.tag}") in found
    assert "mtu 1400" in ip(lab, "b", "-o", "link", "show", "eth1")  # dry run: unchanged

    fixed = run_cli("reconcile", "-t", topo, "-f", "json")
    assert fixed.returncode == 0, fixed.stderr + fixed.stdout
    assert all(d["status"] == "repaired" for d in json.loads(fixed.stdout)["drifts"])
    in_sync(lab, topo)
    # the recreated link has its deterministic MAC and the MTU of the file
    assert "mtu 1500" in ip(lab, "c", "-o", "link", "show", "eth1")
    assert mac_before in ip(lab, "b", "-o", "link", "show", "eth1")
    again = run_cli("reconcile", "-t", topo)
    assert again.returncode == 0 and "in sync" in again.stdout
    assert run_cli("destroy", "-t", topo).returncode == 0


def test_lost_namespace_comes_back_with_links_and_cmd(lab: Lab) -> None:
    topo = str(lab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    subprocess.run(["ip", "netns", "del", f"clab-{lab.name}-a"], check=True)
    fixed = run_cli("reconcile", "-t", topo)
    assert fixed.returncode == 0, fixed.stderr + fixed.stdout
    assert "namespace missing" in fixed.stdout
    in_sync(lab, topo)
    view = json.loads(run_cli("inspect", "interfaces", "-t", topo, "-f", "json").stdout)
    assert next(n for n in view if n["node"] == "a")["cmd"] == "running"
    assert run_cli("destroy", "-t", topo).returncode == 0


def test_restart_netns_node_fifty_times_without_leaks(lab: Lab) -> None:
    topo = str(lab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    ours = lambda: links_with(lab.tag)  # noqa: E731
    links_before = ours()
    for _ in range(50):
        restarted = run_cli("restart", "-t", topo, "--node", "a")
        assert restarted.returncode == 0, restarted.stderr + restarted.stdout
    in_sync(lab, topo)
    assert ours() == links_before  # other tests may run beside this one
    assert len([n for n in netns_names() if n.startswith(lab.prefix)]) == 3
    from .conftest import processes_with

    assert len(processes_with(lab.tag)) == 2  # one supervisor, one shell: no leaked cmd
    assert run_cli("destroy", "-t", topo).returncode == 0


def _wait_in_sync(topo: str, timeout: float = 15.0) -> float:
    import time

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        view = json.loads(run_cli("inspect", "interfaces", "-t", topo, "-f", "json").stdout)
        if all(not i["drift"] for n in view for i in n["interfaces"]) and all(
                n["state"] != "missing" for n in view):
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not repaired within {timeout}s: {view}")


def test_watch_repairs_as_it_happens_and_stops_cleanly(lab: Lab) -> None:
    import signal
    import sys

    topo = str(lab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    watcher = subprocess.Popen([sys.executable, "-m", "netknit", "watch", "-t", topo],
                               stderr=subprocess.PIPE, text=True)
    try:
        ip(lab, "c", "link", "del", "eth1")  # a peer end removed by hand
        _wait_in_sync(topo)
        ip(lab, "a", "addr", "del", "10.5.0.1/24", "dev", "eth1")
        ip(lab, "b", "link", "set", "eth1", "mtu", "1400")
        _wait_in_sync(topo)
        subprocess.run(["ip", "netns", "del", f"clab-{lab.name}-b"], check=True)
        _wait_in_sync(topo)
        in_sync(lab, topo)
    finally:
        watcher.send_signal(signal.SIGTERM)  # our own child, by pid
        _out, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, err
    assert " missing -> recreate link" in err and "namespace missing" in err
    assert run_cli("destroy", "-t", topo).returncode == 0


def test_restart_replays_only_hooks_marked_on_restart(lab: Lab) -> None:
    hooks = """
      stages:
        configure:
          exec:
            - {command: "sh -c 'echo always >> hooks.txt'", target: host, on-restart: true}
            - {command: "sh -c 'echo once >> hooks.txt'", target: host}
            - {command: "ip link set eth1 alias replayed", on-restart: true}
"""
    topo = str(lab.write(LAB.replace('    a: {kind: netns, cmd: "sleep 3600; \':\' TAG"}\n',
                                     '    a:\n      kind: netns\n' + hooks)))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    for _ in range(2):
        restarted = run_cli("restart", "-t", topo, "--node", "a")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert (lab.dir / "hooks.txt").read_text().split() == ["always", "once", "always", "always"]
    assert "alias replayed" in ip(lab, "a", "link", "show", "eth1")
    assert run_cli("destroy", "-t", topo).returncode == 0
