"""Crash safety: kill -9 a deploy anywhere, then `destroy` removes exactly what it made."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from .conftest import Lab, crash_sweep, run_cli

# three namespace nodes with a supervised process, a bridge, host-side ports, addresses
TOPO = """
name: LAB
topology:
  nodes:
    a: {kind: netns, cmd: "sleep 3600; : TAG"}
    b: {kind: netns, exec: ["ip -br link"]}
    c: {kind: netns, cmd: "sleep 3601; : TAG"}
    d: {kind: netns}
    brTAG: {kind: bridge}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.1.0.1/30", "10.1.0.2/30"]
    - endpoints: ["b:eth2", "c:eth1"]
      ipv6: ["fd00:1::1/64", "fd00:1::2/64"]
    - endpoints: ["a:eth2", "brTAG:pTAG-a"]
    - endpoints: ["c:eth2", "brTAG:pTAG-c"]
    - endpoints: ["b:eth3", "host:hTAG-b"]
    - endpoints: ["d:eth1", "brTAG:pTAG-d"]
      ipv4: ["10.1.1.4/24", ""]
"""


def _cycle(lab: Lab, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    topo = lab.dir / "lab.clab.yml"
    deployed = run_cli("deploy", "-t", str(topo), "--quiet", env=env)
    assert lab.leftovers() != [] or deployed.returncode != 0  # it made something
    gone = run_cli("destroy", "-t", str(topo))
    assert gone.returncode == 0, gone.stderr
    assert lab.leftovers() == [], f"after crash ({env}): {lab.leftovers()}"
    return deployed


def test_crash_at_every_point_then_destroy(lab: Lab) -> None:
    lab.write(TOPO)
    killed = crash_sweep(lambda env: _cycle(lab, env), limit=200)
    assert killed >= 20, f"only {killed} crash points; the test wants at least 20"
    # and a fresh deploy works after all that
    topo = str(lab.dir / "lab.clab.yml")
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    assert run_cli("destroy", "-t", topo).returncode == 0
    assert lab.leftovers() == []


@pytest.mark.parametrize("seed", range(6))
def test_random_sigkill_then_destroy(lab: Lab, seed: int) -> None:
    lab.write(TOPO)
    topo = str(lab.dir / "lab.clab.yml")
    proc = subprocess.Popen([sys.executable, "-m", "netknit", "deploy", "-t", topo, "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.Random(seed).uniform(0.15, 0.6))  # ~start-up is ~0.2 s
    os.kill(proc.pid, signal.SIGKILL)  # our own child, by pid
    proc.wait()
    assert run_cli("destroy", "-t", topo).returncode == 0
    assert lab.leftovers() == []
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    assert run_cli("destroy", "-t", topo).returncode == 0
