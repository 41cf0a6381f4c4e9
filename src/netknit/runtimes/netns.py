"""The built-in runtime: a node is a named network namespace, its ``cmd`` a supervised
process inside it. No image, no daemon — the embedded default.

Commands run in a node are forked from a thread that has entered the node's namespace
(a child inherits the forking thread's namespaces), so no ``ip netns exec``/``nsenter``
process sits in between and nothing else of netknit changes namespace.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._errors import KernelError, RuntimeFailure
from .._supervise import proc_start_time
from ..kernel import Namespace, entered, netns
from ..plan import NodePlan
from ._base import ExecResult, Workload

#: How long a started supervisor gets to write its pid file.
_PIDFILE_WAIT = 5.0
#: How long a stopped workload gets before SIGKILL.
_STOP_GRACE = 5.0


class NetnsRuntime:
    name = "netns"

    def __init__(self) -> None:
        self._pidfiles: dict[str, Path] = {}  # node -> pid file of the cmd started here

    def create(self, node: NodePlan, mark: str | None = None) -> Namespace:
        assert node.netns is not None
        return netns.create(node.netns, mark)

    def open(self, node: NodePlan) -> Namespace | None:
        assert node.netns is not None
        try:
            return netns.open_existing(node.netns)
        except KernelError:
            return None

    def start(self, node: NodePlan, ns: Namespace, node_dir: Path) -> Workload | None:
        if not node.cmd:
            return None
        node_dir.mkdir(parents=True, exist_ok=True)
        pidfile = node_dir / "cmd.pid.json"
        pidfile.unlink(missing_ok=True)
        self._pidfiles[node.name] = pidfile
        env = {**os.environ, **node.env}
        argv = [sys.executable, "-m", "netknit._supervise", str(pidfile),
                str(node_dir / "cmd.log"), node.cmd]
        with entered(ns.fd):
            proc = subprocess.Popen(argv, env=env, cwd=node_dir, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
        deadline = time.monotonic() + _PIDFILE_WAIT
        while not pidfile.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeFailure(f"node {node.name}: the supervisor of `cmd` did not start",
                                     hint=f"see {node_dir / 'cmd.log'}")
            time.sleep(0.005)
        # the supervisor is in its own session; let the kernel reap it when it exits
        return Workload(str(pidfile), proc.pid, proc_start_time(proc.pid))

    def exec(self, node: NodePlan, ns: Namespace, argv: Sequence[str],
             env: Mapping[str, str] | None = None, timeout: float | None = None) -> ExecResult:
        full_env = {**os.environ, **node.env, **(env or {})}
        command = shlex.join(argv)
        with entered(ns.fd):
            try:
                done = subprocess.run(list(argv), env=full_env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      timeout=timeout, check=False)
            except FileNotFoundError:
                return ExecResult(node.name, command, 127, f"{argv[0]}: command not found\n")
            except subprocess.TimeoutExpired as exc:
                out = exc.output or b""
                return ExecResult(node.name, command, 124,
                                  out.decode(errors="replace") + f"\n(timed out after {timeout}s)")
        return ExecResult(node.name, command, done.returncode,
                          done.stdout.decode(errors="replace"))

    def stop(self, workload: Workload) -> None:
        record = _read_pidfile(workload.pidfile)
        sup_pid, sup_start = workload.pid, workload.start
        if record:
            sup_pid, sup_start = int(record["pid"]), record.get("start")
        if _alive(sup_pid, sup_start):
            os.kill(sup_pid, signal.SIGTERM)
            deadline = time.monotonic() + _STOP_GRACE + 2
            while _alive(sup_pid, sup_start) and time.monotonic() < deadline:
                time.sleep(0.01)
            if _alive(sup_pid, sup_start):
                os.kill(sup_pid, signal.SIGKILL)
        record = _read_pidfile(workload.pidfile) or record
        if record and record.get("child"):
            child, child_start = int(record["child"]), record.get("child_start")
            if _alive(child, child_start):
                os.killpg(child, signal.SIGKILL)  # the supervisor was killed before it could

    def wait_for(self, node: NodePlan, condition: str, timeout: float) -> None:
        """A netns node is healthy while its ``cmd`` runs (at once without one) and has
        exited when its ``cmd`` ended for good."""
        pidfile = self._pidfiles.get(node.name)
        if not node.cmd or pidfile is None:
            return
        deadline = time.monotonic() + timeout
        while True:
            status = workload_status(pidfile)
            if condition == "healthy" and status == "running":
                return
            if condition == "exited" and status.startswith(("exited", "stopped")):
                return
            if time.monotonic() > deadline:
                raise RuntimeFailure(
                    f"node {node.name} did not become {condition} within {timeout:.0f}s "
                    f"(its cmd is {status})", hint=f"see {pidfile.parent / 'cmd.log'}")
            time.sleep(0.05)

    def remove(self, name: str, inode: int | None) -> bool:
        return netns.delete(name, inode=inode)


def _read_pidfile(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: int, start: object) -> bool:
    """True if ``pid`` is still the process that was started (not a reused pid)."""
    current = proc_start_time(pid)
    if current is None:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                return False  # a zombie has exited; nothing to stop
    except OSError:
        return False
    return start is None or current == start


def workload_status(pidfile: Path) -> str:
    """``running``, ``exited (N)``, ``restarting`` or ``-`` for a node's cmd."""
    record = _read_pidfile(str(pidfile))
    if not record:
        return "-"
    if record.get("child") and _alive(int(str(record["child"])), record.get("child_start")):
        return "running"
    exits = record.get("exits") or []
    sup_alive = _alive(int(str(record["pid"])), record.get("start"))
    if sup_alive:
        return "restarting" if exits else "starting"
    if isinstance(exits, list) and exits:
        return f"exited ({exits[-1]})"
    return "stopped"
