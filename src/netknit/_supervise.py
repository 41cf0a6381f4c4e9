"""Supervisor of a netns node's ``cmd``: ``python -P -m netknit._supervise DIR FD LOG CMD``.

Started by the netns runtime from inside the node's namespace (it inherits it), in its own
session. FD is the node's directory and LOG its ``cmd.log``, both opened and checked by the
runtime: the supervisor works in that directory and opens its pid file by name there,
never through a symbolic link. DIR is that
directory's path: it names the supervisor in ``/proc/<pid>/cmdline``, which is how ``stop``
tells this node's supervisor from any other process.

It runs the command through ``/bin/sh -c`` in its own process group, appends its output to
``cmd.log``, and restarts it with backoff when it exits non-zero. It is a child subreaper:
whatever the command leaves behind (a child whose parent died, a daemon that forked away)
becomes its child. So before a restart, and on SIGTERM, it ends the command's whole tree
(SIGTERM, SIGKILL after a grace period) and knows it is gone when no child is left to wait
for. Every process of the tree also carries ``NETKNIT_SUPERVISOR=<pid>:<start>`` in its
environment: if the supervisor itself is killed, ``stop`` finds what is left by that mark.
Its pid file (written atomically, first thing) is how ``destroy`` finds it — never by name.

Imports stay minimal: this starts once per node.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time

PIDFILE = "cmd.pid.json"
LOGFILE = "cmd.log"
#: Environment variable marking every process of a supervised tree.
MARK_ENV = "NETKNIT_SUPERVISOR"
#: How long the tree gets between SIGTERM and SIGKILL.
GRACE = 5.0
_PR_SET_CHILD_SUBREAPER = 36


def proc_stat(pid: int) -> list[bytes] | None:
    """Fields of ``/proc/<pid>/stat`` from the state on (field 3): [state, ppid, pgrp,
    session, ...]. The command name (field 2) may hold spaces: split after its ')'."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2 :].split()


def proc_start_time(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot (identifies it across pid reuse)."""
    fields = proc_stat(pid)
    return int(fields[19]) if fields else None


def _write_pidfile(record: dict[str, object]) -> None:
    tmp = f".{PIDFILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o644)
    try:
        os.fchmod(fd, 0o644)
        data = memoryview(json.dumps(record).encode())
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, PIDFILE)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = proc_stat(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for kid in children.get(todo.pop(), []):
            found.append(kid)
            todo.append(kid)
    return found


class Supervisor:
    def __init__(self, command: str) -> None:
        self.command = command
        self.me = os.getpid()
        self.record: dict[str, object] = {"pid": self.me, "start": proc_start_time(self.me),
                                          "child": None, "child_start": None, "exits": []}
        self.env = {**os.environ, MARK_ENV: f"{self.me}:{self.record['start']}"}
        self.stopping = False
        self.child = 0
        self.child_rc: int | None = None

    def on_term(self, _signum: int, _frame: object) -> None:
        self.stopping = True

    def reap(self) -> bool:
        """Wait for every child that has exited (orphans of the tree too); False when no
        child is left at all."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.child:
                self.child_rc = os.waitstatus_to_exitcode(status)

    def end_tree(self) -> None:
        """End every process below us: SIGTERM, SIGKILL after the grace period, until
        nothing is left to wait for (as subreaper we are the parent of every orphan)."""
        deadline = time.monotonic() + GRACE
        termed: set[int] = set()
        while self.reap():
            sig = signal.SIGKILL if time.monotonic() > deadline else signal.SIGTERM
            for pid in _descendants(self.me):
                if sig == signal.SIGKILL or pid not in termed:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, sig)
                    termed.add(pid)
            time.sleep(0.05)

    def spawn(self, log: int) -> None:
        self.child_rc = None
        self.child = os.posix_spawn(
            "/bin/sh", ["/bin/sh", "-c", self.command], self.env,
            file_actions=[(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                          (os.POSIX_SPAWN_DUP2, log, 1), (os.POSIX_SPAWN_DUP2, log, 2)],
            setpgroup=0, setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))
        self.record.update(child=self.child, child_start=proc_start_time(self.child))
        _write_pidfile(self.record)

    def run(self, log: int) -> int:
        _write_pidfile(self.record)
        signal.signal(signal.SIGTERM, self.on_term)
        signal.signal(signal.SIGINT, self.on_term)
        backoff = 1.0
        while not self.stopping:
            started = time.monotonic()
            self.spawn(log)
            while self.child_rc is None and not self.stopping:
                self.reap()
                if self.child_rc is None:
                    time.sleep(0.1)
            rc = self.child_rc
            if self.stopping or rc != 0:
                self.end_tree()  # a restart starts from a clean slate, a stop leaves nothing
                rc = self.child_rc
            exits = self.record["exits"]
            assert isinstance(exits, list)
            exits.append(rc)
            del exits[:-20]
            self.record.update(child=None, child_start=None)
            _write_pidfile(self.record)
            if self.stopping or rc == 0:
                break
            os.write(log, f"[netknit] cmd exited {rc}; restarting in {backoff:.0f}s\n".encode())
            if time.monotonic() - started > 60:
                backoff = 1.0  # it ran for a while: start the backoff over
            deadline_restart = time.monotonic() + backoff
            while not self.stopping and time.monotonic() < deadline_restart:
                time.sleep(0.1)
            backoff = min(backoff * 2, 30.0)
        return 0


def _become_subreaper() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def main(argv: list[str]) -> int:
    _node_dir, dir_fd, log, command = argv[0], int(argv[1]), int(argv[2]), argv[3]
    os.fchdir(dir_fd)  # the checked directory itself, whatever its path points to now
    os.close(dir_fd)
    os.set_inheritable(log, False)  # the cmd gets it as stdout/stderr only
    _become_subreaper()
    return Supervisor(command).run(log)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
