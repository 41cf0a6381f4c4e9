"""The journal and atomic files: what destroy relies on after a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netknit import StateError
from netknit.state import Effect, Journal, read_json, write_json_atomic


def test_intent_done_removed(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.jsonl")
    a, b = Effect("netns", "x"), Effect("link", "eth1", "x")
    j.intend([a, b])
    a.info["inode"] = 42
    j.done([a])
    state = j.read()
    assert [e.key for e in state.live()] == [a.key, b.key]
    assert state.effects[a.key].done and state.effects[a.key].info["inode"] == 42
    assert not state.effects[b.key].done  # an intent alone still counts: it may exist
    j.removed([a.key])
    assert [e.key for e in j.read().live()] == [b.key]


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    j = Journal(path)
    j.intend([Effect("netns", "x")])
    with open(path, "a") as f:
        f.write('{"op":"intent","kind":"netns","na')  # a crash mid-append
    assert [e.name for e in j.read().live()] == ["x"]


def test_atomic_write_replaces_whole(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2})
    assert read_json(target) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp files left


def _lines(path: Path) -> list[dict[str, object]]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.decode().splitlines()]


def test_append_after_a_torn_tail_cuts_it_first(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    j = Journal(path)
    j.intend([Effect("netns", "x")])
    with open(path, "ab") as f:
        f.write(b'{"op":"intent","kind":"netns","na')  # a crash mid-append
    j.intend([Effect("netns", "y")])  # e.g. reconcile, after the crash
    assert [e.name for e in j.read().live()] == ["x", "y"]
    assert [r["name"] for r in _lines(path)] == ["x", "y"]  # every line whole


def test_non_utf8_bytes_are_a_corrupt_line_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    j = Journal(path)
    j.intend([Effect("netns", "x")])
    with open(path, "ab") as f:
        f.write(b"\xff\xfe\x80 not text\n")
    j.intend([Effect("netns", "y")])
    with pytest.raises(StateError, match=r"j.jsonl:2: journal is corrupt") as err:
        j.read()
    assert err.value.hint
    with open(path, "r+b") as f:  # the same bytes as a torn last line: ignored
        f.truncate(len(b'{"op":"intent","kind":"netns","name":"x","ns":null,"info":{}}\n'))
        f.seek(0, 2)
        f.write(b"\xff\xfe\x80")
    assert [e.name for e in j.read().live()] == ["x"]


@pytest.mark.parametrize("line", [b"[1, 2]", b'{"op": "intent"}', b'"text"', b"{}{"])
def test_a_line_that_is_no_record_is_corrupt(tmp_path: Path, line: bytes) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(line + b"\n")
    path.chmod(0o600)
    with pytest.raises(StateError, match="journal is corrupt"):
        Journal(path).read()


def test_only_records_of_what_survives_a_reboot_are_fsynced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Namespaces and links die with the kernel, so their records need no fsync (a killed
    process loses nothing written); a container, a file or a marker does not."""
    import os

    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    j = Journal(tmp_path / "j.jsonl")
    volatile = [Effect("netns", "x"), Effect("link", "eth1", "x"), Effect("process", "p")]
    j.intend(volatile)
    j.done(volatile)
    j.removed([e.key for e in volatile])
    assert synced == []
    for write in (lambda: j.intend([Effect("netns", "y"), Effect("container", "c")]),
                  lambda: j.done([Effect("file", "/tmp/f")]),
                  lambda: j.removed([Effect("network", "n").key]),
                  lambda: j.mark("deployed")):
        synced.clear()
        write()
        assert len(synced) == 1
    # every record is there, whatever was fsynced
    assert {e.key for e in j.read().effects.values()} >= {"netns::y", "container::c"}
