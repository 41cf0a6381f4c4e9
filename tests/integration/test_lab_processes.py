"""Concurrent deploys of one lab, and the processes of a node's ``cmd``: exactly one
deploy wins; ``destroy`` leaves no process of a node's tree behind, and never signals a
process that is not that node's supervisor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import Lab, netns_names, pair, run_cli

PAIR = pair(("10.4.0.1/24", "10.4.0.2/24"))

# each process imports netknit and loads the file first, says so, then starts its deploy
# at the instant the test sends it (once both are ready)
RACER = """
import sys, time
from netknit import NetknitError, deploy, load
topo = load(sys.argv[1])
print("ready", flush=True)
start = float(sys.stdin.readline())
time.sleep(max(0.0, start - time.time() - 0.02))
while time.time() < start:  # the last moment spinning: both start together
    pass
try:
    result = deploy(topo)
except NetknitError as exc:
    print("busy" if "is busy" in exc.message else f"error: {exc}")
else:
    print("already" if result.already_deployed else "won")
"""


def _wait(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_two_deploys_at_the_same_moment_one_wins(lab: Lab) -> None:
    topo = lab.write(PAIR)
    rounds = 40  # the old race hit 1-2 rounds in 25
    for n in range(rounds):
        racers = [subprocess.Popen([sys.executable, "-c", RACER, str(topo)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
                  for _ in range(2)]
        for racer in racers:  # both loaded: no start-up left between them and the start
            assert racer.stdout is not None and racer.stdin is not None
            ready = racer.stdout.readline().strip()
            assert ready == "ready", (n, ready, racer.communicate(timeout=60)[1])
        start = time.time() + 0.1  # both are blocked reading: they wake within that
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.write(f"{start}\n")
            racer.stdin.flush()
        outcomes = sorted(r.communicate(timeout=120)[0].strip() for r in racers)
        # one wins; the other found it busy, or (if it came late) already deployed
        assert outcomes in (["busy", "won"], ["already", "won"]), (n, outcomes)
        ping = subprocess.run(["ip", "netns", "exec", f"clab-{lab.name}-a", "ping", "-c1",
                               "-W2", "10.4.0.2"], capture_output=True, text=True, check=False)
        assert ping.returncode == 0, (n, ping.stdout)
        gone = run_cli("destroy", "-t", str(topo), "--cleanup")
        assert gone.returncode == 0, gone.stderr
        assert not (lab.dir / f"clab-{lab.name}").exists()


TREE = """
name: LAB
topology:
  nodes:
    a: {kind: netns, cmd: "sleep 1000 & sleep 1000; : TAG"}
"""


def proc_stat(pid: int) -> list[bytes] | None:
    """/proc/<pid>/stat from field 3 on: [state, ppid, ...]; start time is [19]."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2 :].split()


def proc_start_time(pid: int) -> int | None:
    fields = proc_stat(pid)
    return int(fields[19]) if fields else None


def _tree(root: int) -> dict[int, int]:
    """``root`` and its descendants: pid -> start time."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := proc_stat(int(entry))):
            parent[int(entry)] = int(fields[1])
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if (start := proc_start_time(pid)) is not None:
            found[pid] = start
        todo += [kid for kid, ppid in parent.items() if ppid == pid]
    return found


def _living(seen: dict[int, int]) -> list[int]:
    left = []
    for pid, start in seen.items():
        fields = proc_stat(pid)
        if fields and fields[0] != b"Z" and int(fields[19]) == start:
            left.append(pid)
    return left


def _pidfile(lab: Lab) -> dict[str, object]:
    path = lab.dir / f"clab-{lab.name}" / "a" / "cmd.pid.json"
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("kill", ["child", "supervisor"])
def test_destroy_ends_the_whole_process_tree(lab: Lab, kill: str) -> None:
    topo = lab.write(TREE)
    assert run_cli("deploy", "-t", str(topo)).returncode == 0
    _wait(lambda: _pidfile(lab).get("child") is not None)
    record = _pidfile(lab)
    sup, child = int(str(record["pid"])), int(str(record["child"]))
    _wait(lambda: len(_tree(child)) == 3)  # sh and its two sleeps
    seen = _tree(sup)
    assert len(seen) == 4
    if kill == "child":
        os.kill(child, signal.SIGKILL)
        # the supervisor starts the cmd again: a new shell with two new sleeps
        _wait(lambda: _pidfile(lab).get("child") not in (None, child))
        new_child = int(str(_pidfile(lab)["child"]))
        _wait(lambda: len(_tree(new_child)) == 3)
        seen |= _tree(sup)
        assert len(seen) >= 7
    else:
        os.kill(sup, signal.SIGKILL)
        _wait(lambda: not _living({sup: seen[sup]}))
    gone = run_cli("destroy", "-t", str(topo))
    assert gone.returncode == 0, gone.stderr
    assert _living(seen) == []  # no process of the node's tree survives destroy
    assert not any(n.startswith(lab.prefix) for n in netns_names())


def test_a_forged_pid_file_never_makes_destroy_kill_another_process(lab: Lab) -> None:
    topo = lab.write(TREE)
    assert run_cli("deploy", "-t", str(topo)).returncode == 0
    _wait(lambda: _pidfile(lab).get("child") is not None)
    seen = _tree(int(str(_pidfile(lab)["pid"])))
    bystander = subprocess.Popen(["sleep", "1000"])
    try:
        start = proc_start_time(bystander.pid)
        forged = {"pid": bystander.pid, "start": start, "child": bystander.pid,
                  "child_start": start, "exits": []}
        sup = next(iter(seen))
        os.kill(sup, signal.SIGKILL)  # it would rewrite its pid file
        _wait(lambda: not _living({sup: seen[sup]}))
        pidfile = lab.dir / f"clab-{lab.name}" / "a" / "cmd.pid.json"
        pidfile.write_text(json.dumps(forged))
        gone = run_cli("destroy", "-t", str(topo))
        assert gone.returncode == 0, gone.stderr
        assert bystander.poll() is None  # not signalled: it is not the node's supervisor
        assert _living(seen) == []  # while the node's own tree is gone
    finally:
        bystander.kill()
        bystander.wait()


def test_a_forged_journal_pid_never_makes_destroy_kill_another_process(lab: Lab) -> None:
    """The same through the journal: a process effect naming another process's pid."""
    topo = lab.write(TREE)
    assert run_cli("deploy", "-t", str(topo)).returncode == 0
    bystander = subprocess.Popen(["sleep", "1000"])
    try:
        journal = lab.dir / f"clab-{lab.name}" / ".netknit" / "journal.jsonl"
        forged = {"op": "intent", "kind": "process", "name": "x", "ns": None,
                  "info": {"pidfile": str(Path("/nonexistent/cmd.pid.json")),
                           "pid": bystander.pid, "start": proc_start_time(bystander.pid)}}
        with journal.open("a") as f:
            f.write(json.dumps(forged) + "\n")
        gone = run_cli("destroy", "-t", str(topo))
        assert gone.returncode == 0, gone.stderr
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
