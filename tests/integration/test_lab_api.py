"""netknit.Lab on the real kernel: a lab built in code is deployed, used, repaired and
destroyed through its methods; ``deployed()`` leaves nothing behind, also when its block
raises, is interrupted by KeyboardInterrupt or by a real SIGINT; the Python example runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import netknit
from netknit import Lab, TopologyError

from .conftest import Lab as FixtureLab
from .conftest import netns_names, run_cli

ROOT = Path(__file__).resolve().parents[2]


def two_hosts(lab: FixtureLab) -> Lab:
    code = Lab(lab.name, labdir_base=lab.dir)
    code.add_node("h1")
    code.add_node("h2")
    code.add_link("h1:eth1", "h2:eth1", ipv4=["10.0.0.1/24", "10.0.0.2/24"],
                  ipv6=["fd00::1/64", "fd00::2/64"], mtu=1400)
    return code


def _ip(node_ns: str, *argv: str) -> str:
    return subprocess.run(["ip", "-n", node_ns, *argv], capture_output=True, text=True,
                          check=True).stdout


def test_deployed_lab_is_used_through_its_methods(lab: FixtureLab) -> None:
    code = two_hosts(lab)
    with code.deployed() as same:
        assert same is code
        assert code.lab_dir == lab.dir / f"clab-{lab.name}"
        # what a user checks: the interface in that namespace, its MTU and address
        shown = _ip(f"clab-{lab.name}-h1", "-o", "addr", "show", "dev", "eth1")
        assert "10.0.0.1/24" in shown and "fd00::1/64" in shown
        assert "mtu 1400" in _ip(f"clab-{lab.name}-h1", "link", "show", "eth1")
        assert code.exec("h1", ["ping", "-c1", "-W2", "10.0.0.2"]).returncode == 0
        assert code.exec("h2", "ping -c1 -W2 10.0.0.1").returncode == 0
        assert code.exec("h1", "false").returncode == 1
        view = code.inspect()
        assert view.deployed and [n.name for n in view.nodes] == ["h1", "h2"]
        assert code.deploy().already_deployed  # twice is a no-op
        everything = {n.name: [i.name for i in n.interfaces]
                      for n in code.inspect(every=True).nodes}
        assert "lo" in everything["h1"] and "eth1" in everything["h1"]
        inode = os.stat(f"/run/netns/clab-{lab.name}-h1").st_ino
        assert not code.deploy(reconfigure=True).already_deployed  # made anew
        assert os.stat(f"/run/netns/clab-{lab.name}-h1").st_ino != inode

        # drift: the link is deleted behind the lab's back; reconcile puts it back
        subprocess.run(["ip", "-n", f"clab-{lab.name}-h1", "link", "del", "eth1"], check=True)
        assert code.exec("h1", "ping -c1 -W1 10.0.0.2").returncode != 0
        repaired = code.reconcile()
        assert repaired.drifts and not repaired.failed
        assert code.exec("h1", "ping -c1 -W2 10.0.0.2").returncode == 0

        # the lifecycle: h2 stopped (its end parked), started again with its address
        assert code.stop(["h2"]).done == {"h2": "stopped"}
        assert code.exec("h1", "ping -c1 -W1 10.0.0.2").returncode != 0
        assert code.start(["h2"]).done == {"h2": "started"}
        assert code.restart().done == {"h1": "restarted", "h2": "restarted"}
        assert code.exec("h1", "ping -c1 -W2 10.0.0.2").returncode == 0

        # watch, one pass: the same repair as reconcile
        subprocess.run(["ip", "-n", f"clab-{lab.name}-h2", "link", "del", "eth1"], check=True)
        assert code.watch(once=True) == 0
        assert "10.0.0.2/24" in _ip(f"clab-{lab.name}-h2", "-o", "addr", "show", "eth1")
    assert lab.leftovers() == []
    assert not code.lab_dir.exists()  # cleanup: the lab directory is gone too


def test_the_module_functions_take_a_labs_topology(lab: FixtureLab) -> None:
    code = two_hosts(lab)
    path = lab.dir / "lab.clab.yml"
    code.to_yaml(path)
    topo = netknit.load(path)
    netknit.deploy(topo)
    try:
        assert netknit.exec(topo, "h1", ["ping", "-c1", "-W2", "10.0.0.2"]).returncode == 0
        # the file's lab, read back as a Lab, is the same lab: the same directory
        again = Lab.from_file(path)
        assert again == code and again.lab_dir == lab.dir / f"clab-{lab.name}"
        assert again.exec("h2", "ping -c1 -W2 10.0.0.1").returncode == 0
    finally:
        netknit.destroy(topo, cleanup=True)
    assert lab.leftovers() == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_deployed_destroys_when_the_block_raises(lab: FixtureLab,
                                                 error: type[BaseException]) -> None:
    code = two_hosts(lab)
    with pytest.raises(error), code.deployed():
        assert any(n.startswith(f"clab-{lab.name}-") for n in netns_names())
        raise error("the test's own failure")
    assert lab.leftovers() == []
    assert not code.lab_dir.exists()


def test_a_lab_with_problems_changes_nothing(lab: FixtureLab) -> None:
    code = two_hosts(lab)
    code.add_link("h1:eth2", "nowhere:eth1")
    with pytest.raises(TopologyError, match="unknown node 'nowhere'"), code.deployed():
        pytest.fail("the block must not run")
    assert not code.lab_dir.exists()
    assert lab.leftovers() == []


SCRIPT = """
import sys
import netknit

lab = netknit.Lab(sys.argv[1], labdir_base=sys.argv[2])
lab.add_node("h1")
lab.add_node("h2")
lab.add_link("h1:eth1", "h2:eth1")
with lab.deployed():
    print("deployed", flush=True)
    sys.stdin.read()  # until the test interrupts it
print("not reached")
"""


def test_a_sigint_during_deployed_destroys_the_lab(lab: FixtureLab) -> None:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, lab.name, str(lab.dir)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "deployed"
        assert f"clab-{lab.name}-h1" in netns_names()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "KeyboardInterrupt" in err
    assert proc.returncode != 0
    assert lab.leftovers() == []


def test_python_example_runs(lab: FixtureLab) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "python_lab.py"), lab.name],
                          cwd=lab.dir, capture_output=True, text=True, timeout=120,
                          check=False, env={**os.environ, "CLAB_LABDIR_BASE": ""})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 received" in done.stdout
    assert f"lab '{lab.name}' destroyed" in done.stdout
    assert lab.leftovers() == []
    assert not (lab.dir / f"clab-{lab.name}").exists()



def test_a_killed_script_leaves_a_lab_that_destroy_by_name_removes(lab: FixtureLab) -> None:
    """A lab built in Python has no topology file: after kill -9 of its script,
    ``netknit destroy --name LAB`` finds it by its mark and note."""
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, lab.name, str(lab.dir)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "deployed"
    finally:
        proc.kill()
        proc.wait()
    assert f"clab-{lab.name}-h1" in netns_names()  # nothing ran on the way out
    done = run_cli("--name", lab.name, "destroy", "--cleanup", cwd=Path("/"))
    assert done.returncode == 0, done.stderr
    assert f"lab '{lab.name}' destroyed" in done.stderr
    assert lab.leftovers() == []
    assert not (lab.dir / f"clab-{lab.name}").exists()
