"""Self-healing for Docker nodes: restarts and a replaced sandbox, by reconcile and watch."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from tests.integration.conftest import run_cli

from .conftest import IMAGE, DockerLab

LAB = f"""
name: LAB
topology:
  defaults:
    kind: linux
    image: {IMAGE}
    cmd: sleep 3600
  nodes:
    s: {{}}
    g: {{start-strategy: gate}}
    r:
      start-strategy: gate
      restart-policy: always
      cmd: sh -c "sleep 2; exit 3"   # PID 1 exits; Docker's restart policy brings it back
    n: {{kind: netns}}
  links:
    - endpoints: ["s:eth1", "n:eth1"]
      ipv4: ["10.7.0.1/24", "10.7.0.2/24"]
    - endpoints: ["s:eth2", "n:eth2"]
      ipv4: ["10.7.1.1/24", "10.7.1.2/24"]
    - endpoints: ["g:eth1", "n:eth3"]
      ipv4: ["10.7.2.1/24", "10.7.2.2/24"]
      mtu: 1500
    - endpoints: ["g:eth2", "s:eth3"]
      ipv4: ["10.7.3.1/24", "10.7.3.2/24"]
    - endpoints: ["g:eth3", "n:eth4"]
      ipv4: ["10.7.4.1/24", "10.7.4.2/24"]
    - endpoints: ["g:eth4", "n:eth5"]
      ipv6: ["fd00:7::1/64", "fd00:7::2/64"]
    - endpoints: ["r:eth1", "n:eth6"]
      ipv4: ["10.7.6.1/24", "10.7.6.2/24"]
"""

PINGS = (("n", "10.7.0.1"), ("n", "10.7.1.1"), ("n", "10.7.2.1"), ("s", "10.7.3.1"),
         ("n", "10.7.4.1"), ("n", "fd00:7::1"))


def drift(topo: str, ignore: tuple[str, ...] = ()) -> list[str]:
    """What inspect finds wrong with nodes and interfaces but the ``ignore``d ones
    ("node" or "node:interface")."""
    view = json.loads(run_cli("inspect", "interfaces", "-t", topo, "-f", "json").stdout)
    found = [f"{n['node']}: {d}" for n in view if n["node"] not in ignore
             for d in n.get("drift", [])]
    return found + [f"{n['node']}:{i['name']}: {d}" for n in view
                    for i in n["interfaces"] if f"{n['node']}:{i['name']}" not in ignore
                    for d in i["drift"]]


def healthy(topo: str, ignore: tuple[str, ...] = ()) -> bool:
    return not drift(topo, ignore)


REBOOTING = ("r", "r:eth1", "n:eth6")  # r and its link drop every time r reboots


def pings(topo: str) -> None:
    for node, target in PINGS:
        ping = run_cli("exec", "-t", topo, "--node", node, "--", "ping", "-c1", "-W2", target)
        assert ping.returncode == 0, f"{node} -> {target}: {ping.stdout}"


def test_reconcile_brings_links_back_after_restarts(dlab: DockerLab) -> None:
    # no self-rebooting node here: without a watcher it would drift again at once
    topo = str(dlab.write(STEADY))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0, "deploy"
    dlab.api.restart(f"clab-{dlab.name}-g", timeout=1)  # gate: the container is the holder
    dlab.api.kill(f"clab-{dlab.name}-s-sandbox")  # sandbox gone, workload left running
    assert not healthy(topo)
    dry = run_cli("reconcile", "-t", topo, "--dry-run", "-f", "json")
    assert dry.returncode == 0, dry.stderr
    found = " ".join(d["found"] for d in json.loads(dry.stdout)["drifts"])
    assert "missing" in found and "sandbox" in found
    fixed = run_cli("reconcile", "-t", topo, "-f", "json")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert healthy(topo)
    pings(topo)
    # the workload rejoined its new sandbox: its namespace is the sandbox's
    ws = dlab.container("s")["State"]["Pid"]
    ss = dlab.container("s-sandbox")["State"]["Pid"]
    import os

    assert os.stat(f"/proc/{ws}/ns/net").st_ino == os.stat(f"/proc/{ss}/ns/net").st_ino
    again = run_cli("reconcile", "-t", topo)
    assert again.returncode == 0 and "in sync" in again.stdout
    assert run_cli("destroy", "-t", topo).returncode == 0


STEADY = LAB.replace("      restart-policy: always\n", "").replace(
    'cmd: sh -c "sleep 2; exit 3"', "cmd: sleep 3600")


def test_a_stopped_container_is_drift_until_reconcile_starts_it(dlab: DockerLab) -> None:
    """A killed workload, a killed sandbox, a stopped gate container: inspect and a dry
    run show drift (not "in sync"), and reconcile brings each back with its links."""
    topo = str(dlab.write(STEADY))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0, "deploy"
    faults = ((dlab.api.kill, "s", "exited (137)"), (dlab.api.kill, "s-sandbox", "exited (137)"),
              (lambda name: dlab.api.stop(name, timeout=1), "g", "exited"))
    for fault, victim, status in faults:
        fault(f"clab-{dlab.name}-{victim}")
        found = drift(topo)
        assert any(status in d for d in found), found
        dry = run_cli("reconcile", "-t", topo, "--dry-run", "-f", "json")
        planned = " ".join(d["found"] for d in json.loads(dry.stdout)["drifts"])
        assert f"{victim} {status}" in planned, dry.stdout
        fixed = run_cli("reconcile", "-t", topo)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert drift(topo) == []
        pings(topo)  # at once: reconcile returns when the dataplane works
        assert "in sync" in run_cli("reconcile", "-t", topo, "--dry-run").stdout
    assert run_cli("destroy", "-t", topo).returncode == 0


def test_a_workload_in_a_dead_sandboxs_namespace_is_drift(dlab: DockerLab) -> None:
    """The sandbox dies, its workload lives on in the old namespace with the old links:
    that is not "no drift" (the next repair replaces those links), whatever the
    workload's interfaces look like."""
    topo = str(dlab.write(STEADY))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0, "deploy"
    dlab.api.kill(f"clab-{dlab.name}-s-sandbox")
    assert any("sandbox" in d and "exited" in d for d in drift(topo)), drift(topo)
    assert run_cli("reconcile", "-t", topo).returncode == 0
    assert drift(topo) == []
    pings(topo)
    assert run_cli("destroy", "-t", topo).returncode == 0


def test_watch_heals_docker_restarts_reboots_and_a_lost_sandbox(dlab: DockerLab) -> None:
    """g (4 links) restarted 3 times; r reboots by itself every ~2 s; s loses its sandbox."""
    topo = str(dlab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    watcher = subprocess.Popen([sys.executable, "-m", "netknit", "watch", "-t", topo],
                               stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        for _ in range(3):
            dlab.api.restart(f"clab-{dlab.name}-g", timeout=1)
            deadline = time.monotonic() + 20
            while not healthy(topo, REBOOTING):
                assert time.monotonic() < deadline, \
                    run_cli("inspect", "interfaces", "-t", topo).stdout
                time.sleep(0.2)
        dlab.api.kill(f"clab-{dlab.name}-s-sandbox")  # Docker does not bring it back
        deadline = time.monotonic() + 20
        while not healthy(topo, REBOOTING):
            assert time.monotonic() < deadline, "sandbox not healed in 20 s"
            time.sleep(0.2)
        pings(topo)
        # r has rebooted (its PID 1 exits every 2 s) and got its link back each time
        assert dlab.container("r")["RestartCount"] >= 1
        deadline = time.monotonic() + 20
        while run_cli("exec", "-t", topo, "--node", "n", "--", "ping", "-c1", "-W1",
                      "10.7.6.1").returncode != 0:
            assert time.monotonic() < deadline, "rebooted node not healed"
    finally:
        watcher.send_signal(signal.SIGTERM)  # our own child, by pid
        _out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    assert run_cli("destroy", "-t", topo).returncode == 0
