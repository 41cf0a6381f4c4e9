"""The gate waits for its node's interfaces without polling: a waiting gate starts no
process (a poll loop forks every few ms, and a hundred of them at once starve the engine
that is still starting the rest of the lab), and netknit wakes it once the node is wired."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from tests.integration.conftest import run_cli

from .conftest import IMAGE, DockerLab

# g's create-links hook (on the host) holds the deploy between wiring g and opening its
# gate until the test has looked at the waiting gate (the file FLAG appears)
LAB = """
name: LAB
topology:
  nodes:
    g:
      kind: linux
      image: IMAGE
      cmd: sleep 3600
      start-strategy: gate
      network-mode: none
      stages:
        create-links:
          exec:
            - command: >-
                sh -c 'i=0; while [ ! -e FLAG ] && [ $i -lt 1200 ]; do sleep 0.1;
                i=$((i+1)); done'
              target: host
              phase: on-exit
    n: {kind: netns}
  links:
    - endpoints: ["g:eth1", "n:eth1"]
      ipv4: ["10.79.1.1/24", "10.79.1.2/24"]
"""


def _processes(api: Any, container: str) -> set[tuple[str, str]]:
    """(host pid, command line) of every process in the container now (none: missing)."""
    try:
        top = api.top(container, ps_args="-o pid,args")
    except Exception:  # not there or not running yet
        return set()
    return {(row[0], row[1]) for row in top.get("Processes") or []}


def _wait_for(check: Callable[[], bool], timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_a_waiting_gate_starts_no_process_and_opens_once_wired(dlab: DockerLab) -> None:
    flag = dlab.dir / "looked"
    topo = dlab.write(LAB.replace("IMAGE", IMAGE).replace("FLAG", str(flag)))
    name = f"clab-{dlab.name}-g"
    deploy = subprocess.Popen([sys.executable, "-m", "netknit", "deploy", "-t", str(topo),
                               "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "COLUMNS": "200"})
    try:
        # the gate is up, and the deploy is held in the hook: the gate waits (once its
        # time limit's timer runs, it is settled; a polling gate never is)
        _wait_for(lambda: "sleep 600" in {cmd for _pid, cmd in _processes(dlab.api, name)}
                  or deploy.poll() is not None, timeout=30)
        assert any("gate.sh" in cmd for _pid, cmd in _processes(dlab.api, name))
        seen = [_processes(dlab.api, name) for _ in range(10) if not time.sleep(0.1)]
        assert all(s == seen[0] for s in seen), f"the waiting gate starts processes: {seen}"
        assert not any(cmd == "sleep 3600" for _pid, cmd in seen[0])  # the workload is held
    finally:
        flag.touch()
        _out, err = deploy.communicate(timeout=300)
    assert deploy.returncode == 0, err
    # woken: the workload runs, with nothing of the gate's left beside it, linked
    assert _wait_for(lambda: {cmd for _pid, cmd in _processes(dlab.api, name)} ==
                     {"sleep 3600"}), _processes(dlab.api, name)
    ping = run_cli("exec", "-t", str(topo), "--node", "g", "--", "ping", "-c1", "-W5",
                   "10.79.1.2")
    assert ping.returncode == 0, ping.stdout + ping.stderr
