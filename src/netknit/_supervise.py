"""Supervisor of a netns node's ``cmd``: ``python -m netknit._supervise``.

Started by the netns runtime from inside the node's namespace (it inherits it), in its own
session. It runs the command through ``/bin/sh -c`` in its own process group, appends its
output to the node's log, restarts it with backoff when it exits non-zero, and on SIGTERM
stops the whole process group. Its pid file (written atomically, first thing) is how
``destroy`` finds it — never by process name.

Imports stay minimal: this starts once per node.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time


def proc_start_time(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot (identifies it across pid reuse)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # field 22; the command name (field 2) may contain spaces, so split after its ')'
    return int(stat[stat.rindex(b")") + 2 :].split()[19])


def _write_pidfile(path: str, record: dict[str, object]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    pidfile, logfile, command = argv[0], argv[1], argv[2]
    me = os.getpid()
    record: dict[str, object] = {"pid": me, "start": proc_start_time(me), "child": None,
                                 "child_start": None, "exits": []}
    _write_pidfile(pidfile, record)
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    backoff = 1.0
    with open(logfile, "ab", buffering=0) as log:
        while not stopping:
            started = time.monotonic()
            child = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, process_group=0)
            record.update(child=child.pid, child_start=proc_start_time(child.pid))
            _write_pidfile(pidfile, record)
            deadline: float | None = None
            while True:
                try:
                    rc = child.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    if stopping:
                        deadline = deadline or time.monotonic() + 5
                        if time.monotonic() > deadline:
                            os.killpg(child.pid, signal.SIGKILL)
            exits = record["exits"]
            assert isinstance(exits, list)
            exits.append(rc)
            del exits[:-20]
            record.update(child=None, child_start=None)
            _write_pidfile(pidfile, record)
            if stopping or rc == 0:
                break
            log.write(f"[netknit] cmd exited {rc}; restarting in {backoff:.0f}s\n".encode())
            if time.monotonic() - started > 60:
                backoff = 1.0  # it ran for a while: start the backoff over
            deadline_restart = time.monotonic() + backoff
            while not stopping and time.monotonic() < deadline_restart:
                time.sleep(0.1)
            backoff = min(backoff * 2, 30.0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
