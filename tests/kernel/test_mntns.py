"""A node's own mount and UTS namespaces, at the kernel layer: kept by mounts in a
private directory, none held by another node's view, all gone after remove."""

from __future__ import annotations

import os
import subprocess
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
