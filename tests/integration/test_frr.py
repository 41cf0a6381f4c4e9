"""examples/frr-ospf: Debian's FRR, unmodified, on three netns routers in a line; OSPF
converges, traffic flows end to end, and destroy ends the daemons and leaves no mount."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from .conftest import Lab, mounts_of, run_cli

EXAMPLE = Path(__file__).parents[2] / "examples" / "frr-ospf"

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/lib/frr/zebra"),
                                reason="needs Debian's frr package (scripts/setup.sh --test)")


def _copy(lab: Lab) -> Path:
    for router in ("r1", "r2", "r3"):
        shutil.copytree(EXAMPLE / router, lab.dir / router)
    text = (EXAMPLE / "frr-ospf.clab.yml").read_text()
    assert "name: frr-ospf\n" in text
    return lab.write(text.replace("name: frr-ospf\n", "name: LAB\n"))


def _vtysh(topo: Path, node: str, command: str) -> str:
    out = run_cli("exec", "-t", str(topo), "--node", node, "--", "vtysh", "-c", command)
    return out.stdout


def _until(what: str, check: object, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _pids(run: Path) -> list[int]:
    """The daemons' pids, from the pid files in the router's own /run/frr."""
    return [int(p.read_text().split()[0]) for p in sorted((run / "frr").glob("*.pid"))]


def _running(pid: int) -> bool:
    """Alive and not a zombie (the daemons' parent is init, which reaps in its time)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_frr_ospf_converges_across_three_routers(lab: Lab) -> None:
    topo = _copy(lab)
    deployed = run_cli("deploy", "-t", str(topo), "--quiet", timeout=300)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    # r2 is in the middle: two neighbours, both Full
    _until("r2's two OSPF neighbours Full",
           lambda: _vtysh(topo, "r2", "show ip ospf neighbor").count("Full") == 2)
    # each end has the other's loopback from OSPF in its kernel table (the two ends run
    # their SPF at different moments: the way back may come a little later)
    for node, far in (("r1", "10.255.0.3"), ("r3", "10.255.0.1")):
        _until(f"{node}'s route to {far}", lambda node=node, far=far: "proto ospf" in run_cli(
            "exec", "-t", str(topo), "--node", node, "--", "ip", "route", "show", far).stdout)
    _until("r1's loopback pinging r3's", lambda: run_cli(
        "exec", "-t", str(topo), "--node", "r1", "--", "ping", "-c1", "-W2",
        "-I", "10.255.0.1", "10.255.0.3").returncode == 0, timeout=30)
    # each router has its own /etc/frr, /run/frr, hostname; the host has none of them
    assert "hostname r3" in _vtysh(topo, "r3", "show running-config")
    assert not os.path.exists("/run/frr/zebra.pid")
    runs = [lab.dir / f"clab-{lab.name}" / r / "fs" / "run" for r in ("r1", "r2", "r3")]
    pids = [pid for run in runs for pid in _pids(run)]
    assert len(pids) >= 3 * 3  # watchfrr, zebra, ospfd (staticd) per router
    gone = run_cli("destroy", "-t", str(topo))
    assert gone.returncode == 0, gone.stderr
    assert [p for p in pids if _running(p)] == []
    assert mounts_of(lab.prefix) == []
