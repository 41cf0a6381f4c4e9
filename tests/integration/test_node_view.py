"""A netns node's own view (mount and UTS namespaces): binds, private /run, hostname,
/etc/hosts; commands run in it; nothing of it reaches the host, nothing outlives destroy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import Lab, crash_sweep, mounts_of, pair, run_cli

TOPO = """
name: LAB
topology:
  nodes:
    a:
      cmd: "echo written-by-a > /run/state.TAG; exec sleep 3600"
      binds:
        - ./a.txt:/etc/nk-TAG/file.txt:ro
        - ./shared:/opt/nk-TAG
    b:
      binds: [./b.txt:/etc/nk-TAG/file.txt]
  links:
    - endpoints: [a:eth1, b:eth1]
      ipv4: [10.77.0.1/24, 10.77.0.2/24]
"""


def _write(lab: Lab) -> Path:
    (lab.dir / "a.txt").write_text("file of a\n")
    (lab.dir / "b.txt").write_text("file of b\n")
    (lab.dir / "shared").mkdir()
    (lab.dir / "shared" / "data").write_text("shared data\n")
    return lab.write(TOPO)


def _exec(topo: Path, node: str, script: str) -> subprocess.CompletedProcess[str]:
    return run_cli("exec", "-t", str(topo), "--node", node, "--", "sh", "-c", script)


def _wait_for(what: str, check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_each_node_sees_its_own_files_run_and_hostname(lab: Lab) -> None:
    topo = _write(lab)
    deployed = run_cli("deploy", "-t", str(topo), "--quiet")
    assert deployed.returncode == 0, deployed.stderr
    state = lab.dir / f"clab-{lab.name}" / "a" / "fs" / "run" / f"state.{lab.tag}"
    _wait_for("a's cmd to write its /run", state.exists)

    # one path, two binds: each node sees its own file; the host has no such path
    a = _exec(topo, "a", f"cat /etc/nk-{lab.tag}/file.txt; hostname; cat /etc/hostname")
    assert a.stdout.split("\n")[:3] == ["file of a", "a", "a"], a.stdout + a.stderr
    b = _exec(topo, "b", f"cat /etc/nk-{lab.tag}/file.txt; hostname")
    assert b.stdout.split("\n")[:2] == ["file of b", "b"], b.stdout + b.stderr
    assert not os.path.exists(f"/etc/nk-{lab.tag}")
    assert not os.path.exists(f"/opt/nk-{lab.tag}")
    # a read-only bind is read-only; a read-write one writes through to its source
    ro = _exec(topo, "a", f"echo x >> /etc/nk-{lab.tag}/file.txt")
    assert ro.returncode != 0 and "Read-only" in ro.stdout, ro.stdout
    assert (lab.dir / "a.txt").read_text() == "file of a\n"
    rw = _exec(topo, "a", f"cat /opt/nk-{lab.tag}/data; echo from-a > /opt/nk-{lab.tag}/new")
    assert rw.stdout == "shared data\n", rw.stdout + rw.stderr
    assert (lab.dir / "shared" / "new").read_text() == "from-a\n"

    # /run written by a's cmd: seen by exec on a, not on b, not on the host
    seen = _exec(topo, "a", f"cat /run/state.{lab.tag}; cat /var/run/state.{lab.tag}")
    assert seen.stdout == "written-by-a\n" * 2, seen.stdout + seen.stderr
    assert _exec(topo, "b", f"cat /run/state.{lab.tag}").returncode != 0
    assert not os.path.exists(f"/run/state.{lab.tag}")
    # /etc/hosts names the node; the host's own is unchanged by it
    hosts = _exec(topo, "b", "getent hosts b; cat /etc/hosts")
    assert "127.0.1.1" in hosts.stdout.split("\n")[0], hosts.stdout
    assert "127.0.1.1\tb\n" not in Path("/etc/hosts").read_text()
    # the node is wired as before: its interfaces, its peer
    ping = _exec(topo, "a", "ping -c1 -W2 10.77.0.2")
    assert ping.returncode == 0, ping.stdout

    # netknit run inside a node stays in the node's view (not the host's, which it
    # would join under `ip netns exec`)
    probe = run_cli("exec", "-t", str(topo), "--node", "a", "--", sys.executable, "-c",
                    "from netknit.kernel._mounts import _host_mounts; print(_host_mounts())")
    assert probe.stdout.strip() == "None", probe.stdout + probe.stderr
    waited = _exec(topo, "a", f"{sys.executable} -m netknit wait --intf eth1 --timeout 10 "
                   f"&& cat /run/state.{lab.tag}")
    assert waited.stdout == "written-by-a\n", waited.stdout + waited.stderr

    assert mounts_of(lab.prefix) != []  # the views are kept by mounts while deployed
    gone = run_cli("destroy", "-t", str(topo))
    assert gone.returncode == 0, gone.stderr
    assert mounts_of(lab.prefix) == []
    # what the node wrote in its /run stays in the lab directory, to be read after
    assert state.read_text() == "written-by-a\n"


def test_stage_hooks_and_exec_run_in_the_view(lab: Lab) -> None:
    """``exec`` and stage hooks (``container`` target) see the node's files."""
    (lab.dir / "conf").write_text("conf of n\n")
    topo = lab.write("""
name: LAB
topology:
  nodes:
    n:
      binds: [./conf:/etc/nk-TAG.conf]
      exec: ["sh -c 'cat /etc/nk-TAG.conf > /run/exec.out; hostname >> /run/exec.out'"]
      stages:
        configure:
          exec:
            - command: sh -c 'cat /etc/nk-TAG.conf > /run/hook.out'
""")
    deployed = run_cli("deploy", "-t", str(topo), "--quiet")
    assert deployed.returncode == 0, deployed.stderr
    run = lab.dir / f"clab-{lab.name}" / "n" / "fs" / "run"
    assert (run / "exec.out").read_text() == "conf of n\nn\n"
    assert (run / "hook.out").read_text() == "conf of n\n"
    assert not os.path.exists(f"/etc/nk-{lab.tag}.conf")


def test_private_dirs_is_configurable(lab: Lab) -> None:
    topo = lab.write("""
name: LAB
topology:
  defaults:
    private-dirs: [/run, /var/lib/nk-TAG]
  nodes:
    a: {}
    b: {private-dirs: []}
""")
    deployed = run_cli("deploy", "-t", str(topo), "--quiet")
    assert deployed.returncode == 0, deployed.stderr
    a = _exec(topo, "a", f"echo a > /var/lib/nk-{lab.tag}/x; echo a > /run/y.{lab.tag}")
    assert a.returncode == 0, a.stdout
    base = lab.dir / f"clab-{lab.name}" / "a" / "fs"
    assert (base / "var" / "lib" / f"nk-{lab.tag}" / "x").read_text() == "a\n"
    assert (base / "run" / f"y.{lab.tag}").read_text() == "a\n"
    assert not os.path.exists(f"/var/lib/nk-{lab.tag}")
    # no private dirs: b shares the host's /run (and has its own hostname still)
    b = _exec(topo, "b", f"hostname; ls /run/netns | grep -c {lab.prefix}")
    assert b.stdout.split("\n")[0] == "b", b.stdout


def _supervisor(lab: Lab, node: str) -> int:
    record = lab.dir / f"clab-{lab.name}" / node / "cmd.pid.json"
    return int(json.loads(record.read_text())["pid"])


def test_kill_9_of_the_lab_then_destroy_leaves_no_mount(lab: Lab) -> None:
    """Its processes killed, its state file gone: destroy still leaves no mount."""
    topo = _write(lab)
    assert run_cli("deploy", "-t", str(topo), "--quiet").returncode == 0
    os.kill(_supervisor(lab, "a"), signal.SIGKILL)  # a pid netknit wrote for us
    (lab.dir / f"clab-{lab.name}" / ".netknit" / "state.json").unlink()
    gone = run_cli("destroy", "-t", str(topo))
    assert gone.returncode == 0, gone.stderr
    assert mounts_of(lab.prefix) == []
    assert lab.leftovers() == []


def test_kill_9_of_a_deploy_at_every_point_leaves_no_mount(lab: Lab) -> None:
    topo = _write(lab)

    def attempt(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        deployed = run_cli("deploy", "-t", str(topo), "--quiet", env=env)
        gone = run_cli("destroy", "-t", str(topo))
        assert gone.returncode == 0, gone.stderr
        assert lab.leftovers() == [], f"crash point {env}: {lab.leftovers()}"
        assert not os.path.exists(f"/etc/nk-{lab.tag}")
        return deployed

    crash_sweep(attempt, limit=100)


@pytest.mark.parametrize("bad", ["relative/path", "/"])
def test_bad_private_dirs_are_refused_before_anything_is_made(lab: Lab, bad: str) -> None:
    topo = lab.write(f"name: LAB\ntopology:\n  nodes:\n    a: {{private-dirs: ['{bad}']}}\n")
    out = run_cli("deploy", "-t", str(topo))
    assert out.returncode != 0
    assert "private-dirs" in out.stderr and "Traceback" not in out.stderr
    assert lab.leftovers() == []


def test_a_path_that_cannot_be_made_in_the_view_alone_fails_cleanly(lab: Lab) -> None:
    (lab.dir / "f").write_text("f\n")
    topo = lab.write(f"name: LAB\ntopology:\n  nodes:\n    a: {{binds: ['./f:/nk-{lab.tag}/x']}}\n")
    out = run_cli("deploy", "-t", str(topo))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"/nk-{lab.tag}/x cannot be made in the node's view alone" in out.stderr
    assert not os.path.exists(f"/nk-{lab.tag}")
    assert lab.leftovers() == []


def test_a_view_is_made_when_the_first_process_starts(lab: Lab) -> None:
    """A node that only wires links gets no view at deploy (views cost more than the
    namespace); the first command started in it makes one, once, also when several
    start at the same moment; destroy removes it."""
    topo = lab.write(pair())
    assert run_cli("deploy", "-t", str(topo), "--quiet").returncode == 0
    assert mounts_of(lab.prefix) == []
    # four commands at once in a: each writes its own file in a's /run
    procs = [subprocess.Popen(
        [sys.executable, "-m", "netknit", "exec", "-t", str(topo), "--node", "a", "--",
         "sh", "-c", f"hostname > /run/w{i}.{lab.tag}"], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True) for i in range(4)]
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
    seen = _exec(topo, "a", f"cat /run/w*.{lab.tag}")
    assert seen.stdout.split() == ["a"] * 4, seen.stdout  # all in one view, named a
    assert not list(Path("/run").glob(f"w*.{lab.tag}"))
    assert len(mounts_of(lab.prefix)) == 2  # a's view (mount and UTS); b still none
    assert run_cli("destroy", "-t", str(topo)).returncode == 0
    assert mounts_of(lab.prefix) == []


def test_containerlabs_magic_variables_reach_the_node(lab: Lab) -> None:
    """A lab file written for containerlab: one bind in ``defaults`` with
    ``__clabNodeDir__`` gives each node its own directory, ``exec`` names the node with
    ``__clabNodeName__``; a bind of the inventory netknit writes later is left out with a
    note, and the deploy goes on."""
    lab_dir = lab.dir / f"clab-{lab.name}"
    for node in ("a", "b"):
        (lab_dir / node / "conf").mkdir(parents=True)
        (lab_dir / node / "conf" / "greeting").write_text(f"conf of {node}\n")
    topo = lab.write("""
name: LAB
topology:
  defaults:
    binds: [__clabNodeDir__/conf:/etc/nk-TAG:ro]
    exec: ["sh -c 'echo __clabNodeName__ of __clabLabName__ > /run/who'"]
  nodes:
    a: {}
    b:
      binds: [__clabDir__/ansible-inventory.yml:/inventory.yml:ro]
""")
    deployed = run_cli("deploy", "-t", str(topo), "--quiet")
    assert deployed.returncode == 0, deployed.stderr
    assert "ansible-inventory.yml:/inventory.yml:ro' left out" in deployed.stderr
    for node in ("a", "b"):
        seen = _exec(topo, node, f"cat /etc/nk-{lab.tag}/greeting /run/who")
        assert seen.returncode == 0, seen.stderr
        assert seen.stdout == f"conf of {node}\n{node} of clab-{lab.name}\n"
    assert _exec(topo, "b", "test -e /inventory.yml").returncode == 1
