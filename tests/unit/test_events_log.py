"""The repair log `netknit events` follows, and how its records become events: found
before repaired, a failed repair said once per drift, a rotated log followed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netknit.engine import _repairlog as repairlog
from netknit.engine._events import LabEvent, Tracker
from netknit.engine._reconcile import Drift, What
from netknit.state import LabDir


def _drift(node: str, iface: str, status: str) -> Drift:
    return Drift(node, f"{iface} down", "set up", status, what=What.DOWN, iface=iface)


def _lab(tmp_path: Path) -> LabDir:
    lab_dir = LabDir(tmp_path / "clab-t")
    lab_dir.open(".netknit", create=True).close()
    return lab_dir


def test_a_repair_is_logged_found_first_and_a_tail_sees_only_what_follows(
        tmp_path: Path) -> None:
    lab_dir = _lab(tmp_path)
    repairlog.append(lab_dir, [{"action": "found", "node": "old"}])  # before the tail
    tail = repairlog.Tail(lab_dir)
    drifts = [_drift("a", "eth1", "planned"), _drift("b", "eth2", "planned")]
    repairlog.log_repair(lab_dir, drifts, done=False)
    drifts[0].status, drifts[1].status = "repaired", "failed: no such device"
    repairlog.log_repair(lab_dir, drifts, done=True)
    got = [(r["action"], r["node"], r["iface"]) for r in tail.read()]
    assert got == [("found", "a", "eth1"), ("found", "b", "eth2"),
                   ("repaired", "a", "eth1"), ("failed", "b", "eth2")]
    assert tail.read() == []
    tail.close()


def test_a_rotated_log_is_followed(tmp_path: Path, monkeypatch: Any) -> None:
    lab_dir = _lab(tmp_path)
    tail = repairlog.Tail(lab_dir)  # no log yet: it is found once written
    monkeypatch.setattr(repairlog, "MAX_BYTES", 200)
    got = []
    for n in range(10):  # rotated every other record; read as events polls, in between
        repairlog.append(lab_dir, [{"action": "found", "node": f"n{n}", "pad": "x" * 50}])
        got += [r["node"] for r in tail.read()]
    assert got == [f"n{n}" for n in range(10)]
    assert (lab_dir.meta / "repairs.jsonl.1").exists()
    tail.close()


def test_records_become_drift_events_once_each(tmp_path: Path) -> None:
    seen: list[LabEvent] = []
    tracker = Tracker("t", _lab(tmp_path), seen.append)
    base = {"node": "a", "iface": "eth1", "found": "eth1 down", "repair": "set up"}
    for action in ("found", "found", "failed", "found", "repaired"):
        tracker.repair_record({**base, "action": action, "time": 1.5,
                               "status": "failed: busy" if action == "failed" else ""})
    # a repaired record whose found was not seen (events started late) says both
    tracker.repair_record({**base, "iface": "eth2", "found": "eth2 down", "action": "repaired"})
    got = [(e.action, e.attributes["node"], e.attributes["ifname"]) for e in seen]
    assert got == [("found", "a", "eth1"), ("repair-failed", "a", "eth1"),
                   ("repaired", "a", "eth1"), ("found", "a", "eth2"), ("repaired", "a", "eth2")]
    assert seen[1].attributes["error"] == "busy"
    assert seen[0].to_json()["timestamp"] == "1970-01-01T00:00:01.5Z"
    assert seen[0].to_json()["attributes"]["name"] == "a"  # no state: the node's name
