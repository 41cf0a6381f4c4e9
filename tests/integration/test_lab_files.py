"""The files containerlab writes for a lab: written by deploy, removed by destroy (after a
kill -9 too, and without the journal), with /etc/hosts and /etc/ssh/ssh_config.d given
back byte for byte (but for other labs' blocks, which labs running meanwhile may add or
remove). They are the machine's real files: a lab's block or ssh config left behind is
removed, and the test fails."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import Lab, run_cli

HOSTS = Path("/etc/hosts")
BLOCK = re.compile(rb"###### CLAB-(?P<lab>\S+)-(?P<edge>START|END) ######$")
SSH_DIR = Path("/etc/ssh/ssh_config.d")

TOPO = """
name: LAB
topology:
  nodes:
    a: {kind: netns, labels: {ansible-group: edge, nornir-group: g1}}
    b: {kind: netns}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.7.0.1/30", "10.7.0.2/30"]
"""

LAB_FILES = ("topology-data.json", "ansible-inventory.yml", "nornir-simple-inventory.yml",
             "authorized_keys")


def ours(hosts: bytes, lab: str) -> bytes:
    """/etc/hosts as this test sees it: without other labs' blocks, which labs running
    beside it (other tests, other sessions) add and remove at any moment."""
    kept, skipping, me = [], None, lab.encode()
    for line in hosts.splitlines(keepends=True):
        found = BLOCK.match(line)
        if skipping is None and found and found["edge"] == b"START" and found["lab"] != me:
            skipping = found["lab"]
        if skipping is None:
            kept.append(line)
        elif found and found["edge"] == b"END" and found["lab"] == skipping:
            skipping = None
    return b"".join(kept)


def drop_block(lab: str) -> None:
    """Remove this lab's block only, under containerlab's lock: never write back a copy
    of the whole file (that would bring back, or drop, other labs' blocks)."""
    with open("/run/lock/clab-hosts.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        hosts = HOSTS.read_bytes()
        start = hosts.find(f"###### CLAB-{lab}-START ######\n".encode())
        end_mark = f"###### CLAB-{lab}-END ######\n".encode()
        end = hosts.find(end_mark, start)
        if start >= 0 and end >= 0:
            tmp = HOSTS.with_name(".hosts.netknit-test")
            tmp.write_bytes(hosts[:start] + hosts[end + len(end_mark):])
            os.chmod(tmp, HOSTS.stat().st_mode)
            os.replace(tmp, HOSTS)


@contextlib.contextmanager
def kept_host_files(lab: Lab) -> Iterator[bytes]:
    """/etc/hosts as it was (without other labs' blocks: :func:`ours`); if the lab's
    destroy leaves its block, the block is removed and the test fails. The same for the
    lab's ssh config."""
    before = ours(HOSTS.read_bytes(), lab.name)
    try:
        yield before
    finally:
        for topo in lab.dir.glob("*.clab.yml"):
            run_cli("destroy", "-t", str(topo), "--quiet")
        left = ours(HOSTS.read_bytes(), lab.name) != before
        if left:
            drop_block(lab.name)
        ssh_left = _ssh_config(lab).exists()
        _ssh_config(lab).unlink(missing_ok=True)
        if left or ssh_left:
            pytest.fail("/etc/hosts or the ssh config was not restored (the lab's block "
                        "and config were removed)")


@pytest.fixture
def host_files(lab: Lab) -> Iterator[bytes]:
    with kept_host_files(lab) as before:
        yield before


def _ssh_config(lab: Lab) -> Path:
    return SSH_DIR / f"clab-{lab.name}.conf"


def assert_gone(lab: Lab, before: bytes) -> None:
    assert ours(HOSTS.read_bytes(), lab.name) == before
    assert not _ssh_config(lab).exists()
    lab_dir = lab.dir / f"clab-{lab.name}"
    assert [n for n in LAB_FILES if (lab_dir / n).exists()] == []


def test_deploy_writes_containerlabs_files_and_destroy_removes_them(
        lab: Lab, host_files: bytes) -> None:
    topo = str(lab.write(TOPO))
    deployed = run_cli("deploy", "-t", topo, "--quiet")
    assert deployed.returncode == 0, deployed.stderr
    lab_dir = lab.dir / f"clab-{lab.name}"
    # /etc/hosts: the old content untouched, then the lab's block (namespace nodes have
    # no management address: no entries, as containerlab writes for such nodes), with
    # the lab's mark
    hosts = ours(HOSTS.read_bytes(), lab.name)
    assert hosts.startswith(host_files)
    start, mark, end = hosts[len(host_files):].decode().splitlines()
    assert (start, end) == (f"###### CLAB-{lab.name}-START ######",
                            f"###### CLAB-{lab.name}-END ######")
    assert mark.startswith("# netknit-lab ") and mark.endswith(f" {lab.name}")
    assert _ssh_config(lab).read_text().splitlines()[:5] == [
        f"# Containerlab SSH Config for the {lab.name} lab", mark,
        f"Host clab-{lab.name}-a", "\tStrictHostKeyChecking=no",
        "\tUserKnownHostsFile=/dev/null"]
    ansible = yaml.safe_load((lab_dir / "ansible-inventory.yml").read_text())
    children = ansible["all"]["children"]
    assert sorted(children) == ["edge", "netns"]
    assert sorted(children["netns"]["hosts"]) == [f"clab-{lab.name}-a", f"clab-{lab.name}-b"]
    assert list(children["edge"]["hosts"]) == [f"clab-{lab.name}-a"]
    nornir = yaml.safe_load((lab_dir / "nornir-simple-inventory.yml").read_text())
    assert nornir["a"]["platform"] == "netns" and nornir["a"]["groups"] == ["g1"]
    data = json.loads((lab_dir / "topology-data.json").read_text())
    assert data["name"] == lab.name and data["type"] == "clab"
    assert data["nodes"]["a"]["longname"] == f"clab-{lab.name}-a"
    assert data["links"][0]["endpoints"]["a"]["ipv4"] == "10.7.0.1/30"
    assert (lab_dir / "authorized_keys").exists()
    # a second deploy of the same file changes nothing
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    assert ours(HOSTS.read_bytes(), lab.name) == hosts
    gone = run_cli("destroy", "-t", topo, "--quiet")
    assert gone.returncode == 0, gone.stderr
    assert_gone(lab, host_files)


def test_a_deploy_killed_at_any_point_leaves_no_file_after_destroy(
        lab: Lab, host_files: bytes) -> None:
    topo = str(lab.write(TOPO))
    killed_with_block = 0
    for point in range(1, 200):
        deployed = run_cli("deploy", "-t", topo, "--quiet",
                           env={"NETKNIT_TEST_CRASH_AT": str(point)})
        if deployed.returncode == 0:
            break  # past the last crash point
        assert deployed.returncode == -signal.SIGKILL, deployed.stderr
        killed_with_block += f"CLAB-{lab.name}-START".encode() in HOSTS.read_bytes()
        gone = run_cli("destroy", "-t", topo, "--quiet")
        assert gone.returncode == 0, gone.stderr
        assert_gone(lab, host_files)
    else:
        pytest.fail("the deploy never completed")
    assert killed_with_block >= 1  # killed after writing the block, at least once
    assert run_cli("destroy", "-t", topo, "--quiet").returncode == 0
    assert_gone(lab, host_files)


def test_destroy_finds_the_hosts_block_without_the_journal(
        lab: Lab, host_files: bytes) -> None:
    topo = str(lab.write(TOPO))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    shutil.rmtree(lab.dir / f"clab-{lab.name}")  # journal and lab files gone
    gone = run_cli("destroy", "-t", topo, "--quiet")
    assert gone.returncode == 0, gone.stderr
    assert_gone(lab, host_files)


def test_another_lab_of_the_same_name_keeps_its_block(lab: Lab, host_files: bytes) -> None:
    """A lab of the same name in another directory is another lab: destroying it (never
    deployed, no journal) leaves this lab's block and ssh config alone."""
    first = str(lab.write(TOPO))
    (lab.dir / "other").mkdir()
    second = str(lab.write(TOPO, "other/lab.clab.yml"))
    assert run_cli("deploy", "-t", first, "--quiet").returncode == 0
    deployed, ssh = ours(HOSTS.read_bytes(), lab.name), _ssh_config(lab).read_bytes()
    gone = run_cli("destroy", "-t", second)
    assert gone.returncode == 0, gone.stderr
    assert "nothing to destroy" in gone.stderr
    assert (ours(HOSTS.read_bytes(), lab.name), _ssh_config(lab).read_bytes()) == (deployed, ssh)
    assert run_cli("destroy", "-t", first, "--quiet").returncode == 0
    assert_gone(lab, host_files)
