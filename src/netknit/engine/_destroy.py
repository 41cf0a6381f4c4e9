"""Destroy: remove exactly what the journal says exists — also after a crash."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .._errors import NetknitError, StateError
from ..kernel import Netlink, delete_links, links
from ..runtimes import NetnsRuntime, Runtime, Workload
from ..state import Effect, LabDir
from ._devices import HOST_DEVICE_KINDS, move_home
from ._report import Reporter, SilentReporter


@dataclass
class DestroyResult:
    lab: str
    lab_dir: LabDir
    removed: dict[str, int]  # effect kind -> how many were removed
    nothing_to_do: bool = False
    seconds: float = 0.0


def undo_journal(lab_dir: LabDir, runtime: Runtime, report: Reporter) -> dict[str, int]:
    """Remove every live effect of the journal, newest first by kind. Caller holds the lock."""
    journal = lab_dir.journal
    live = journal.read().live()
    counts: dict[str, int] = {}

    def gone(effects: list[Effect]) -> None:
        journal.removed(e.key for e in effects)
        for e in effects:
            counts[e.kind] = counts.get(e.kind, 0) + 1

    by_kind: dict[str, list[Effect]] = {}
    for e in reversed(live):
        by_kind.setdefault(e.kind, []).append(e)

    # containers first: links inside their namespaces go with them
    from ._docker import undo_docker

    undo_docker(lab_dir.path, live, report, gone)
    processes = by_kind.get("process", [])
    if processes:
        report.step("stop processes", len(processes))
        for e in processes:
            pidfile = Path(e.info["pidfile"])
            if not e.done:
                # a deploy died around the spawn: give a supervisor that is just starting
                # the moment it needs to write its pid file
                deadline = time.monotonic() + 1.0
                while not pidfile.exists() and time.monotonic() < deadline:
                    time.sleep(0.02)
            runtime.stop(Workload(str(pidfile), int(e.info.get("pid", 0)), e.info.get("start")))
            report.advance()
        gone(processes)

    with Netlink.here() as host:
        host_links = [e for e in by_kind.get("link", []) if e.ns is None]
        if host_links:
            present = {link.name: link for link in links(host)}
            ours = [e.name for e in host_links
                    if e.name in present and present[e.name].kind in HOST_DEVICE_KINDS]
            delete_links(host, ours)
        # host devices go home before their namespaces go (a virtual one would die there)
        hostdevs = by_kind.get("hostdev", [])
        if hostdevs:
            report.step("host devices", len(hostdevs))
            for e in hostdevs:
                move_home(host, e)
                report.advance()
            gone(hostdevs)
        namespaces = by_kind.get("netns", [])
        report.step("namespaces", len(namespaces))
        for e in namespaces:
            runtime.remove(e.name, e.info.get("inode"))
            report.advance()
        # links inside a removed namespace went with it
        gone(by_kind.get("link", []))
        gone(namespaces)
        bridges = by_kind.get("bridge", [])
        if bridges:
            present = {link.name: link for link in links(host)}
            mine = []
            for e in bridges:
                link = present.get(e.name)
                if link is None or link.kind != "bridge":
                    continue
                if e.info.get("ifindex") not in (None, link.index):
                    continue  # same name, another bridge: not ours to delete
                mine.append(e.name)
            delete_links(host, mine)
            gone(bridges)
    return counts


def destroy(lab: str, lab_dir: LabDir, *, cleanup: bool = False,
            runtime: Runtime | None = None, reporter: Reporter | None = None) -> DestroyResult:
    """Remove a lab. Idempotent: destroying a lab that is not there succeeds."""
    started = time.monotonic()
    report = reporter or SilentReporter()
    runtime = runtime or NetnsRuntime()
    result = DestroyResult(lab, lab_dir, {})
    if not lab_dir.exists():
        result.nothing_to_do = True
        return result
    try:
        with lab_dir.lock(lab, "destroy") as held:
            journal = lab_dir.journal
            if not journal.exists():
                result.nothing_to_do = True
            else:
                result.removed = undo_journal(lab_dir, runtime, report)
                journal.discard()
                lab_dir.remove_state()
            if cleanup:
                held.remove()  # under the lock: a deploy that waits starts over
    except NetknitError:
        raise
    except OSError as exc:
        raise StateError(f"destroy of {lab!r} failed: {exc}",
                         hint="run destroy again; it resumes where it stopped") from exc
    result.seconds = time.monotonic() - started
    return result
