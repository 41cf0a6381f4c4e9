"""`netknit wait` and its POSIX sh script (run by busybox sh, as in a busybox or alpine
image): exact names in NETKNIT_INTFS, containerlab's CLAB_INTFS count, timeout, usage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import run_cli

from .conftest import DockerLab

LAB = """
name: LAB
topology:
  nodes:
    a: {kind: netns}
    b: {kind: netns}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
    - endpoints: ["a:uplink0", "b:eth2"]
"""


def _in_a(topo: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return run_cli("exec", "-t", str(topo), "--node", "a", "--", *argv)


def test_wait_script_custom_names_timeout_and_clab_count(dlab: DockerLab) -> None:
    topo = dlab.write(LAB)
    assert run_cli("deploy", "-t", str(topo), "--quiet").returncode == 0
    script = dlab.dir / "wait.sh"
    printed = run_cli("wait", "--print-script")
    assert printed.returncode == 0 and printed.stdout.startswith("#!/bin/sh")
    script.write_text(printed.stdout)
    sh = ["busybox", "env", "-i"]
    run = ["busybox", "sh", str(script)]

    ok = _in_a(topo, *sh, "NETKNIT_INTFS=eth1,uplink0", *run, "2")
    assert ok.returncode == 0, ok.stdout
    late = _in_a(topo, *sh, "NETKNIT_INTFS=eth1,nope0,uplink9", *run, "1")
    assert late.returncode == 1
    assert "missing: nope0 uplink9" in late.stdout
    counted = _in_a(topo, *sh, "CLAB_INTFS=1", *run, "1")
    assert counted.returncode == 0, counted.stdout
    short = _in_a(topo, *sh, "CLAB_INTFS=3", *run, "1")
    assert short.returncode == 1 and "2 of 3 eth* interfaces" in short.stdout
    usage = _in_a(topo, *sh, *run, "1")
    assert usage.returncode == 2
    assert _in_a(topo, *sh, "CLAB_INTFS=1", *run, "soon").returncode == 2

    # the same from the CLI
    cli = [sys.executable, "-m", "netknit", "wait"]
    assert _in_a(topo, *cli, "--intf", "eth1,uplink0", "--timeout", "2").returncode == 0
    missing = _in_a(topo, *cli, "--intf", "eth1,nope0", "--timeout", "1")
    assert missing.returncode == 1 and "nope0" in missing.stdout
    assert _in_a(topo, "env", "-u", "NETKNIT_INTFS", "-u", "CLAB_INTFS",
                 *cli).returncode == 2
