"""Destroy: remove what the journal says exists, and whatever else carries the lab's mark.

The journal says what was made (after a crash too); the lab's mark (:mod:`._marks`) says
what is the lab's. A namespace, interface or bridge is removed only if it carries the
mark: a forged or stale journal cannot make netknit delete anything else, and a journal
that is truncated, unreadable or gone with the lab directory loses nothing, because every
marked object is found by one dump of the host's links and one look into each namespace.
Every object is tried even when others fail; what could not be removed is listed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field
from pathlib import Path

from .._dataclass import dataclass
from .._errors import NetknitError, StateError, UsageError
from ..kernel import LinkInfo, Netlink, delete_by_index
from ..kernel import netns as kernel_netns
from ..runtimes import Runtime, Runtimes
from ..runtimes._base import API_TIMEOUT
from ..state import Effect, EffectKind, LabDir
from ._labfiles import KINDS as LAB_FILE_KINDS
from ._labfiles import remove_lab_files
from ._labs import FoundLab, forget_lab
from ._marks import Marked, find_marked, lab_mark
from ._parking import DESTROYED, HELD, held_map, parking_name
from ._report import Reporter, SilentReporter
from ._threads import run_threads


@dataclass
class DestroyResult:
    """What a destroy removed, by kind of object."""

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
            self.removed[str(kind)] = self.removed.get(str(kind), 0) + n

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


#: kinds of kernel objects that carry the lab's mark: found (and removed) by the mark
MARKED = frozenset({EffectKind.NETNS, EffectKind.LINK, EffectKind.BRIDGE, EffectKind.HOSTDEV})
#: how many runtime objects are removed at once (``max_workers`` of a destroy: at most that)
UNDO_WORKERS = 8


def stop_grace() -> float:
    """Seconds a workload gets to end after its stop signal (``destroy --graceful``,
    ``stop``, ``restart``): the engine timeout (global ``--timeout``, default 2m), which
    is what containerlab gives a container to stop."""
    return API_TIMEOUT[0]


def _workers(max_workers: int | None, items: int) -> int:
    """Threads for ``items`` removals: ``max_workers`` (containerlab's ``--max-workers``;
    0 or None: netknit's own bound) and never more than there are items."""
    return min(max_workers or UNDO_WORKERS, items)


def undo_journal(lab: str, lab_dir: LabDir, runtimes: Runtimes, report: Reporter, *,
                 grace: float | None = None, mark: str | None = None,
                 keep_mgmt_net: bool = False, max_workers: int | None = None) -> UndoResult:
    """Remove every live effect of the journal and every object carrying the lab's mark.
    Caller holds the lock (if the lab directory exists). Never raises for an object that
    cannot be removed: it goes into ``left``, and the others are still tried.

    ``grace``: the workloads are stopped first, each given that many seconds to end after
    its stop signal (``destroy --graceful``). ``mark``: the lab's mark, when its
    directory is not known (`destroy --all` of a lab found by its mark alone).
    ``keep_mgmt_net``: the management network is forgotten instead of removed.
    ``max_workers``: at most that many objects removed at once."""
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

    by_kind: dict[EffectKind, list[Effect]] = {}
    for effect in reversed(live):
        by_kind.setdefault(effect.kind, []).append(effect)

    # the runtimes' objects first (containers: links inside their namespaces go with
    # them). A journal that does not end with its deploy (lost, cut short, or a deploy
    # that did not finish) may have lost some: the lab's identity finds them.
    if not intact:
        for runtime in runtimes.every():
            try:
                for effect in runtime.leftovers(live):
                    by_kind.setdefault(effect.kind, []).append(effect)
            except NetknitError as exc:
                report.note(exc.message)
    if grace is not None:
        _stop_workloads(lab_dir, runtimes, live, grace, report, max_workers)
    if keep_mgmt_net:
        gone(by_kind.pop(EffectKind.NETWORK, []))
    files = [e for kind in LAB_FILE_KINDS for e in by_kind.pop(kind, [])]
    done, removed, left = remove_lab_files(lab, lab_dir, files, intact, mark)
    gone(done)
    result.count("file", removed)
    result.left += left
    for kind in EffectKind:
        effects = by_kind.get(kind, [])
        if effects and kind not in MARKED:
            _undo_objects(runtimes.owners(kind), kind, effects, report, result, gone,
                          max_workers)

    mark = mark or lab_mark(lab, lab_dir)
    holders = next(iter(runtimes.owners(EffectKind.NETNS)), None)
    with Netlink.here() as host:
        marked = find_marked(mark, host)
        _note_unmarked(live, marked, report)
        # what the journal did not stop (it lost their records) must not outlive the
        # namespaces, holding them, or a supervisor restarting its cmd in them forever
        result.count("process", end_processes(set(marked.namespaces.values())))
        # host interfaces first (bridges last: their ports go before them)
        ports = [link for link in marked.links.values() if link.kind != "bridge"]
        _delete(host, "link", ports, result)
        # host devices go home before their namespaces go (a virtual one would die there)
        hostdevs = [e for e in by_kind.get(EffectKind.HOSTDEV, [])
                    if not e.ns or e.ns in marked.namespaces or not kernel_netns.exists(e.ns)]
        if hostdevs:
            report.step("host devices", len(hostdevs))
            done = []
            for effect in hostdevs:
                try:
                    _move_home(host, effect)
                    done.append(effect)
                except Exception as exc:  # each is tried; a malformed record (KeyError) too
                    result.left.append(f"hostdev {effect.name}: {first_line(exc)}")
                report.advance()
            gone(done)
            result.count("hostdev", len(done))
        journal_ns = {e.name: e for e in by_kind.get(EffectKind.NETNS, [])}
        # a journaled namespace that is not mounted (made by a crashed deploy, or whose
        # mount was removed under it) is an empty placeholder file: nothing to mark,
        # nothing to lose, and nothing else finds it. One the kernel does not show under
        # its name at all (gone, or a runtime's unnamed one) is its runtime's to forget.
        unmarked = [e for name, e in journal_ns.items() if name not in marked.namespaces]
        placeholders = [e.name for e in unmarked if kernel_netns.exists(e.name)
                        and kernel_netns.inode_of(e.name) is None]
        absent = [e for e in unmarked if not kernel_netns.exists(e.name)]
        report.step("namespaces", len(marked.namespaces) + len(placeholders))
        stuck: set[str] = set()
        for name, inode in [*marked.namespaces.items(), *((n, None) for n in placeholders)]:
            try:
                if holders is not None:
                    holders.remove(Effect(EffectKind.NETNS, name, None,
                                          {"inode": inode} if inode else {}))
            except (NetknitError, OSError) as exc:
                stuck.add(name)
                result.left.append(f"namespace {name}: {first_line(exc)}")
            report.advance()
        for effect in absent:
            if holders is not None:
                with contextlib.suppress(NetknitError, OSError):
                    holders.remove(effect)
        result.count("netns", len(marked.namespaces) - len(stuck & set(marked.namespaces)))
        # links inside a removed namespace went with it; a stuck one stays in the journal
        gone(e for e in by_kind.get(EffectKind.LINK, []) if e.ns not in stuck)
        gone(e for name, e in journal_ns.items() if name not in stuck)
        bridges = [link for link in marked.links.values() if link.kind == "bridge"]
        _delete(host, "bridge", bridges, result)
        gone(by_kind.get(EffectKind.BRIDGE, []))
    return result


def _stop_workloads(lab_dir: LabDir, runtimes: Runtimes, live: list[Effect], grace: float,
                    report: Reporter, max_workers: int | None = None) -> None:
    """Stop each node's workload gracefully (its stop signal, then up to ``grace``
    seconds), several at once; what does not stop is removed as usual afterwards."""
    try:
        names = {n.workload for n in lab_dir.read_state().nodes.values() if n.workload}
    except (OSError, ValueError):
        names = set()
    workloads = [e for e in live if e.name in names or e.kind == EffectKind.PROCESS]
    if not workloads:
        return
    report.step("stop gracefully", len(workloads))

    def stop(effect: Effect) -> None:
        for runtime in runtimes.owners(effect.kind):
            with contextlib.suppress(NetknitError, OSError):
                runtime.stop(effect, grace=grace)

    run_threads(workloads, stop, _workers(max_workers, len(workloads)), report.advance)


def _undo_objects(owners: list[Runtime], kind: EffectKind, effects: list[Effect],
                  report: Reporter, result: UndoResult,
                  gone: Callable[[list[Effect]], None], max_workers: int | None = None) -> None:
    """Remove one kind of the runtimes' objects, several at once; each is tried whatever
    happens to the others, by each runtime that records that kind until one has it."""
    report.step("stop processes" if kind == EffectKind.PROCESS else f"{kind}s", len(effects))

    def remove(effect: Effect) -> Exception | None:
        try:
            for runtime in owners:
                if runtime.remove(effect):
                    break
        except Exception as exc:  # listed as left; the others are still tried
            return exc
        return None

    errors = run_threads(effects, remove, _workers(max_workers, len(effects)), report.advance)
    done = [e for e, err in zip(effects, errors, strict=True) if err is None]
    result.left += [f"{kind} {e.name}: {first_line(err)}"
                    for e, err in zip(effects, errors, strict=True) if err is not None]
    gone(done)
    result.count(kind, len(done))


def _move_home(host: Netlink, effect: Effect) -> bool:
    from ._devices import move_home  # the link machinery: loaded only for a moved device

    return move_home(host, effect)


def end_processes(inodes: set[int]) -> int:
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
        if e.kind == EffectKind.NETNS and e.name in marked.unmarked_namespaces:
            report.note(f"left namespace {e.name}: it does not carry this lab's mark")
        elif e.kind in (EffectKind.LINK, EffectKind.BRIDGE) and e.ns is None \
                and e.name in marked.unmarked_links:
            report.note(f"left {e.kind} {e.name}: it does not carry this lab's mark")


def destroy(lab: str, lab_dir: LabDir, *, cleanup: bool = False, graceful: bool = False,
            runtimes: Mapping[str, Runtime] | None = None,
            reporter: Reporter | None = None, mark: str | None = None,
            keep_mgmt_net: bool = False, max_workers: int | None = None) -> DestroyResult:
    """Remove a lab. Idempotent: destroying a lab that is not there succeeds. Raises
    StateError listing what is left when something could not be removed (``runtimes``:
    runtime instances to use instead of the registered ones, by name; ``graceful``:
    workloads are stopped before they are removed, each given :func:`stop_grace`;
    ``mark``: see :func:`undo_journal`; ``keep_mgmt_net``: the management network stays,
    as containerlab's ``--keep-mgmt-net``; ``max_workers``: at most that many objects
    removed at once, as its ``--max-workers``)."""
    started = time.monotonic()
    report = reporter or SilentReporter()
    known = Runtimes(lab_dir.path, given=runtimes)
    result = DestroyResult(lab, lab_dir, {})
    grace = stop_grace() if graceful else None
    try:
        if lab_dir.exists():
            with lab_dir.lock(lab, "destroy") as held:
                undone = undo_journal(lab, lab_dir, known, report, grace=grace, mark=mark,
                                      keep_mgmt_net=keep_mgmt_net, max_workers=max_workers)
                if not undone.left:
                    lab_dir.journal.discard()
                    lab_dir.remove_state()
                    if cleanup:
                        held.remove()  # under the lock: a deploy that waits starts over
        else:  # deleted while deployed: the mark still finds the lab's objects
            undone = undo_journal(lab, lab_dir, known, report, grace=grace, mark=mark,
                                  keep_mgmt_net=keep_mgmt_net, max_workers=max_workers)
    except NetknitError:
        raise
    except OSError as exc:
        raise StateError(f"destroy of {lab!r} failed: {exc}",
                         hint="run destroy again; it resumes where it stopped") from exc
    if undone.left:
        raise undone.error(lab, "destroy")
    if mark is None:
        forget_lab(lab, lab_dir)
    result.removed = undone.removed
    result.nothing_to_do = not undone.removed and not undone.recorded
    result.seconds = time.monotonic() - started
    return result


def destroy_nodes(lab: str, lab_dir: LabDir, nodes: Sequence[str], *, graceful: bool = False,
                  runtimes: Mapping[str, Runtime] | None = None,
                  reporter: Reporter | None = None,
                  max_workers: int | None = None) -> DestroyResult:
    """containerlab's `destroy --node-filter`: remove only these nodes (their workloads,
    holders, namespaces, parked ends and with them their links); the rest of the lab keeps
    running. They are recorded as destroyed: reconcile and watch leave them alone."""
    started = time.monotonic()
    report = reporter or SilentReporter()
    known = Runtimes(lab_dir.path, given=runtimes)
    result = DestroyResult(lab, lab_dir, {})
    if not lab_dir.journal.exists():
        raise StateError(f"lab {lab!r} is not deployed: nothing to destroy")
    undone = UndoResult()
    with lab_dir.lock(lab, "destroy"):
        recorded = lab_dir.read_state().nodes
        unknown = [n for n in nodes if n not in recorded]
        if unknown:
            raise UsageError(f"node {unknown[0]!r} is not present in the topology",
                             hint=f"nodes: {', '.join(recorded)}")
        journal = lab_dir.journal
        state = journal.read()
        chosen = [recorded[n] for n in dict.fromkeys(nodes)]
        spaces = {n.netns for n in chosen if n.netns}
        spaces |= {parking_name(ns) for ns in list(spaces)}
        names = {x for n in chosen for x in (n.name, n.workload, n.holder) if x}

        def of_nodes(e: Effect) -> bool:
            """The nodes' own objects, namespaces, and what lives in (or links to) them."""
            if e.kind in (EffectKind.LINK, EffectKind.HOSTDEV):
                return e.ns in spaces or e.info.get("peer_ns") in spaces
            if e.kind in LAB_FILE_KINDS or e.kind == EffectKind.NETWORK:
                return False  # the lab's: it keeps running
            return e.name in (spaces if e.kind == EffectKind.NETNS else names)

        mine = [e for e in state.live() if of_nodes(e)]
        journal.mark(HELD, {**held_map(state.markers), **{n.name: DESTROYED for n in chosen}})

        def gone(effects: Iterable[Effect]) -> None:
            journal.removed([e.key for e in effects])

        if graceful:
            _stop_workloads(lab_dir, known, mine, stop_grace(), report, max_workers)
        for kind in EffectKind:
            effects = [e for e in mine if e.kind == kind and kind not in MARKED]
            if effects:
                _undo_objects(known.owners(kind), kind, effects, report, undone, gone,
                              max_workers)
        holders = next(iter(known.owners(EffectKind.NETNS)), None)
        with Netlink.here() as host:
            for effect in [e for e in mine if e.kind == EffectKind.HOSTDEV]:
                try:
                    _move_home(host, effect)
                    gone([effect])
                except Exception as exc:  # each is tried
                    undone.left.append(f"hostdev {effect.name}: {first_line(exc)}")
            marked = find_marked(lab_mark(lab, lab_dir), host).namespaces
        for name in sorted(spaces & set(marked)):
            try:
                if holders is not None:
                    holders.remove(Effect(EffectKind.NETNS, name, None, {"inode": marked[name]}))
                undone.count("netns")
            except (NetknitError, OSError) as exc:
                undone.left.append(f"namespace {name}: {first_line(exc)}")
        gone(e for e in mine if e.kind in (EffectKind.NETNS, EffectKind.LINK))
    if undone.left:
        raise undone.error(lab, "destroy")
    result.removed = undone.removed
    result.seconds = time.monotonic() - started
    return result


def destroy_found(found: FoundLab, *, cleanup: bool = False, graceful: bool = False,
                  reporter: Reporter | None = None, keep_mgmt_net: bool = False,
                  max_workers: int | None = None) -> DestroyResult:
    """Destroy a lab `destroy --all` found: through its directory where known, else by
    its mark alone (its kernel objects; its lab files and directory are left)."""
    if found.lab_dir is not None:
        return destroy(found.name, found.lab_dir, cleanup=cleanup, graceful=graceful,
                       reporter=reporter, keep_mgmt_net=keep_mgmt_net,
                       max_workers=max_workers)
    nowhere = LabDir(Path("/nonexistent/netknit") / f"clab-{found.name or 'lab'}")
    return destroy(found.name, nowhere, graceful=graceful, reporter=reporter, mark=found.mark,
                   keep_mgmt_net=keep_mgmt_net, max_workers=max_workers)
