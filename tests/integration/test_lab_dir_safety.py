"""The lab directory cannot be turned against root: netknit never follows a symbolic
link planted in it, never uses a directory another user owns or may write to, and makes
the same modes whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Lab, netns_names, run_cli

NOBODY = 65534

LAB = """
name: LAB
topology:
  nodes:
    a: {kind: netns, cmd: "sleep 3600; : TAG"}
    b: {kind: netns}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.3.0.1/24", "10.3.0.2/24"]
"""


def _refused(lab: Lab, result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 1, result.stderr
    assert words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "hint:" in result.stderr
    assert not any(n.startswith(lab.prefix) for n in netns_names())  # nothing was made


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A root-only file that a planted symbolic link points at."""
    home = tmp_path / "root-only"
    home.mkdir(mode=0o700)
    path = home / "victim"
    path.write_text("root's secret\n")
    path.chmod(0o600)
    return path


def _trusted_dirs(lab: Lab, *parts: str) -> Path:
    """Directories as netknit makes them (root's, mode 0755), ready to plant in."""
    path = lab.dir / f"clab-{lab.name}"
    path.mkdir(mode=0o755)
    for part in parts:
        path = path / part
        path.mkdir(mode=0o755)
    return path


@pytest.mark.parametrize("planted", [".lock", ".netknit/journal.jsonl", "a/cmd.log", "a",
                                     ".netknit"])
def test_a_planted_symlink_is_never_followed(lab: Lab, victim: Path, planted: str) -> None:
    topo = lab.write(LAB)
    *parents, name = planted.split("/")
    where = _trusted_dirs(lab, *parents) / name
    where.symlink_to(victim.parent if name in ("a", ".netknit") else victim)
    result = run_cli("deploy", "-t", str(topo))
    _refused(lab, result, "is a symbolic link: refusing to follow it")
    assert victim.read_text() == "root's secret\n"  # neither truncated nor appended to
    assert os.listdir(victim.parent) == ["victim"]  # nothing written through a link
    assert where.is_symlink()  # and left alone


@pytest.mark.parametrize("planted", [".netknit/state.json", "a/cmd.pid.json"])
def test_a_planted_symlink_is_replaced_not_followed(lab: Lab, victim: Path,
                                                    planted: str) -> None:
    """Files written whole (temp file + rename) replace a link without following it."""
    topo = lab.write(LAB)
    *parents, name = planted.split("/")
    where = _trusted_dirs(lab, *parents) / name
    where.symlink_to(victim)
    result = run_cli("deploy", "-t", str(topo))
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "root's secret\n"
    assert os.listdir(victim.parent) == ["victim"]
    assert not where.is_symlink() and where.is_file()


def test_destroy_cleanup_removes_planted_links_not_what_they_point_at(
        lab: Lab, victim: Path) -> None:
    topo = lab.write(LAB)
    assert run_cli("deploy", "-t", str(topo)).returncode == 0
    lab_dir = lab.dir / f"clab-{lab.name}"
    deep = lab_dir / "a" / "deep" / "deeper"
    deep.mkdir(parents=True)
    (lab_dir / "a" / "escape").symlink_to(victim.parent)  # a directory's link
    (deep / "file-link").symlink_to(victim)
    result = run_cli("destroy", "-t", str(topo), "--cleanup")
    assert result.returncode == 0, result.stderr
    assert not lab_dir.exists() and not lab_dir.is_symlink()
    assert victim.read_text() == "root's secret\n"
    assert os.listdir(victim.parent) == ["victim"]
    assert lab.leftovers() == []


def test_a_lab_dir_owned_by_another_user_is_refused(lab: Lab) -> None:
    topo = lab.write(LAB)
    lab_dir = _trusted_dirs(lab)
    os.chown(lab_dir, NOBODY, NOBODY)
    _refused(lab, run_cli("deploy", "-t", str(topo)), f"belongs to uid {NOBODY}")
    assert sorted(os.listdir(lab_dir)) == []  # not even a lock file
    _refused(lab, run_cli("destroy", "-t", str(topo)), f"belongs to uid {NOBODY}")


@pytest.mark.parametrize("sub", [".netknit", "a"])
def test_a_directory_inside_owned_by_another_user_is_refused(lab: Lab, sub: str) -> None:
    topo = lab.write(LAB)
    inside = _trusted_dirs(lab, sub)
    os.chown(inside, NOBODY, NOBODY)
    _refused(lab, run_cli("deploy", "-t", str(topo)), f"belongs to uid {NOBODY}")


@pytest.mark.parametrize("mode", [0o775, 0o757, 0o1777])
def test_a_lab_dir_writable_by_others_is_refused(lab: Lab, mode: int) -> None:
    topo = lab.write(LAB)
    lab_dir = _trusted_dirs(lab)
    lab_dir.chmod(mode)
    _refused(lab, run_cli("deploy", "-t", str(topo)), "writable by group or others")


def _modes(lab_dir: Path) -> dict[str, str]:
    return {str(p.relative_to(lab_dir)): oct(stat.S_IMODE(p.lstat().st_mode))
            for p in [lab_dir, *sorted(lab_dir.rglob("*"))] if not p.name.endswith(".txt")}


def test_modes_are_the_same_whatever_the_umask(lab: Lab) -> None:
    topo = lab.write(LAB)
    seen = []
    for umask in (0o000, 0o077, 0o022):
        deployed = subprocess.run([sys.executable, "-m", "netknit", "deploy", "-t", str(topo)],
                                  capture_output=True, text=True, umask=umask, check=False)
        assert deployed.returncode == 0, deployed.stderr
        # b has no cmd: its view is made by its first process, here an exec under this umask
        entered = subprocess.run([sys.executable, "-m", "netknit", "exec", "-t", str(topo),
                                  "--node", "b", "--cmd", "true"],
                                 capture_output=True, text=True, umask=umask, check=False)
        assert entered.returncode == 0, entered.stderr
        seen.append(_modes(lab.dir / f"clab-{lab.name}"))
        assert run_cli("destroy", "-t", str(topo), "--cleanup").returncode == 0
    assert seen[0] == seen[1] == seen[2]
    assert seen[0] == {
        ".": "0o755", ".lock": "0o644", ".netknit": "0o700",
        ".netknit/journal.jsonl": "0o600", ".netknit/state.json": "0o600",
        "a": "0o755", "a/cmd.log": "0o644", "a/cmd.pid.json": "0o644",
        # each netns node's own view (made when its first process starts): its /run,
        # /etc/hostname and /etc/hosts
        **{f"{node}{path}": mode for node in "ab" for path, mode in (
            ("", "0o755"), ("/fs", "0o755"), ("/fs/run", "0o755"), ("/fs/etc", "0o755"),
            ("/fs/etc/hostname", "0o644"), ("/fs/etc/hosts", "0o644"))},
        "topology-data.json": "0o644", "ansible-inventory.yml": "0o644",
        "nornir-simple-inventory.yml": "0o644", "authorized_keys": "0o644",
    }


def test_a_lab_dir_that_is_a_symlink_is_refused(lab: Lab, victim: Path) -> None:
    topo = lab.write(LAB)
    (lab.dir / f"clab-{lab.name}").symlink_to(victim.parent)
    for command in ("deploy", "destroy"):  # destroy does not call it "nothing to destroy"
        _refused(lab, run_cli(command, "-t", str(topo)), "is a symbolic link")
    assert os.listdir(victim.parent) == ["victim"]
