"""Every object of a lab carries its mark: destroy finds the lab without its journal, and a
journal can never make it remove anything that lacks the mark."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Lab, host_links, netns_names, run_cli

# namespaces, a bridge netknit creates with ports, a host link, a veth pair, addresses
TOPO = """
name: LAB
topology:
  nodes:
    a: {kind: netns, cmd: "sleep 3600; : TAG"}
    b: {kind: netns}
    c: {kind: netns}
    brTAG: {kind: bridge}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.1.0.1/30", "10.1.0.2/30"]
    - endpoints: ["a:eth2", "brTAG:pTAG-a"]
    - endpoints: ["c:eth1", "brTAG:pTAG-c"]
    - endpoints: ["b:eth2", "host:hTAG-b"]
"""


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, text=True)


def _deployed(lab: Lab) -> Path:
    topo = lab.write(TOPO)
    done = run_cli("deploy", "-t", str(topo), "--quiet")
    assert done.returncode == 0, done.stderr
    assert {f"clab-{lab.name}-{n}" for n in "abc"} <= netns_names()
    assert {f"br{lab.tag}", f"p{lab.tag}-a", f"h{lab.tag}-b"} <= host_links()
    return topo


def _journal(lab: Lab) -> Path:
    return lab.dir / f"clab-{lab.name}" / ".netknit" / "journal.jsonl"


@pytest.mark.parametrize("damage", ["emptied", "truncated", "deleted", "garbage"])
def test_destroy_removes_everything_when_the_journal_lost_track(lab: Lab, damage: str) -> None:
    topo = _deployed(lab)
    journal = _journal(lab)
    if damage == "emptied":
        journal.write_bytes(b"")
    elif damage == "truncated":  # the first record survives, and half of the second
        first, second = journal.read_bytes().split(b"\n")[:2]
        journal.write_bytes(first + b"\n" + second[: len(second) // 2])
    elif damage == "garbage":  # not even UTF-8
        journal.write_bytes(b"\xff\xfe{not json\n" + journal.read_bytes())
    else:
        journal.unlink()
    gone = run_cli("destroy", "-t", str(topo))
    assert "Traceback" not in gone.stderr
    assert gone.returncode == 0, gone.stderr
    assert "nothing to destroy" not in gone.stderr
    assert lab.leftovers() == []
    again = run_cli("deploy", "-t", str(topo), "--quiet")
    assert again.returncode == 0, again.stderr


def test_destroy_removes_everything_when_the_lab_directory_was_deleted(lab: Lab) -> None:
    topo = _deployed(lab)
    shutil.rmtree(lab.dir / f"clab-{lab.name}")
    # a new deploy is refused, and its hint says that destroy is the way out
    blocked = run_cli("deploy", "-t", str(topo))
    assert blocked.returncode == 1
    assert "run `netknit destroy`" in blocked.stderr
    gone = run_cli("destroy", "-t", str(topo))
    assert gone.returncode == 0, gone.stderr
    assert "destroyed" in gone.stderr and "nothing to destroy" not in gone.stderr
    assert lab.leftovers() == []
    assert run_cli("deploy", "-t", str(topo), "--quiet").returncode == 0


def test_another_lab_of_the_same_name_is_not_touched(lab: Lab, tmp_path: Path) -> None:
    """Same lab name, another topology file (another lab directory): another mark."""
    topo = _deployed(lab)
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "lab.clab.yml").write_text(topo.read_text())
    gone = run_cli("destroy", "-t", str(other / "lab.clab.yml"))
    assert gone.returncode == 0, gone.stderr
    assert "nothing to destroy" in gone.stderr
    assert {f"clab-{lab.name}-{n}" for n in "abc"} <= netns_names()
    assert f"br{lab.tag}" in host_links()


@pytest.fixture
def decoys(lab: Lab) -> Iterator[tuple[str, str, str]]:
    """A bridge, a host veth and a namespace nobody marked (names unique to this test)."""
    bridge, veth, ns = f"dcy{lab.tag}br", f"dcy{lab.tag}v", f"nkt-{lab.tag}-decoy"
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("link", "add", veth, "type", "veth", "peer", "name", f"dcy{lab.tag}w")
        _ip("netns", "add", ns)
        yield bridge, veth, ns
    finally:
        for name in (bridge, veth):
            subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def test_a_forged_journal_removes_nothing_that_lacks_the_mark(
        lab: Lab, decoys: tuple[str, str, str]) -> None:
    bridge, veth, ns = decoys
    topo = lab.write(TOPO)
    meta = lab.dir / f"clab-{lab.name}" / ".netknit"
    meta.mkdir(parents=True)
    records = [
        {"op": "intent", "kind": "netns", "name": ns, "ns": None, "info": {}},
        {"op": "intent", "kind": "bridge", "name": bridge, "ns": None, "info": {}},
        {"op": "intent", "kind": "link", "name": veth, "ns": None, "info": {}},
    ]
    inode = (Path("/run/netns") / ns).stat().st_ino
    records += [{"op": "done", "key": f"netns::{ns}", "info": {"inode": inode}},
                {"op": "mark", "name": "deployed", "value": "forged"}]
    (meta / "journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    gone = run_cli("destroy", "-t", str(topo))
    assert gone.returncode == 0, gone.stderr
    assert ns in netns_names()
    assert {bridge, veth} <= host_links()
    assert "does not carry this lab's mark" in gone.stderr


def test_an_existing_bridge_is_used_and_never_deleted(lab: Lab) -> None:
    bridge = f"br{lab.tag}"
    _ip("link", "add", bridge, "type", "bridge")
    try:
        topo = lab.write(TOPO)
        done = run_cli("deploy", "-t", str(topo))
        assert done.returncode == 0, done.stderr
        assert "using existing bridge" in done.stderr
        _journal(lab).write_bytes(b"")  # even without the journal's word on it
        assert run_cli("destroy", "-t", str(topo)).returncode == 0
        assert bridge in host_links()
        assert not [n for n in netns_names() if n.startswith(lab.prefix)]
    finally:
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)


def _chain(n: int) -> str:
    nodes = "".join(f"    n{i}: {{}}\n" for i in range(n))
    links = "".join(f'    - endpoints: ["n{i}:e{i}", "n{i + 1}:w{i + 1}"]\n'
                    for i in range(n - 1))
    return f"  nodes:\n{nodes}  links:\n{links}"


# node a's cmd runs; then z's hook pins one namespace (a second mount on it: it cannot be
# removed until that is unmounted) and fills the lab directory's filesystem: the deploy
# fails, and its rollback runs on a full disk with one object it cannot remove
FULL_DISK = """
name: LAB
topology:
  defaults: {kind: netns}
""" + _chain(60).replace("    n0: {}\n", "    n0: {cmd: sleep 3600; ':' TAG}\n") + """\
    - endpoints: ["n0:eth9", "host:hTAG-0"]
"""
HOOK = """\
    z:
      stages:
        create:
          wait-for: [{node: n0, stage: healthy}]
          exec:
            - command: sh -c 'mount --bind PIN PIN && cat /dev/zero > BASE/fill'
              target: host
"""


@pytest.fixture
def tiny_disk(lab: Lab) -> Iterator[Path]:
    base = lab.dir / "base"
    base.mkdir()
    _ip_mount = ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(base)]
    subprocess.run(_ip_mount, check=True)
    try:
        yield base
    finally:
        subprocess.run(["umount", str(base)], check=False)


def test_rollback_on_a_full_disk_removes_all_it_can_and_says_what_is_left(
        lab: Lab, tiny_disk: Path) -> None:
    pin = f"/run/netns/clab-{lab.name}-n7"
    text = FULL_DISK.replace("  links:\n", HOOK.replace("PIN", pin).replace(
        "BASE", str(tiny_disk)) + "  links:\n", 1)
    topo = lab.write(text)
    env = {"CLAB_LABDIR_BASE": str(tiny_disk)}
    try:
        failed = run_cli("deploy", "-t", str(topo), env=env, timeout=300)
        assert failed.returncode == 1, failed.stderr
        assert "Traceback" not in failed.stderr
        assert f"clab-{lab.name}-n7" in failed.stderr
        assert "run `netknit destroy` again" in failed.stderr
        # everything else is gone: 59 namespaces, the host link, n0's cmd
        assert lab.leftovers() == [f"netns clab-{lab.name}-n7"], failed.stderr
    finally:
        subprocess.run(["umount", pin], check=False)
    # the disk is still full: destroy finds the last one by its mark all the same
    gone = run_cli("destroy", "-t", str(topo), env=env)
    assert gone.returncode == 0, gone.stderr
    assert lab.leftovers() == []


def test_destroy_tries_every_object_and_lists_what_it_could_not_remove(lab: Lab) -> None:
    topo = _deployed(lab)
    pin = f"/run/netns/clab-{lab.name}-b"
    subprocess.run(["mount", "--bind", pin, pin], check=True)  # b cannot be removed now
    try:
        stuck = run_cli("destroy", "-t", str(topo))
        assert stuck.returncode == 1, stuck.stderr
        assert "Traceback" not in stuck.stderr
        assert f"namespace clab-{lab.name}-b" in stuck.stderr
        assert "run `netknit destroy` again" in stuck.stderr
        assert lab.leftovers() == [f"netns clab-{lab.name}-b"]
    finally:
        subprocess.run(["umount", pin], check=False)
    gone = run_cli("destroy", "-t", str(topo))
    assert gone.returncode == 0, gone.stderr
    assert lab.leftovers() == []
