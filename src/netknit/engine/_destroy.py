"""Destroy: remove what the journal says exists, and whatever else carries the lab's mark.

The journal says what was made (after a crash too); the lab's mark (:mod:`._marks`) says
what is the lab's. A namespace, interface or bridge is removed only if it carries the
mark: a forged or stale journal cannot make netknit delete anything else, and a journal
that is truncated, unreadable or gone with the lab directory loses nothing, because every
marked object is found by one dump of the host's links and one look into each namespace.
Every object is tried even when others fail; what could not be removed is listed.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import NetknitError, StateError
from ..kernel import LinkInfo, Netlink, delete_by_index
from ..kernel import netns as kernel_netns
from ..runtimes import NetnsRuntime, Runtime, Workload
from ..state import Effect, LabDir
from ._devices import move_home
from ._marks import Marked, find_marked, lab_mark
from ._report import Reporter, SilentReporter


@dataclass
class DestroyResult:
    lab: str
    lab_dir: LabDir
    removed: dict[str, int]  # effect kind -> how many were removed
    nothing_to_do: bool = False
    seconds: float = 0.0


@dataclass
class UndoResult:
    """What an undo removed, and what it could not (each with the reason)."""

    removed: dict[str, int] = field(default_factory=dict)
    left: list[str] = field(default_factory=list)  # "namespace clab-x-a: <why>"
    unreadable: str = ""  # why the journal could not be read (marks were used alone)
    recorded: bool = False  # the journal listed live effects

    def count(self, kind: str, n: int = 1) -> None:
        if n:
            self.removed[kind] = self.removed.get(kind, 0) + n

    def error(self, lab: str, doing: str) -> StateError:
        """The error that lists what is left (call only when something is)."""
        shown = self.left[:20]
        more = f"\n  ... and {len(self.left) - len(shown)} more" if len(self.left) > 20 else ""
        return StateError(
            f"{doing} of lab {lab!r} left {len(self.left)} object"
            f"{'s' if len(self.left) != 1 else ''} behind:\n  " + "\n  ".join(shown) + more,
            hint="fix the cause shown, then run `netknit destroy` again: it finds what is "
            "left by the lab's mark, even if the journal lost track of it",
        )


def first_line(exc: BaseException) -> str:
    """An error's message without its hint."""
    return str(exc).split("\n", 1)[0]


def undo_journal(lab: str, lab_dir: LabDir, runtime: Runtime, report: Reporter) -> UndoResult:
    """Remove every live effect of the journal and every object carrying the lab's mark.
    Caller holds the lock (if the lab directory exists). Never raises for an object that
    cannot be removed: it goes into ``left``, and the others are still tried."""
    result = UndoResult()
    journal = lab_dir.journal
    intact = False
    try:
        state = journal.read()
        live = state.live()
        intact = "deployed" in state.markers
    except (NetknitError, OSError, ValueError) as exc:  # corrupt, non-UTF-8, unreadable
        live = []
        result.unreadable = first_line(exc)
        report.note(f"the journal cannot be read ({result.unreadable}): "
                    "removing what carries the lab's mark")
    recorded = result.recorded = bool(live)
    unrecorded: list[str] = []

    def gone(effects: Iterable[Effect]) -> None:
        """Record removals; a full disk must not stop the removals themselves (a later
        destroy finds by the mark what this journal still lists)."""
        keys = [e.key for e in effects]
        if not keys or not recorded:
            return
        try:
            journal.removed(keys)
        except (OSError, StateError) as exc:  # StateError: the journal's "disk is full"
            if not unrecorded:
                report.note(f"could not record removals in the journal ({first_line(exc)})")
            unrecorded.extend(keys)

    def each(kind: str, effects: list[Effect], remove: Callable[[Effect], object]) -> None:
        """Remove one by one, each tried whatever happened to the others."""
        done = []
        for e in effects:
            try:
                remove(e)
                done.append(e)
            except Exception as exc:  # each is tried; a malformed record (KeyError) too
                result.left.append(f"{kind} {e.name}: {first_line(exc)}")
            report.advance()
        gone(done)
        result.count(kind, len(done))

    by_kind: dict[str, list[Effect]] = {}
    for e in reversed(live):
        by_kind.setdefault(e.kind, []).append(e)

    # containers first: links inside their namespaces go with them
    from ._docker import docker_leftovers, undo_docker

    def docker_gone(effects: list[Effect]) -> None:
        gone(effects)
        for e in effects:
            result.count(e.kind)

    try:
        # a journal that does not end with its deploy (lost, cut short, or a deploy that
        # did not finish) may have lost containers: the lab's label finds them
        docker = live if intact else live + docker_leftovers(lab_dir.path, live, report)
        undo_docker(lab_dir.path, docker, report, docker_gone)
    except Exception as exc:  # also the engine API's own error types
        result.left.append(f"containers: {first_line(exc)}")

    processes = by_kind.get("process", [])
    if processes:
        report.step("stop processes", len(processes))
        each("process", processes, lambda e: _stop(runtime, e))

    mark = lab_mark(lab, lab_dir)
    with Netlink.here() as host:
        marked = find_marked(mark, host)
        _note_unmarked(live, marked, report)
        # what the journal did not stop (it lost their records) must not outlive the
        # namespaces, holding them, or a supervisor restarting its cmd in them forever
        result.count("process", _end_processes(set(marked.namespaces.values())))
        # host interfaces first (bridges last: their ports go before them)
        ports = [link for link in marked.links.values() if link.kind != "bridge"]
        _delete(host, "link", ports, result)
        # host devices go home before their namespaces go (a virtual one would die there)
        hostdevs = [e for e in by_kind.get("hostdev", [])
                    if not e.ns or e.ns in marked.namespaces or not kernel_netns.exists(e.ns)]
        if hostdevs:
            report.step("host devices", len(hostdevs))
            each("hostdev", hostdevs, lambda e: move_home(host, e))
        journal_ns = {e.name: e for e in by_kind.get("netns", [])}
        # a journaled namespace that is not mounted (made by a crashed deploy, or whose
        # mount was removed under it) is an empty placeholder file: nothing to mark,
        # nothing to lose, and nothing else finds it
        placeholders = [name for name in journal_ns if name not in marked.namespaces
                        and kernel_netns.exists(name) and kernel_netns.inode_of(name) is None]
        report.step("namespaces", len(marked.namespaces) + len(placeholders))
        stuck: set[str] = set()
        for name, inode in [*marked.namespaces.items(), *((n, None) for n in placeholders)]:
            try:
                runtime.remove(name, inode)
            except (NetknitError, OSError) as exc:
                stuck.add(name)
                result.left.append(f"namespace {name}: {first_line(exc)}")
            report.advance()
        result.count("netns", len(marked.namespaces) - len(stuck & set(marked.namespaces)))
        # links inside a removed namespace went with it; a stuck one stays in the journal
        gone(e for e in by_kind.get("link", []) if e.ns not in stuck)
        gone(e for name, e in journal_ns.items() if name not in stuck)
        bridges = [link for link in marked.links.values() if link.kind == "bridge"]
        _delete(host, "bridge", bridges, result)
        gone(by_kind.get("bridge", []))
    return result


def _stop(runtime: Runtime, e: Effect) -> None:
    pidfile = Path(e.info["pidfile"])
    if not e.done:
        # a deploy died around the spawn: give a supervisor that is just starting the
        # moment it needs to write its pid file
        deadline = time.monotonic() + 1.0
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    runtime.stop(Workload(str(pidfile), int(e.info.get("pid", 0)), e.info.get("start")))


def _end_processes(inodes: set[int]) -> int:
    """SIGKILL every process inside the lab's namespaces, until none is left (a
    supervisor may start a new child meanwhile). Each is signalled through a pidfd,
    after checking through it that it is still that process, never by a reused pid."""
    killed = 0
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        found = kernel_netns.pids_in(inodes)
        if not found:
            break
        for pid, inode in found.items():
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                continue  # exited meanwhile
            try:
                if os.stat(f"/proc/{pid}/ns/net").st_ino == inode:
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
                    killed += 1
            except OSError:
                pass  # exited meanwhile
            finally:
                os.close(fd)
        time.sleep(0.01)
    return killed


def _delete(host: Netlink, kind: str, links: list[LinkInfo], result: UndoResult) -> None:
    """Delete by ifindex (the one the mark was read on): one pipelined batch."""
    errors = delete_by_index(host, [(link.index, link.name) for link in links])
    for link, err in zip(links, errors, strict=True):
        if err is not None:
            result.left.append(f"{kind} {link.name}: {first_line(err)}")
    result.count(kind, errors.count(None))


def _note_unmarked(live: list[Effect], marked: Marked, report: Reporter) -> None:
    """Say so when the journal names an object that exists without the lab's mark: it
    is left alone (a forged journal, a name someone reused, or a lab made before marks)."""
    for e in live:
        if e.kind == "netns" and e.name in marked.unmarked_namespaces:
            report.note(f"left namespace {e.name}: it does not carry this lab's mark")
        elif e.kind in ("link", "bridge") and e.ns is None and e.name in marked.unmarked_links:
            report.note(f"left {e.kind} {e.name}: it does not carry this lab's mark")


def destroy(lab: str, lab_dir: LabDir, *, cleanup: bool = False,
            runtime: Runtime | None = None, reporter: Reporter | None = None) -> DestroyResult:
    """Remove a lab. Idempotent: destroying a lab that is not there succeeds. Raises
    StateError listing what is left when something could not be removed."""
    started = time.monotonic()
    report = reporter or SilentReporter()
    runtime = runtime or NetnsRuntime()
    result = DestroyResult(lab, lab_dir, {})
    try:
        if lab_dir.exists():
            with lab_dir.lock(lab, "destroy") as held:
                undone = undo_journal(lab, lab_dir, runtime, report)
                if not undone.left:
                    lab_dir.journal.discard()
                    lab_dir.remove_state()
                    if cleanup:
                        held.remove()  # under the lock: a deploy that waits starts over
        else:  # deleted while deployed: the mark still finds the lab's objects
            undone = undo_journal(lab, lab_dir, runtime, report)
    except NetknitError:
        raise
    except OSError as exc:
        raise StateError(f"destroy of {lab!r} failed: {exc}",
                         hint="run destroy again; it resumes where it stopped") from exc
    if undone.left:
        raise undone.error(lab, "destroy")
    result.removed = undone.removed
    result.nothing_to_do = not undone.removed and not undone.recorded
    result.seconds = time.monotonic() - started
    return result
