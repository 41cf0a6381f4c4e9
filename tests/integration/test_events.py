"""`netknit events`: faults made by hand in the kernel come out as events, in order, in
JSON; with `watch` running, each drift is followed by its repair."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .conftest import Lab, run_cli
from .test_reconcile import LAB, ip
from .test_reconcile import _wait_in_sync as wait_in_sync

Event = dict[str, Any]
Match = Callable[[Event], bool]


def ev(kind: str, action: str, node: str | None = None, ifname: str | None = None,
       **attrs: str) -> Match:
    """An event of that type and action (about that node and interface; attributes
    containing those words)."""
    def match(e: Event) -> bool:
        a = e["attributes"]
        return e["type"] == kind and e["action"] == action and \
            (node is None or a.get("node") == node) and \
            (ifname is None or a.get("ifname") == ifname) and \
            all(v in a.get(k, "") for k, v in attrs.items())
    return match


class Stream:
    """`netknit events` running beside the test, its JSON lines collected as they come."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "netknit", "events", "-f", "json",
                                      *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.events: list[Event] = []
        self.lines: list[str] = []
        self.seen = 0  # events before this index came before the current step
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            self.events.append(json.loads(line))  # every line is one JSON object

    def step(self) -> None:
        """What follows is about a new step (a fault made now)."""
        self.seen = len(self.events)

    def expect(self, *sequence: Match, timeout: float = 30.0) -> list[Event]:
        """Wait until ``sequence`` has appeared, in this order, among the events of the
        current step (other events may come between); returns them."""
        deadline = time.monotonic() + timeout
        while True:
            found, at = [], self.seen
            for match in sequence:
                at = next((i for i in range(at, len(self.events))
                           if match(self.events[i])), -1)
                if at < 0:
                    break
                found.append(self.events[at])
                at += 1
            if len(found) == len(sequence):
                return found
            if time.monotonic() > deadline or self.proc.poll() is not None:
                shown = "\n".join(_short(e) for e in self.events[self.seen:])
                raise AssertionError(f"expected {len(sequence)} events in order, matched "
                                     f"{len(found)}; events since the last step:\n{shown}")
            time.sleep(0.05)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)  # our own child, by pid
        _out, err = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, err
        return err


def _short(e: Event) -> str:
    a = e["attributes"]
    return (f"{e['type']} {e['action']} node={a.get('node')} if={a.get('ifname')} "
            f"change={a.get('change', '')} found={a.get('found', '')}")


@contextmanager
def watching(topo: str) -> Iterator[None]:
    """`netknit watch` running (it has said it watches) until the block ends."""
    watcher = subprocess.Popen([sys.executable, "-m", "netknit", "watch", "-t", topo],
                               stderr=subprocess.PIPE, text=True)
    assert watcher.stderr is not None
    lines = [watcher.stderr.readline()]
    assert "watching lab" in lines[0], lines
    reader = threading.Thread(target=lambda: lines.extend(watcher.stderr or ()), daemon=True)
    reader.start()
    try:
        yield
    finally:
        watcher.send_signal(signal.SIGTERM)  # our own child, by pid
        watcher.wait(timeout=30)
        reader.join(timeout=10)
        assert watcher.returncode == 0, "".join(lines)


@contextmanager
def streaming(*args: str) -> Iterator[Stream]:
    stream = Stream(*args)
    try:
        yield stream
    finally:
        if stream.proc.poll() is None:
            stream.stop()


def test_faults_come_out_in_order_with_their_repairs_while_watch_runs(lab: Lab) -> None:
    topo = str(lab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    with watching(topo), streaming("-t", topo, "--initial-state") as events:
        events.expect(ev("node", "running", "c", origin="snapshot"))  # it listens now

        # each fault: what the kernel did, the drift the watcher found, its repair (the
        # repair's own interface events may come before or after its `repaired`)
        faults = [
            (("a", "link", "set", "eth1", "down"),
             ev("interface", "update", "a", "eth1", change="down"),
             ev("drift", "found", "a", "eth1", found="down"),
             ev("interface", "update", "a", "eth1", change="up")),
            (("b", "addr", "del", "10.5.0.2/24", "dev", "eth1"),
             ev("address", "delete", "b", "eth1", address="10.5.0.2/24"),
             ev("drift", "found", "b", "eth1", found="lacks 10.5.0.2/24"),
             ev("address", "add", "b", "eth1", address="10.5.0.2/24")),
            (("c", "link", "del", "eth1"),  # its peer a:eth2 dies with it
             ev("interface", "delete", "c", "eth1"),
             ev("drift", "found", found="missing"),
             ev("interface", "create", "c", "eth1")),
        ]
        for (node, *command), kernel, drift, back in faults:
            events.step()
            ip(lab, node, *command)
            found = events.expect(kernel, drift)[1]["attributes"]
            events.expect(kernel, drift, ev("drift", "repaired", found["node"],
                                            found.get("ifname")))
            events.expect(kernel, back)
            wait_in_sync(topo)

        events.step()
        subprocess.run(["ip", "netns", "del", f"clab-{lab.name}-b"], check=True)
        # events and the watcher each notice the namespace go: either may speak first
        events.expect(ev("drift", "found", "b", found="namespace missing"),
                      ev("drift", "repaired", "b"))
        events.expect(ev("interface", "create", "b", "eth1"))
        # its namespace gone, then made again: seen as such, or (when the repair was
        # quicker than events' next look) as replaced
        got = [e for e in events.events[events.seen:]
               if e["type"] == "node" and e["attributes"]["node"] == "b"]
        assert [e["action"] for e in got] in (["stop", "start"], ["restart"]), got
        # every event names the lab, its node and (an interface's) the interface
        assert all(e["attributes"]["lab"] == lab.name for e in events.events)
        assert got[0]["actor_name"] == f"clab-{lab.name}-b"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", got[0]["timestamp"])
        assert set(got[0]) == {"timestamp", "type", "action", "actor_id", "actor_name",
                               "actor_full_id", "attributes"}  # containerlab's keys
        events.stop()
    assert run_cli("destroy", "-t", topo).returncode == 0


def test_initial_state_and_drift_seen_without_a_watcher(lab: Lab) -> None:
    topo = str(lab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    ip(lab, "a", "link", "set", "eth2", "down")  # drift before events starts
    with streaming("-t", topo, "--initial-state") as events:
        first = events.expect(ev("node", "running", "a", origin="snapshot"),
                              ev("interface", "snapshot", "a", "eth1", origin="snapshot"),
                              ev("interface", "snapshot", "a", "eth2", drift="down"))
        assert first[1]["attributes"]["addresses"].startswith("10.5.0.1/24")
        assert first[1]["attributes"]["state"] == "up"
        shown = {(e["attributes"]["node"], e["attributes"]["ifname"]) for e in events.events
                 if e["action"] == "snapshot"}
        assert {("b", "eth1"), ("b", "eth2"), ("c", "eth1"), (f"br{lab.tag}",
                                                                f"p{lab.tag}-b")} <= shown
        events.expect(ev("drift", "found", "a", "eth2", origin="snapshot"))
        # no watcher: events looks for drift itself, and `reconcile` logs its repair
        events.step()
        ip(lab, "b", "link", "set", "eth2", "mtu", "1400")
        events.expect(ev("interface", "update", "b", "eth2", change="mtu"),
                      ev("drift", "found", "b", "eth2", found="mtu 1400", origin="check"))
        events.step()
        assert run_cli("reconcile", "-t", topo).returncode == 0
        events.expect(ev("drift", "repaired", "a", "eth2"))
        events.expect(ev("drift", "repaired", "b", "eth2"))
        # a drift that goes away without a repair is said to be cleared
        events.step()
        ip(lab, "c", "link", "set", "eth1", "down")
        events.expect(ev("drift", "found", "c", "eth1", found="down"))
        ip(lab, "c", "link", "set", "eth1", "up")
        events.expect(ev("drift", "cleared", "c", "eth1"))
        events.stop()
    assert run_cli("destroy", "-t", topo).returncode == 0


def test_plain_format_is_one_line_per_event_as_containerlab(lab: Lab) -> None:
    topo = str(lab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "netknit", "events", "-t", topo,
                             "--initial-state"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGTERM)  # our own child, by pid
        proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert re.fullmatch(rf"\S+Z node running clab-{lab.name}-a \(lab={lab.name}, "
                        rf"name=clab-{lab.name}-a, .*node=a, origin=snapshot, .*\)\n", line)
    assert run_cli("destroy", "-t", topo).returncode == 0


def test_events_of_a_lab_that_is_not_deployed_is_a_clear_error(lab: Lab) -> None:
    topo = str(lab.write(LAB))
    done = run_cli("events", "-t", topo)
    assert done.returncode != 0
    assert "not deployed" in done.stderr and "Traceback" not in done.stderr
