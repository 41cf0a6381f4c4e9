"""A full disk and a damaged journal: journal lines are written whole or not at all, the
user is told the disk is full and what to do, and nothing ever ends in a traceback.

The full disk is a real one: a small tmpfs mounted for the test (never the machine's)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from netknit import StateError
from netknit.state import Effect, Journal

from .conftest import Lab, netns_names, run_cli

PAGE = 4096


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mount)],
                   check=True, capture_output=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True, capture_output=True)


def fill(fs: Path, leave_pages: int = 0) -> Path:
    """Fill ``fs`` up, then free ``leave_pages`` pages again."""
    filler = fs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * PAGE):
                pass
    finally:
        os.close(fd)
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - size % PAGE - leave_pages * PAGE))
    return filler


def _whole_lines(path: Path) -> list[object]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), data[-80:]
    return [json.loads(line) for line in data.decode().splitlines()]


def test_an_append_on_a_full_disk_is_whole_or_nothing(tiny_fs: Path) -> None:
    path = tiny_fs / "j.jsonl"
    journal = Journal(path)
    n = 0
    while path.exists() is False or path.stat().st_size < PAGE - 300:
        journal.intend([Effect("netns", f"ns{n}")])
        n += 1
    before = path.read_bytes()
    filler = fill(tiny_fs)
    many = [Effect("netns", f"more{i}", info={"pad": "x" * 40}) for i in range(20)]
    with pytest.raises(StateError, match="disk is full") as err:
        journal.intend(many)  # crosses into a page the disk does not have
    assert "free space" in (err.value.hint or "")
    assert path.read_bytes() == before  # not a byte of the failed lines is left
    filler.unlink()
    journal.intend(many)
    assert len(_whole_lines(path)) == n + 20
    assert [e.name for e in journal.read().live()][-1] == "more19"


CHAIN = """
name: LAB
topology:
  nodes:
{nodes}
  links:
{links}
"""


def _chain(size: int) -> str:
    nodes = "\n".join(f"    n{i}: {{kind: netns}}" for i in range(size))
    links = "\n".join(f'    - endpoints: ["n{i}:eth1", "n{i + 1}:eth2"]' for i in range(size - 1))
    return CHAIN.format(nodes=nodes, links=links)


def test_deploy_on_a_full_disk_says_so_and_leaves_whole_lines(lab: Lab, tiny_fs: Path) -> None:
    topo = lab.write(_chain(20))
    env = {"CLAB_LABDIR_BASE": str(tiny_fs / "labs")}
    lab_dir = tiny_fs / "labs" / f"clab-{lab.name}"
    outcomes = []
    for pages in range(0, 8):  # from no room at all to room for part of the journal
        filler = fill(tiny_fs, pages)
        deployed = run_cli("deploy", "-t", str(topo), env=env)
        assert "Traceback" not in deployed.stderr
        outcomes.append(deployed.returncode)
        if deployed.returncode != 0:
            assert "the disk is full" in deployed.stderr, deployed.stderr
            assert "free space" in deployed.stderr
        journal = lab_dir / ".netknit" / "journal.jsonl"
        if journal.exists():
            _whole_lines(journal)
        filler.unlink()
        gone = run_cli("destroy", "-t", str(topo), "--cleanup", env=env)
        assert gone.returncode == 0, gone.stderr
        assert not any(n.startswith(lab.prefix) for n in netns_names())
        assert not lab_dir.exists()
    assert outcomes[0] == 1  # the disk was full: refused before anything was made
    assert 1 in outcomes[1:]  # and some deploys ran out of room half-way


def test_a_journal_with_bytes_that_are_not_text_gives_a_clear_error(lab: Lab) -> None:
    topo = lab.write(_chain(2))
    assert run_cli("deploy", "-t", str(topo)).returncode == 0
    journal = lab.dir / f"clab-{lab.name}" / ".netknit" / "journal.jsonl"
    good = journal.read_bytes()
    first = good.index(b"\n") + 1
    journal.write_bytes(good[:first] + b"\xff\xfe\x80\x81 garbage\n" + good[first:])
    # destroy says which line is broken, and still removes the lab by its mark
    broken = run_cli("destroy", "-t", str(topo))
    assert broken.returncode == 0, broken.stderr
    assert "Traceback" not in broken.stderr
    assert "journal.jsonl:2: journal is corrupt" in broken.stderr
    assert not any(n.startswith(lab.prefix) for n in netns_names())
    assert run_cli("deploy", "-t", str(topo)).returncode == 0
    good = journal.read_bytes()
    # the same bytes as a torn last line (a crash mid-append) are no obstacle
    journal.write_bytes(good + b"\xff\xfe\x80")
    gone = run_cli("destroy", "-t", str(topo))
    assert gone.returncode == 0, gone.stderr
    assert not any(n.startswith(lab.prefix) for n in netns_names())


def test_the_tiny_filesystem_really_fills(tiny_fs: Path) -> None:
    """The premise of the tests above: writes past the filler fail with ENOSPC."""
    fill(tiny_fs)
    with pytest.raises(OSError) as err, open(tiny_fs / "more", "wb") as f:
        f.write(b"x" * PAGE)
        f.flush()
    assert err.value.errno == errno.ENOSPC
