"""Docker faults under `netknit watch`, on the real kernel and a private Docker engine.

Each fault is made 5 times (NETKNIT_FAULT_TRIES): kill and restart of a workload, kill of
a sandbox, `docker stop`, and a restart of the engine itself. After each one the test
waits for "healthy" (inspect shows no drift and `reconcile --dry-run` finds nothing), then
checks traffic at once: one failed ping fails the test. Heal times (fault -> healthy) are
printed as a table at the end (run with -s).

The engine is this module's own dockerd (its own socket, data and exec roots, pid file),
so that restarting it never touches the session's shared engine; the lab reaches it
through DOCKER_HOST, as a user's would.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import run_cli

from .conftest import _APPLETS, IMAGE, DockerLab

TRIES = int(os.environ.get("NETKNIT_FAULT_TRIES", "5"))
#: generous: a 2-core machine shared with other test runs
HEAL_TIMEOUT = 120.0

LAB = f"""
name: LAB
topology:
  defaults: {{kind: linux, image: {IMAGE}, cmd: sleep 3600}}
  nodes:
    s:
      stages:
        configure:
          exec: [{{command: "touch hook-s", target: host, on-restart: true}}]
    g:
      start-strategy: gate
      stages:
        configure:
          exec: [{{command: "touch hook-g", target: host, on-restart: true}}]
    n: {{kind: netns}}
  links:
    - endpoints: ["s:eth1", "n:eth1"]
      ipv4: ["10.8.0.1/24", "10.8.0.2/24"]
    - endpoints: ["g:eth1", "n:eth2"]
      ipv4: ["10.8.1.1/24", "10.8.1.2/24"]
    - endpoints: ["s:eth2", "g:eth2"]
      ipv4: ["10.8.2.1/24", "10.8.2.2/24"]
    - endpoints: ["g:eth3", "n:eth3"]
      ipv6: ["fd00:8::1/64", "fd00:8::2/64"]
"""

PINGS = (("n", "10.8.0.1"), ("n", "10.8.1.1"), ("s", "10.8.2.2"), ("g", "10.8.2.1"),
         ("n", "fd00:8::1"))


class Engine:
    """A dockerd of our own, started and stopped by the pid we got."""

    def __init__(self) -> None:
        self.root = Path(f"/tmp/nkd-{secrets.token_hex(4)}")
        self.sock = self.root / "docker.sock"
        self.host = f"unix://{self.sock}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.api: Any = None

    def start(self) -> None:
        self.root.mkdir(mode=0o700, exist_ok=True)
        log = (self.root / "dockerd.log").open("ab")
        self.proc = subprocess.Popen(
            ["dockerd", "-H", self.host, "--data-root", str(self.root / "data"),
             "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "docker.pid"),
             "--iptables=false", "--ip6tables=false", "--bridge=none",
             "--shutdown-timeout", "2"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        import docker

        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, f"dockerd exited; see {self.root}/dockerd.log"
            try:
                self.api = docker.APIClient(base_url=self.host, version="auto", timeout=60)
                self.api.ping()
                return
            except Exception:
                assert time.monotonic() < deadline, f"dockerd not answering on {self.sock}"
                time.sleep(0.2)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # our own child, by pid
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Faulty:
    lab: DockerLab
    topo: str
    engine: Engine
    watcher: subprocess.Popen[str]
    times: dict[str, list[float]] = field(default_factory=dict)
    engine_back: float = 0.0  # when the restarted engine answered again

    def cname(self, node: str) -> str:
        return f"clab-{self.lab.name}-{node}"


def _drift(topo: str) -> list[str] | None:
    """What inspect and a dry-run reconcile find wrong (None: they could not look)."""
    shown = run_cli("inspect", "interfaces", "-t", topo, "-f", "json")
    if shown.returncode != 0:
        return None
    view = json.loads(shown.stdout)
    found = [f"{n['node']}: {d}" for n in view for d in n.get("drift", [])]
    found += [f"{n['node']}:{i['name']}: {d}" for n in view
              for i in n["interfaces"] for d in i["drift"]]
    if found:
        return found
    # the repair may still be running hooks: a dry run waits its turn (the lab's lock)
    dry = run_cli("reconcile", "-t", topo, "--dry-run", "-f", "json")
    if dry.returncode != 0:
        return None  # busy: a repair is running
    return [f"{d['node']}: {d['found']}" for d in json.loads(dry.stdout)["drifts"]]


def wait_healthy(topo: str, since: float) -> float:
    """Seconds from ``since`` until the lab is healthy."""
    last: list[str] | None = None
    while time.monotonic() - since < HEAL_TIMEOUT:
        last = _drift(topo)
        if last == []:
            return time.monotonic() - since
        time.sleep(0.1)
    raise AssertionError(f"not healthy after {HEAL_TIMEOUT:.0f}s: {last}")


def traffic(f: Faulty, restarted: tuple[str, ...] = (), since: float = 0.0) -> None:
    """Every link carries traffic now, and the on-restart hooks of the ``restarted``
    nodes ran again after ``since`` (a wall-clock time)."""
    for node, target in PINGS:
        ping = run_cli("exec", "-t", f.topo, "--node", node, "--", "ping", "-c1", "-W2", target)
        assert ping.returncode == 0, f"{node} -> {target}: {ping.stdout}{ping.stderr}"
    for node in restarted:
        assert (f.lab.dir / f"hook-{node}").stat().st_mtime >= since, f"{node}: hook not replayed"
    # the workloads run, and s's in its sandbox's namespace (exec would fall back to the
    # sandbox: the pings alone do not show it)
    pids = {c: f.engine.api.inspect_container(f.cname(c))["State"]["Pid"]
            for c in ("s", "g", "s-sandbox")}
    assert all(pids.values()), pids
    assert _netns(pids["s"]) == _netns(pids["s-sandbox"])


def _netns(pid: int) -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    from netknit.runtimes.docker import build_busybox_image

    eng = Engine()
    try:
        eng.start()
        build_busybox_image(eng.api, IMAGE, ["/bin/sh"], _APPLETS)
        yield eng
    finally:
        eng.remove()


@pytest.fixture(scope="module")
def faulty(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    tag = secrets.token_hex(2)
    lab = DockerLab(name=f"f{tag}{secrets.token_hex(2)}", tag=tag,
                    dir=tmp_path_factory.mktemp("faults"))
    lab.api = engine.api
    saved = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = engine.host  # the CLI runs below inherit it
    topo = str(lab.write(LAB))
    watcher: subprocess.Popen[str] | None = None
    try:
        deployed = run_cli("deploy", "-t", topo, "--quiet")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        with (lab.dir / "watch.log").open("w") as log:  # a pipe would fill up and block it
            watcher = subprocess.Popen([sys.executable, "-m", "netknit", "watch", "-t", topo],
                                       stderr=log, text=True)
        f = Faulty(lab, topo, engine, watcher)
        wait_healthy(topo, time.monotonic())
        traffic(f)
        yield f
        _print_times(f.times)
    finally:
        if watcher is not None:
            watcher.send_signal(signal.SIGTERM)  # our own child, by pid
            watcher.wait(timeout=60)
            assert watcher.returncode == 0, (lab.dir / "watch.log").read_text()[-3000:]
        assert run_cli("destroy", "-t", topo).returncode == 0
        lab.api = engine.api
        assert lab.leftovers() == []
        if saved is None:
            del os.environ["DOCKER_HOST"]
        else:
            os.environ["DOCKER_HOST"] = saved


def _print_times(times: dict[str, list[float]]) -> None:
    print(f"\nfault -> healthy, over {TRIES} tries (seconds)")
    print(f"{'fault':<22} {'p50':>6} {'max':>6}")
    for kind, seconds in times.items():
        print(f"{kind:<22} {statistics.median(seconds):6.2f} {max(seconds):6.2f}")


def _kill_workload(f: Faulty) -> None:
    f.engine.api.kill(f.cname("s"))


def _restart_workload(f: Faulty) -> None:
    f.engine.api.restart(f.cname("g"), timeout=1)  # the gate container holds g's namespace


def _kill_sandbox(f: Faulty) -> None:
    f.engine.api.kill(f.cname("s-sandbox"))


def _stop(f: Faulty) -> None:
    f.engine.api.stop(f.cname("g"), timeout=1)


def _restart_engine(f: Faulty) -> None:
    f.engine.restart()
    f.lab.api = f.engine.api
    f.engine_back = time.monotonic()


#: fault -> (how, the nodes that come back from it)
FAULTS: dict[str, tuple[Callable[[Faulty], None], tuple[str, ...]]] = {
    "docker kill workload": (_kill_workload, ("s",)),
    "docker restart": (_restart_workload, ("g",)),
    "docker kill sandbox": (_kill_sandbox, ("s",)),
    "docker stop": (_stop, ("g",)),
    "engine restart": (_restart_engine, ("s", "g")),
}


@pytest.mark.parametrize("kind", list(FAULTS))
def test_fault_heals_and_traffic_flows_at_once(faulty: Faulty, kind: str) -> None:
    make, restarted = FAULTS[kind]
    for _ in range(TRIES):
        wall, started = time.time(), time.monotonic()
        make(faulty)
        faulty.times.setdefault(kind, []).append(wait_healthy(faulty.topo, started))
        if kind == "engine restart":  # of which the engine's own stop and start took
            faulty.times.setdefault("  engine back -> healthy", []).append(
                started + faulty.times[kind][-1] - faulty.engine_back)
        # at once: no retries (mtimes come from the kernel's coarse clock: a tick behind)
        traffic(faulty, restarted, wall - 0.05)
    assert faulty.watcher.poll() is None, "the watcher died"
