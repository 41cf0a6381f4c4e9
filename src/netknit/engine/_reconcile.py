"""Reconcile: compare what the lab must be with what exists, repair the difference.

The desired state is the plan of the deployed topology file (the one the journal's
``deployed`` marker names): every namespace, link, MAC, MTU, address, bridge port and
workload. Each node's runtime reports what is wrong with the node itself, as data; the
kernel says what is wrong with its links. Repairs are a sub-plan of the deploy's own
actions, run through the same executor and steps, so a lost link comes back the way it
was first made (both ends born in their namespaces under their final names) and every
new object is journaled before it is made. Only what differs is touched; attribute
fixes are one pipelined batch of requests per namespace.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import field
from enum import Enum
from typing import Any

from .. import links as link_types
from .._dataclass import dataclass
from .._errors import NetknitError, StateError
from .._impair import Impairment
from ..kernel import LinkInfo, Netlink, addresses, delete_links, links, set_link_request
from ..kernel._link import address_request
from ..kernel._nl import Request
from ..kernel._qdisc import impair_request, impairments, matches
from ..plan import (
    Action,
    Configure,
    CreateNode,
    EnsureBridge,
    Iface,
    LinkAction,
    MoveDevice,
    NodePlan,
    StartNode,
    Stitch,
    build,
    made_by,
)
from ..runtimes import Fix, Problem, Runtime, Runtimes, Trouble
from ..state import Effect, JournalState, LabDir, LabState, lab_lock
from ..topology import Topology
from ._executor import Executor, desired_state, raise_fd_limit, topology_digest
from ._overrides import overridden
from ._parking import drop_empty_parking, held_nodes, open_parking, unpark
from ._repairlog import log_repair
from ._report import Reporter
from ._steps import run_hook, run_wave


class What(Enum):
    """What a drift is about (besides a node's own :class:`Trouble`)."""

    BRIDGE_MISSING = "bridge missing"
    IFACE_MISSING = "interface missing"
    MAC = "mac"
    MTU = "mtu"
    NOT_IN_BRIDGE = "not in its bridge"
    DOWN = "down"
    ADDRESS_MISSING = "address missing"
    IMPAIRMENT = "impairment"  # its qdisc lost (a restart, a moved end) or changed
    RESTARTED = "restarted"  # a hook marked on-restart, run again
    PARKED = "parked"  # the end of a stopped node, back in its namespace when it starts


@dataclass
class Drift:
    """One difference between desired and actual, and what was (or would be) done.

    ``what`` (and ``iface``) say what it is; ``found``/``action`` are words for people,
    never matched by code."""

    node: str
    found: str  # "namespace missing", "eth1 mtu 1400", ...
    action: str  # "recreate namespace", "set mtu 9500", ...
    status: str = "planned"  # planned (dry run) | repaired | waiting | failed: <why>
    what: What | Trouble = field(kw_only=True)
    iface: str | None = field(default=None, kw_only=True)

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "found": self.found, "action": self.action,
                "status": self.status}


@dataclass
class ReconcileResult:
    """Every drift a reconcile found, and what it did about each."""

    lab: str
    drifts: list[Drift] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def failed(self) -> list[Drift]:
        return [d for d in self.drifts if d.status.startswith("failed")]


@dataclass
class _Resume:
    """A workload to let run again once its links are back."""

    node: NodePlan
    problem: Problem
    drift: Drift


@dataclass
class _Found:
    """What is broken, and the sub-plan that repairs it."""

    lost: list[NodePlan] = field(default_factory=list)  # holders to make again
    stale: list[NodePlan] = field(default_factory=list)  # workloads to start
    resume: list[_Resume] = field(default_factory=list)
    lost_bridges: list[EnsureBridge] = field(default_factory=list)
    broken: list[LinkAction] = field(default_factory=list)
    fixes: dict[str | None, list[tuple[Drift, Request]]] = field(default_factory=dict)
    restarted: list[NodePlan] = field(default_factory=list)  # for on-restart hooks
    # nodes stopped (or destroyed) on purpose: left alone, as are their ends
    held: frozenset[str] = frozenset()
    unpark: list[Iface] = field(default_factory=list)  # parked ends to move back in


def _settle(drifts: Sequence[Drift], error: Exception | None) -> None:
    for drift in drifts:
        drift.status = f"failed: {error}" if error else "repaired"


def _start_effect(runtime: Runtime, node: NodePlan, lab_dir: LabDir,
                  effects: Mapping[str, Effect]) -> Effect | None:
    """The journaled record of the node's started workload, if there is one."""
    wanted = runtime.intent_start(node, lab_dir.node_dir(node.name))
    return effects.get(wanted.key) if wanted is not None else None


def take_down(executor: Executor, node: NodePlan, effects: Mapping[str, Effect], *,
              grace: float | None = None) -> None:
    """Stop the node's workload, then its holder (``grace``: seconds a workload gets to
    end after its stop signal; None: killed at once)."""
    runtime = executor.runtime(node)
    workload, holder_name = runtime.names(node)
    started = _start_effect(runtime, node, executor.lab_dir, effects)
    # each object the journal records under the node's names (workload first)
    recorded = sorted((e for e in effects.values() if e.kind in runtime.kinds
                       and e.name in (workload, holder_name)), key=lambda e: e.seq, reverse=True)
    holder = runtime.intent_create(node)
    stopped: set[str] = set()
    for effect in [started, *recorded, effects.get(holder.key, holder)]:
        if effect is not None and effect.key not in stopped:
            stopped.add(effect.key)
            # the grace is the workload's; a holder that is only a holder just goes
            gentle = effect is started or effect.name == workload
            runtime.stop(effect, grace=grace if gentle else None, keep_address=True)


def _nodes(executor: Executor, desired: LabState, result: ReconcileResult,
           found: _Found, late: list[Drift]) -> None:
    """Each node's own problems, as its runtime sees them; namespaces that can be wired
    are opened. A stopped holder is started now (its new namespace is empty, so its
    links show up as missing below)."""
    starts = {a.node.name for a in executor.plan.actions.values() if isinstance(a, StartNode)}
    early: list[Drift] = []
    drifts: list[Drift] = []
    for node in executor.plan.nodes.values():
        if node.name in found.held:
            continue  # stopped on purpose: `netknit start` brings it back
        runtime = executor.runtime(node)
        recorded = desired.nodes[node.name]
        seen = runtime.observe(recorded, has_workload=node.name in starts)
        halted = False
        resumes: list[tuple[Problem, Drift]] = []
        for problem in seen.problems:
            drift = Drift(node.name, problem.found, problem.action, what=problem.what)
            if problem.fix is Fix.RECREATE:
                early.append(drift)
                found.lost.append(node)
                if node.name in starts:
                    found.stale.append(node)
                halted = True
                break
            if problem.fix is Fix.START:
                late.append(drift)
                found.stale.append(node)
                continue
            if problem.fix is Fix.RESUME:
                resumes.append((problem, drift))  # once its namespace is known to be there
                continue
            drifts.append(drift)
            if problem.fix is Fix.WAIT:
                drift.status = "waiting"
                halted = problem.what.of_holder
                continue
            # REVIVE: the holder now; its workload, if it is the holder, after the links
            if result.dry_run:
                halted = True
                break
            try:
                runtime.revive(node, problem)
            except NetknitError as exc:
                drift.status = f"failed: {exc.message}"
                halted = True
                break
            if problem.resume_after:
                found.resume.append(_Resume(node, problem, drift))
            else:
                drift.status = "repaired"
        if halted:
            continue
        if node.netns is not None:
            ns = runtime.open(recorded)
            if ns is None:
                continue  # not reachable now: its links wait for the next pass
            executor.adopt(ns, made=False)
        for problem, drift in resumes:
            drifts.append(drift)
            found.resume.append(_Resume(node, problem, drift))
    result.drifts[:0] = early
    result.drifts.extend(drifts)


def _links(executor: Executor, result: ReconcileResult, found: _Found) -> None:
    """Bridges, links and their attributes, against the kernel."""
    plan, host = executor.plan, executor.host
    drifts = result.drifts
    present: dict[str | None, dict[str, LinkInfo]] = {None: {i.name: i for i in links(host)}}
    for name, ns in executor.namespaces.items():
        present[name] = {i.name: i for i in links(ns.nl)}
    lost_ns = {n.netns for n in found.lost}
    for bridge in plan.actions.values():
        if isinstance(bridge, EnsureBridge) and bridge.name not in present[None]:
            found.lost_bridges.append(bridge)
            drifts.append(Drift(bridge.name, "bridge missing", "recreate bridge and its ports",
                                what=What.BRIDGE_MISSING))
    for name, info in present[None].items():
        if info.kind == "bridge":
            executor.bridge_index[name] = info.index

    # namespaces that should exist but cannot be reached now (a holder that is not
    # running): their links wait for the next pass instead of failing the others
    unreachable = {n.netns for n in plan.nodes.values() if n.netns is not None
                   and n.netns not in executor.namespaces and n.netns not in lost_ns}
    parked = open_parking(executor, found.held)
    for made in plan.link_actions():
        ends = made_by(made)
        # the parked ends of a node that runs again go back in, whatever its peer does
        back = [e for e in ends if e.name in parked.get(e.netns, ())
                and e.node not in found.held and e.netns not in unreachable]
        for end in back:
            found.unpark.append(end)
            drifts.append(Drift(end.node, f"{end.name} parked", "re-attach it",
                                what=What.PARKED, iface=end.name))
        ends = tuple(e for e in ends if e not in back)
        if any(e.node in found.held for e in ends):
            continue  # comes back when that node starts
        if any(e.netns in unreachable for e in ends):
            continue
        if any(e.netns in lost_ns for e in ends):
            found.broken.append(made)  # comes back with the namespace
            continue
        missing = [e for e in ends if e.name not in present.get(e.netns, {})]
        if missing:
            found.broken.append(made)
            drifts.append(Drift(missing[0].node, f"{missing[0].name} missing",
                                link_types.repair_words(made), what=What.IFACE_MISSING,
                                iface=missing[0].name))

    # holders that came back by themselves in a new, empty namespace (their hooks marked
    # on-restart run again)
    found.restarted = list(found.lost)
    for node in plan.nodes.values():
        ifaces = plan.interfaces_of(node.name)
        if executor.runtime(node).self_restarting and node.netns in executor.namespaces \
                and ifaces and all(i.name not in present.get(node.netns, {}) for i in ifaces):
            found.restarted.append(node)

    fresh_ifs = {(e.netns, e.name) for made in found.broken for e in made_by(made)}
    fresh_ifs |= {(e.netns, e.name) for e in found.unpark}  # configured once back in
    assigned: dict[str | None, dict[int, set[str]]] = {}  # one address dump per namespace
    impaired: dict[str | None, dict[int, tuple[str, Impairment]]] = {}  # one qdisc dump
    for iface in plan.interfaces:
        if (iface.netns, iface.name) in fresh_ifs or iface.netns in lost_ns | unreachable \
                or iface.node in found.held:
            continue
        have = present.get(iface.netns, {}).get(iface.name)
        if have is None:
            continue
        if iface.addresses and iface.netns not in assigned:
            assigned[iface.netns] = {index: {str(a) for a in on} for index, on
                                     in addresses(executor.netlink(iface.netns)).items()}
        on_link = assigned.get(iface.netns, {}).get(have.index, set())
        found_here = _attribute_drifts(iface, have, present[None], on_link)
        if iface.impairment:
            if iface.netns not in impaired:
                impaired[iface.netns] = impairments(executor.netlink(iface.netns))
            found_here += _impairment_drift(iface, iface.impairment, have,
                                            impaired[iface.netns].get(have.index))
        for drift, request in found_here:
            drifts.append(drift)
            found.fixes.setdefault(iface.netns, []).append((drift, request))


def _impairment_drift(iface: Iface, want: Impairment, have: LinkInfo,
                      seen: tuple[str, Impairment] | None) -> list[tuple[Drift, Request]]:
    """The interface's qdisc, if it does not impair its egress as ``want`` says."""
    if seen is not None and matches(seen[0], seen[1], want):
        return []
    now = f"{seen[0]} {seen[1].words()}" if seen is not None else "none"
    return [(Drift(iface.node, f"{iface.name} impairment {now}", f"set {want.words()}",
                   what=What.IMPAIRMENT, iface=iface.name),
             impair_request(have.index, want, have.mtu, f"impair {iface.node}:{iface.name}"))]


def _attribute_drifts(iface: Iface, have: LinkInfo, host: dict[str, LinkInfo],
                      assigned: set[str]) -> list[tuple[Drift, Request]]:
    """What differs on an existing interface; ``assigned``: its addresses now."""
    out = []
    node, name = iface.node, iface.name
    if iface.mac and have.mac != iface.mac:
        out.append((Drift(node, f"{name} mac {have.mac}", f"set mac {iface.mac}",
                          what=What.MAC, iface=name),
                    set_link_request(have.index, mac=iface.mac)))
    if iface.mtu and have.mtu != iface.mtu:
        out.append((Drift(node, f"{name} mtu {have.mtu}", f"set mtu {iface.mtu}",
                          what=What.MTU, iface=name),
                    set_link_request(have.index, mtu=iface.mtu)))
    if iface.master:
        bridge = host.get(iface.master)
        index = bridge.index if bridge is not None else None
        if index is not None and have.master != index:
            out.append((_not_in_bridge(iface), set_link_request(have.index, master=index)))
    if not have.up:
        out.append((Drift(node, f"{name} down", "set up", what=What.DOWN, iface=name),
                    set_link_request(have.index, up=True)))
    for address in iface.addresses:
        if str(address) not in assigned:
            out.append((Drift(node, f"{name} lacks {address}", f"add {address}",
                              what=What.ADDRESS_MISSING, iface=name),
                        address_request(have.index, address, f"add {address}")))
    return out


def _not_in_bridge(iface: Iface) -> Drift:
    return Drift(iface.node, f"{iface.name} not in bridge {iface.master}",
                 f"add to {iface.master}", what=What.NOT_IN_BRIDGE, iface=iface.name)


def _set_masters(executor: Executor, found: _Found, result: ReconcileResult) -> None:
    """Ports that survived their bridge: put them into the new one."""
    names = {b.name for b in found.lost_bridges}
    host = {i.name: i for i in links(executor.host)}
    for iface in executor.plan.interfaces:
        have = host.get(iface.name) if iface.netns is None else None
        if iface.master in names and have is not None:
            drift = _not_in_bridge(iface)
            result.drifts.append(drift)
            found.fixes.setdefault(None, []).append(
                (drift, set_link_request(have.index,
                                         master=executor.bridge_index[str(iface.master)])))


def _repair(executor: Executor, result: ReconcileResult, found: _Found,
            effects: Mapping[str, Effect]) -> None:
    drifts = result.drifts
    plan = executor.plan
    if found.lost_bridges:  # first: the ports below need their bridge
        bridge_drifts = [d for d in drifts if d.what is What.BRIDGE_MISSING]
        try:
            run_wave(executor, found.lost_bridges)
            _set_masters(executor, found, result)
            _settle(bridge_drifts, None)
        except NetknitError as exc:
            _settle(bridge_drifts, exc)

    # 1. attributes: one pipelined batch per namespace
    for netns, items in found.fixes.items():
        errors = executor.netlink(netns).batch([request for _drift, request in items])
        for (drift, _request), err in zip(items, errors, strict=True):
            drift.status = f"failed: {err}" if err and err.errno != 17 else "repaired"

    # 2. lost holders (and the workloads stuck in the old ones), then links
    resuming = {id(r.drift) for r in found.resume}
    structural = [d for d in drifts if d.status == "planned" and id(d) not in resuming
                  and d.what is not Trouble.WORKLOAD_STOPPED]
    unparked = {e.netns for e in found.unpark}
    try:
        for node in found.lost:  # a workload may live on in the orphaned namespace
            runtime = executor.runtime(node)
            started = _start_effect(runtime, node, executor.lab_dir, effects)
            if started is not None:
                runtime.stop(started)
        for made in found.broken:  # a surviving end of a half-gone pair is in the way
            if isinstance(made, MoveDevice):
                continue  # a host device is never deleted: it is moved again
            for end in made_by(made):
                if end.netns is None or end.netns in executor.namespaces:
                    delete_links(executor.netlink(end.netns), [end.name])
        remade = {e.name for made in found.broken for e in made_by(made) if e.netns is None}
        touched = {e.netns for made in found.broken for e in made_by(made)}
        touched |= {n.netns for n in found.lost} | unparked
        run_wave(executor, [CreateNode(n) for n in found.lost])
        unpark(executor, found.unpark)
        sub_plan: list[list[Action]] = [
            list(found.broken),
            [a for a in plan.actions.values() if isinstance(a, Stitch)
             and (a.a in remade or a.b in remade)],
            [c for c in plan.actions.values() if isinstance(c, Configure)
             and c.netns in touched],
        ]
        for wave in sub_plan:
            run_wave(executor, wave)
        _settle(structural, None)
    except NetknitError as exc:
        _settle(structural, exc)

    # 3. workloads that the runtime lets run again, now that their links are back: a
    # stopped one, or one left in the namespace of a replaced holder
    for resume in found.resume:
        try:
            executor.runtime(resume.node).resume(resume.node, resume.problem)
            resume.drift.status = "repaired"
        except NetknitError as exc:
            resume.drift.status = f"failed: {exc.message}"
        found.restarted.append(resume.node)

    # 4. workloads started again (journaled like deploy's), only once their node is wired
    if found.stale:
        start_drifts = [d for d in drifts if d.what is Trouble.WORKLOAD_STOPPED
                        and id(d) not in resuming]
        try:
            run_wave(executor, [StartNode(n) for n in found.stale])
            _settle(start_drifts, None)
        except NetknitError as exc:
            _settle(start_drifts, exc)

    # 5. hooks the user marked `on-restart: true`, for nodes that came back
    for node in {n.name: n for n in found.restarted}.values():
        stages = executor.topo.nodes[node.name].stages
        for stage in ("create-links", "configure"):
            spec = stages.get(stage)
            for hook in spec.exec if spec else ():
                if not hook.on_restart:
                    continue
                ran = run_hook(executor, node, hook)
                drifts.append(Drift(node.name, "restarted", f"run {hook.command}",
                                    "repaired" if ran.returncode == 0 else
                                    f"failed: exit {ran.returncode}: {ran.output.strip()}",
                                    what=What.RESTARTED))


def reconcile(topo: Topology, lab_dir: LabDir, *, dry_run: bool = False,
              max_workers: int = 8, reporter: Reporter | None = None,
              runtimes: Mapping[str, Runtime] | None = None) -> ReconcileResult:
    """Repair drift of a deployed lab (``dry_run``: only report it). Nodes stopped on
    purpose (`netknit stop`) are left alone."""
    with open_lab(topo, lab_dir, "reconcile", max_workers=max_workers, reporter=reporter,
                  runtimes=runtimes) as (executor, state):
        return repair(executor, state, dry_run=dry_run)


@contextmanager
def open_lab(topo: Topology, lab_dir: LabDir, action: str, *, max_workers: int = 8,
             reporter: Reporter | None = None, runtimes: Mapping[str, Runtime] | None = None,
             ) -> Iterator[tuple[Executor, JournalState]]:
    """A deployed lab, locked, with an executor of its plan (for repairs and lifecycle)."""
    plan = build(topo, deployed_host(topo, lab_dir))
    known = Runtimes(lab_dir.path, given=runtimes)
    raise_fd_limit()
    if not lab_dir.journal.exists():
        raise StateError(f"lab {topo.name!r} is not deployed",
                         hint="deploy it first: `netknit deploy`")
    with lab_lock(lab_dir.path, topo.name, action):
        state = lab_dir.journal.read()
        if state.markers.get("deployed") != topology_digest(topo) or \
                state.markers.get("applying"):  # an apply did not finish
            raise StateError(
                f"lab {topo.name!r} was deployed from a different topology (or its "
                "deploy, or a change to it, did not finish)",
                hint="`netknit deploy` applies the file as it is now",
            )
        with Netlink.here() as host:
            executor = Executor(topo, overridden(plan, state.markers), lab_dir, host, known,
                                max_workers=max_workers, reporter=reporter)
            try:
                yield executor, state
            finally:
                executor.close()


def repair(executor: Executor, state: JournalState, *, dry_run: bool = False,
           held: frozenset[str] | None = None) -> ReconcileResult:
    """Find and (unless ``dry_run``) repair what differs; the nodes ``held`` (default: as
    the journal records them) are left alone."""
    started = time.monotonic()
    result = ReconcileResult(executor.topo.name, dry_run=dry_run)
    found = _Found(held=held_nodes(state.markers) if held is None else held)
    late: list[Drift] = []
    _nodes(executor, desired_state(executor.plan, executor.runtimes), result, found, late)
    _links(executor, result, found)
    result.drifts.extend(late)
    if not dry_run:
        # what was found, before it is repaired: `netknit events` reports both
        log_repair(executor.lab_dir, result.drifts, done=False)
        _repair(executor, result, found, state.effects)
        drop_empty_parking(executor)
        log_repair(executor.lab_dir, result.drifts, done=True)
    result.seconds = time.monotonic() - started
    return result


def deployed_host(topo: Topology, lab_dir: LabDir) -> str | None:
    """The host a lab that spans ``hosts:`` was deployed on here (its desired state says)."""
    if not topo.hosts:
        return None
    try:
        host = lab_dir.read_state().host
    except (OSError, ValueError) as exc:
        raise StateError(f"lab {topo.name!r} has no readable desired state here: {exc}",
                         hint="deploy it first: `netknit deploy --host NAME`") from None
    return str(host) if host else None
