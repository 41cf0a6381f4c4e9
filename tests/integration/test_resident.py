"""`netknit resident`: commands run in a preloaded process behave as if they ran in the
caller's own: same output, exit status, namespaces, directory, stdin; signals and a
kill -9 of the caller reach the command; new code is never run by an old resident."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Lab, pair, run_cli
from .graph_served import wait_for

TOPO = pair(("10.77.0.1/30", "10.77.0.2/30"))


class Resident:
    """A resident process of this test's own (its own socket), stopped at the end."""

    def __init__(self, directory: Path) -> None:
        self.socket = str(directory / "resident.sock")
        self.env = {"NETKNIT_RESIDENT_SOCKET": self.socket}
        started = run_cli("resident", "start", "--idle", "300", env=self.env)
        assert started.returncode == 0, started.stderr
        self.pid = int(re.search(r"resident process (\d+)", started.stdout)[1])  # type: ignore[index]

    def served(self, caller: int) -> int | None:
        """The child that ran ``caller``'s command (from the resident's log), if any."""
        log = Path(f"{self.socket}.log").read_text()
        found = re.search(rf"caller {caller} child (\d+):", log)
        return int(found[1]) if found else None

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return Path(f"/proc/{self.pid}/stat").read_text().split(") ")[1][0] != "Z"

    def popen(self, *args: str, env: dict[str, str] | None = None,
              **kw: object) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "netknit", *args], text=True,
                                env={**os.environ, "COLUMNS": "200", **self.env, **(env or {})},
                                **kw)  # type: ignore[call-overload]


@pytest.fixture
def resident(tmp_path: Path) -> Iterator[Resident]:
    the = Resident(tmp_path)
    yield the
    stopped = run_cli("resident", "stop", env=the.env)
    if the.alive():  # our own process, by its pid
        os.kill(the.pid, signal.SIGKILL)
    assert stopped.returncode == 0, stopped.stderr
    assert not Path(the.socket).exists()


def _through(resident: Resident, *args: str,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command through the resident; assert the resident ran it."""
    proc = resident.popen(*args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=120)
    assert resident.served(proc.pid) is not None, f"not forwarded: {args} {err}"
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_a_lab_through_the_resident_is_the_same_lab(lab: Lab, resident: Resident) -> None:
    topo = str(lab.write(TOPO))
    deployed = _through(resident, "deploy", "-t", topo)
    assert deployed.returncode == 0, deployed.stderr
    pinged = _through(resident, "exec", "-t", topo, "--label", "clab-node-name=a",
                      "--cmd", "ping -c1 -W5 10.77.0.2")
    assert pinged.returncode == 0 and "1 received" in pinged.stdout, pinged.stdout
    shown = _through(resident, "inspect", "-t", topo, "-f", "json")
    here = run_cli("inspect", "-t", topo, "-f", "json", env={"NETKNIT_RESIDENT": "0"})
    assert json.loads(shown.stdout) == json.loads(here.stdout)
    ran = subprocess.run(["ip", "-n", f"clab-{lab.name}-b", "-j", "addr", "show", "eth1"],
                         capture_output=True, text=True, check=True)
    assert "10.77.0.2" in ran.stdout
    gone = _through(resident, "destroy", "-t", topo, "--cleanup")
    assert gone.returncode == 0, gone.stderr
    assert lab.leftovers() == []


def test_errors_exit_codes_and_stdin_are_the_callers(lab: Lab, resident: Resident,
                                                     tmp_path: Path) -> None:
    missing = _through(resident, "deploy", "-t", str(tmp_path / "nope.clab.yml"))
    here = run_cli("deploy", "-t", str(tmp_path / "nope.clab.yml"),
                   env={"NETKNIT_RESIDENT": "0"})
    assert (missing.returncode, missing.stderr) == (here.returncode, here.stderr)
    assert missing.returncode == 2 and "error:" in missing.stderr
    # the topology on stdin, a relative path from the caller's directory
    text = lab.write(TOPO).read_text()
    proc = resident.popen("deploy", "-t", "-", "--quiet", stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=lab.dir)
    _out, err = proc.communicate(text, timeout=120)
    assert proc.returncode == 0, err
    assert resident.served(proc.pid) is not None
    relative = resident.popen("inspect", "-t", "lab.clab.yml", stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, cwd=lab.dir)
    out, err = relative.communicate(timeout=120)
    assert relative.returncode == 0 and "clab-" not in out, err  # not deployed from it
    relative = resident.popen("destroy", "--name", lab.name, "--cleanup",
                              stderr=subprocess.PIPE, cwd=lab.dir)
    _out, err = relative.communicate(timeout=120)
    assert relative.returncode == 0, err
    assert lab.leftovers() == []
    # the kept copy of stdin (named by its content, as containerlab keeps it): the test's
    kept = Path("/tmp/.clab") / f"topo-{hashlib.sha256(text.encode()).hexdigest()[:12]}.clab.yml"
    kept.unlink()


def test_signals_reach_the_command_and_a_killed_caller_takes_it_along(
        lab: Lab, resident: Resident) -> None:
    topo = str(lab.write(TOPO))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    # SIGTERM to the caller: watch stops as it does in its own process (exit 0)
    watcher = resident.popen("watch", "-t", topo, stderr=subprocess.PIPE)
    child = wait_for(lambda: resident.served(watcher.pid), 30, "watch forwarded")
    wait_for(lambda: _holds_lab_lock(child), 30, "watch running")
    watcher.send_signal(signal.SIGTERM)  # our own child, by pid
    _out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    wait_for(lambda: not _running(child), 30, "the command gone with its caller")
    # kill -9 of the caller: the resident kills the command
    watcher = resident.popen("watch", "-t", topo, stderr=subprocess.DEVNULL)
    child = wait_for(lambda: resident.served(watcher.pid), 30, "watch forwarded")
    wait_for(lambda: _holds_lab_lock(child), 30, "watch running")
    watcher.kill()
    watcher.wait(timeout=30)
    wait_for(lambda: not _running(child), 30, "the command killed with its caller")
    # a command killed by a signal: its caller dies of the same signal
    assert run_cli("destroy", "-t", topo).returncode == 0
    crashed = _through(resident, "deploy", "-t", topo, env={"NETKNIT_TEST_CRASH_AT": "3"})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert run_cli("destroy", "-t", topo, "--cleanup").returncode == 0
    assert lab.leftovers() == []
    assert resident.alive()


def test_a_caller_in_another_namespace_works_there(lab: Lab, resident: Resident) -> None:
    """`ip netns exec X netknit …`: the command runs in X's network namespace (and the
    mount namespace ip-netns-exec made), as it would in its own process."""
    outer = f"nkr{lab.tag}"
    subprocess.run(["ip", "netns", "add", outer], check=True)
    try:
        topo = lab.write(TOPO + '    - endpoints: ["a:eth2", "host:hTAG"]\n')
        proc = subprocess.Popen(
            ["ip", "netns", "exec", outer, sys.executable, "-m", "netknit", "deploy", "-t",
             str(topo), "--quiet"], env={**os.environ, **resident.env},
            stderr=subprocess.PIPE, text=True)
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        # the host end is in the caller's namespace, not in the resident's
        inside = subprocess.run(["ip", "-n", outer, "-br", "link"], capture_output=True,
                                text=True, check=True).stdout
        assert f"h{lab.tag}" in inside
        assert f"h{lab.tag}" not in subprocess.run(["ip", "-br", "link"], capture_output=True,
                                                   text=True, check=True).stdout
        done = subprocess.run(["ip", "netns", "exec", outer, sys.executable, "-m", "netknit",
                               "destroy", "-t", str(topo), "--cleanup"],
                              env={**os.environ, **resident.env}, capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0, done.stderr
    finally:
        subprocess.run(["ip", "netns", "del", outer], check=False)
    assert lab.leftovers() == []


def test_new_code_is_run_by_the_caller_and_the_resident_leaves(
        lab: Lab, resident: Resident) -> None:
    import netknit

    source = Path(netknit.__file__).parent / "_errors.py"
    before = source.stat()
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    try:
        def refused() -> bool:
            ran = resident.popen("inspect", "--all", stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
            _out, err = ran.communicate(timeout=120)
            assert ran.returncode == 0, err  # run, by the caller itself
            return resident.served(ran.pid) is None

        wait_for(refused, 30, "the changed file noticed")  # seen within a second
        wait_for(lambda: not resident.alive(), 30, "the resident gone")
    finally:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    status = run_cli("resident", "status", "-f", "json", env=resident.env)
    assert status.returncode == 1 and json.loads(status.stdout)["running"] is False


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except (FileNotFoundError, ProcessLookupError):  # ESRCH: it ended while being read
        return False
    return state != "Z"


def _holds_lab_lock(pid: int) -> bool:
    """Whether the process holds a lock (watch holds its lab's watcher lock)."""
    try:
        inode_locks = Path("/proc/locks").read_text()
    except OSError:
        return False
    return any(line.split()[4] == str(pid) for line in inode_locks.splitlines()
               if len(line.split()) > 4)


def test_status_and_stop_speak_plainly(tmp_path: Path) -> None:
    env = {"NETKNIT_RESIDENT_SOCKET": str(tmp_path / "r.sock")}
    none = run_cli("resident", "status", env=env)
    assert none.returncode == 1 and "no resident process runs" in none.stdout
    assert run_cli("resident", "stop", env=env).stdout.startswith("no resident process")
    started = run_cli("resident", "start", "--idle", "300", env=env)
    assert started.returncode == 0, started.stderr
    pid = int(re.search(r"resident process (\d+)", started.stdout)[1])  # type: ignore[index]
    try:
        again = run_cli("resident", "start", env=env)
        assert f"resident process {pid} already serves" in again.stdout
        shown = json.loads(run_cli("resident", "status", "-f", "json", env=env).stdout)
        assert shown == {"running": True, "pid": pid, "socket": env["NETKNIT_RESIDENT_SOCKET"]}
    finally:
        stopped = run_cli("resident", "stop", env=env)
    assert stopped.stdout.strip() == f"resident process {pid} stopped"
    assert not os.path.exists(f"/proc/{pid}") or \
        Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"


def test_idle_resident_leaves_by_itself(tmp_path: Path) -> None:
    env = {"NETKNIT_RESIDENT_SOCKET": str(tmp_path / "r.sock")}
    started = run_cli("resident", "start", "--idle", "1", env=env)
    assert started.returncode == 0, started.stderr
    pid = int(re.search(r"resident process (\d+)", started.stdout)[1])  # type: ignore[index]
    try:
        wait_for(lambda: run_cli("resident", "status", env=env).returncode == 1, 60,
                 "the idle resident gone")
    finally:
        if _running(pid):
            os.kill(pid, signal.SIGKILL)  # our own, by pid
    assert not (tmp_path / "r.sock").exists()
