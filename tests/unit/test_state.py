"""The typed state: state.json and the journal keep their format on disk, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netknit import StateError
from netknit.state import Effect, EffectKind, Journal, LabDir, LabState, NodeState

#: a desired state as netknit 1 wrote it: a netns node, a Docker node, the host's side
STATE: dict[str, Any] = {
    "version": 1, "lab": "x", "host": None, "nodes": {
        "a": {"kind": "netns", "netns": "clab-x-a", "interfaces": [
            {"name": "eth1", "mac": "aa:c1:ab:00:00:01", "mtu": 9500,
             "addresses": ["10.0.0.1/24"], "peer": "d:eth1", "master": None}]},
        "d": {"kind": "linux", "netns": "clab-x-d", "interfaces": [
            {"name": "eth1", "mac": "", "mtu": 0, "addresses": [], "peer": "a:eth1",
             "master": None}],
              "runtime": "docker", "container": "clab-x-d", "sandbox": "clab-x-d-sandbox"},
        "host": {"kind": "host", "netns": None, "interfaces": [
            {"name": "veth-x", "mac": "aa:c1:ab:00:00:02", "mtu": 1500, "addresses": [],
             "peer": "a:eth2", "master": "br-x"}]},
    },
}


def test_state_round_trips_unchanged(tmp_path: Path) -> None:
    state = LabState.from_json(STATE)
    assert state.nodes["d"] == NodeState("d", "linux", "clab-x-d", state.nodes["d"].interfaces,
                                         "docker", "clab-x-d", "clab-x-d-sandbox")
    assert state.nodes["a"].runtime == "netns" and state.runtimes == {"netns", "docker"}
    lab_dir = LabDir(tmp_path / "clab-x")
    lab_dir.write_state(state)
    written = (tmp_path / "clab-x" / ".netknit" / "state.json").read_text()
    assert written == json.dumps(STATE, indent=2) + "\n"  # keys and their order as before
    assert lab_dir.read_state() == state


@pytest.mark.parametrize("bad", [[], {"version": 2, "nodes": {}}, {"nodes": {"a": {}}}])
def test_a_damaged_state_is_a_value_error(bad: Any) -> None:
    with pytest.raises(ValueError):
        LabState.from_json(bad)


def test_journal_lines_are_unchanged_by_the_enum(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    effect = Effect(EffectKind.NETNS, "clab-x-a", None, {"inode": 7})
    journal.intend([effect])
    journal.done([effect])
    assert path.read_text() == (
        '{"op":"intent","kind":"netns","name":"clab-x-a","ns":null,"info":{"inode":7}}\n'
        '{"op":"done","key":"netns::clab-x-a","info":{"inode":7}}\n')
    assert journal.read().effects["netns::clab-x-a"].kind is EffectKind.NETNS


def test_an_unknown_effect_kind_is_a_corrupt_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"op":"intent","kind":"teleporter","name":"x","ns":null,"info":{}}\n')
    with pytest.raises(StateError, match="journal is corrupt"):
        Journal(path).read()
