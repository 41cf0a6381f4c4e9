"""The journal and atomic files: what destroy relies on after a crash."""

from __future__ import annotations

from pathlib import Path

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
