"""A node's own mount and UTS namespaces, at the kernel layer: kept by mounts in a
private directory, none held by another node's view, all gone after remove."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netknit.kernel import _mntns as mntns
from netknit.kernel import netns

pytestmark = pytest.mark.root


def _points() -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return [line for line in f if line.strip()]


def _in_node(ns: netns.Namespace, argv: list[str]) -> str:
    proc = mntns.run_in(ns.fd, ns.name, lambda: subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    return proc.communicate(timeout=30)[0].decode()


def test_views_are_kept_privately_and_removed_without_trace(tag: str, tmp_path: Path) -> None:
    names = [f"nkt-{tag}-v{i}" for i in (1, 2)]
    (tmp_path / "run").mkdir()
    (tmp_path / "f").write_text("mine\n")
    opened = []
    try:
        for i, name in enumerate(names):
            ns = netns.create(name, f"test {tag}")
            opened.append(ns)
            run = tmp_path / f"run{i}"
            run.mkdir()
            mntns.create(name, f"h{i}-{tag}", [
                mntns.Mount(str(run), "/run", private=True),
                mntns.Mount(str(tmp_path / "f"), f"/etc/nkt-{tag}/f", readonly=True),
            ], str(tmp_path / f"scratch{i}"))
        # the holder directory propagates nowhere (a shared one would loop the kernel)
        holder = [line for line in _points() if line.split()[4] == mntns.HOLDER_DIR]
        assert holder and "shared:" not in holder[-1] and "master:" not in holder[-1]
        for i, ns in enumerate(opened):
            inside = _in_node(ns, ["sh", "-c", f"hostname; cat /etc/nkt-{tag}/f; "
                                   "cat /proc/self/mountinfo"])
            lines = inside.split("\n")
            assert lines[:2] == [f"h{i}-{tag}", "mine"], inside
            # no node's view holds a node's namespace (its own included)
            assert "nsfs" not in inside, inside
        assert not os.path.exists(f"/etc/nkt-{tag}")
        assert (tmp_path / "scratch0" / "etc" / "upper" / f"nkt-{tag}").is_dir()
    finally:
        for ns in opened:
            ns.close()
        for name in names:
            mntns.remove(name)
            netns.delete(name)
    assert [line for line in _points() if any(n in line for n in names)] == []
    assert not any(os.path.lexists(p) for n in names for p in mntns.holder_paths(n))
    assert mntns.remove(names[0]) is False  # twice: nothing to do


INSIDE = """
import sys
from netknit.kernel import _mntns as mntns, netns
made = 0
for i in range(20):
    name = f"nkt-{sys.argv[1]}-w{i}"
    ns = netns.create(name, "test")
    try:
        mntns.create(name, f"w{i}", [], sys.argv[2] + f"/s{i}")
        made += mntns.has_view(name)
    finally:
        ns.close()
        mntns.remove(name)
        netns.delete(name)
print(made)
"""


def test_views_are_kept_from_inside_a_mount_namespace_of_its_own(tag: str,
                                                                 tmp_path: Path) -> None:
    # netknit itself run in a mount namespace newer than the node views it makes (a
    # test's private machine, a container): the kernel's loop guard refused to keep
    # most of those views ("Invalid argument"), as their ids came from other CPUs' batches
    setup = ("mount -t tmpfs tmpfs /run/netns && mount --make-shared /run/netns && "
             "mkdir -p /run/netknit && mount -t tmpfs tmpfs /run/netknit && "
             'exec "$0" -c "$1" "$2" "$3"')
    done = subprocess.run(
        ["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", setup,
         sys.executable, INSIDE, tag, str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "20", done.stderr
