"""Apply: deploy of a lab that is deployed from another file changes only what differs.

The difference (:func:`netknit.plan.diff`) is computed from the recorded desired state
and the new plan. What goes is found in the journal: every live record of a node or a
link that the new plan does not keep (a removed or recreated node, a removed or remade
link, and whatever an interrupted apply made), so a re-run after a crash removes the
half-made objects and makes them again. What comes is a sub-plan of the new plan's own
actions (new nodes with their stages, new links, the configuration of the namespaces
they touch), run through the same executor and steps as a deploy: journaled before each
effect, crash points included. Then reconcile's repair of the new plan sets MACs, MTUs
and addresses on the interfaces that stay. Nodes and links that stay are not touched:
their namespaces, processes and interfaces live on.

The journal says ``applying`` until the apply is complete; until then ``deploy`` (with
this file or another) applies again, and ``destroy`` removes everything as always.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from .._errors import StateError
from ..kernel import addresses, delete_links, links, links_with_alias
from ..kernel._link import address_delete_request
from ..kernel._qdisc import clear
from ..plan import (
    Action,
    AttachEnd,
    Change,
    Configure,
    CreateDevice,
    CreateVeth,
    EnsureBridge,
    Exec,
    Iface,
    IfaceChange,
    LinkAction,
    Plan,
    Stitch,
    diff,
    made_by,
)
from ..state import Effect, EffectKind, JournalState, LabDir, LabState, NodeState, effect_key
from ._destroy import end_processes
from ._devices import move_home
from ._executor import Executor, desired_state
from ._parking import mark_held, parking_name
from ._reconcile import repair
from ._steps import run_wave

#: the journal's records of nodes and links (the others: bridges, networks, files)
_NODE_KINDS = frozenset({EffectKind.NETNS, EffectKind.PROCESS, EffectKind.CONTAINER})


def recorded_state(lab_dir: LabDir, lab: str) -> LabState:
    """The deployed lab's desired state, as apply needs it (with what each node and link
    was made from)."""
    try:
        state = lab_dir.read_state()
    except (OSError, ValueError) as exc:
        raise StateError(f"lab {lab!r} has no readable desired state: {exc}",
                         hint="`netknit deploy --reconfigure` deploys the file afresh") from None
    if any(not n.spec for n in state.nodes.values() if n.kind != "host") or \
            (not state.links and any(n.interfaces for n in state.nodes.values())):
        raise StateError(f"lab {lab!r} was deployed by a netknit that did not record what "
                         "its nodes and links were made from: its changes cannot be applied",
                         hint="`netknit deploy --reconfigure` deploys the file afresh")
    return state


def planned_change(lab_dir: LabDir, plan: Plan) -> Change | None:
    """What deploy of ``plan`` would change in the deployed lab (``deploy --dry-run``);
    None when the lab is not deployed (deploy would make all of it)."""
    markers = lab_dir.journal.read().markers
    if "deployed" not in markers:
        return None
    return diff(recorded_state(lab_dir, plan.lab), plan)


def link_key(action: LinkAction) -> str:
    """The journal key of a link action's record (as its step writes it)."""
    if isinstance(action, CreateVeth):
        return effect_key(EffectKind.LINK, action.main.name, action.main.netns)
    if isinstance(action, CreateDevice):
        return effect_key(EffectKind.LINK, action.iface.name, action.iface.netns)
    return effect_key(EffectKind.HOSTDEV, action.iface.name, action.iface.netns)


def _of_node(effect: Effect, node: NodeState) -> bool:
    """Whether ``effect`` records one of ``node``'s runtime objects (the namespace that
    holds a stopped node's link ends among them: a change that keeps the node keeps it)."""
    if effect.kind == EffectKind.NETNS:
        return node.netns is not None and effect.name in (node.netns, parking_name(node.netns))
    if effect.kind == EffectKind.PROCESS:
        return effect.name == node.name
    return effect.kind == EffectKind.CONTAINER and effect.info.get("node") == node.name


def _to_remove(executor: Executor, recorded: LabState, live: Sequence[Effect],
               change: Change) -> list[Effect]:
    """Every live record of a node or link that the new plan does not keep."""
    plan = executor.plan
    stays = {n for n in plan.nodes if n in recorded.nodes and n not in change.recreated_nodes}
    remade = set(change.added_links)
    kept = {link_key(a) for a in plan.link_actions() if a.id not in remade}
    bridges = {a.name for a in plan.actions.values() if isinstance(a, EnsureBridge)}
    out = []
    for effect in live:
        if effect.kind in _NODE_KINDS:
            if not any(_of_node(effect, recorded.nodes[n]) for n in stays):
                out.append(effect)
        elif effect.kind in (EffectKind.LINK, EffectKind.HOSTDEV):
            if effect.key not in kept and not effect.info.get("tool"):  # `tools`: kept
                out.append(effect)
        elif effect.kind == EffectKind.BRIDGE and effect.name not in bridges:
            out.append(effect)
    return out


def _open_kept(executor: Executor, recorded: LabState, change: Change) -> set[str]:
    """Open the namespaces of the nodes that stay: links are added into them. Returns
    those that cannot be opened now (a stopped or lost node): the repair that ends the
    apply brings them back with all their links, new ones included."""
    down = set()
    for name, node in recorded.nodes.items():
        if name in executor.plan.nodes and name not in change.recreated_nodes \
                and node.netns is not None and node.kind != "host":
            runtime = executor.runtimes[node.runtime]
            runtime.observe(node)  # tells the runtime which of its objects holds the node
            ns = runtime.open(node)
            if ns is None:
                down.add(node.netns)
            else:
                executor.adopt(ns, made=False)
    return down


def _remove(executor: Executor, recorded: LabState, doomed: list[Effect]) -> None:
    """Remove what ``doomed`` records: links (host devices go home), then nodes, then
    bridges; each group is recorded as removed once it is gone."""
    host, mark, journal = executor.host, executor.mark, executor.journal
    node_ns = {e.name for e in doomed if e.kind == EffectKind.NETNS}
    node_ns |= {n.netns for n in recorded.nodes.values()
                if n.netns and any(e.kind == EffectKind.CONTAINER and _of_node(e, n)
                                   for e in doomed)}
    ours = {item.link.name for item in links_with_alias(host) if item.alias == mark}
    hostdevs = [e for e in doomed if e.kind == EffectKind.HOSTDEV]
    for effect in hostdevs:
        move_home(host, effect)
    devices = [e for e in doomed if e.kind == EffectKind.LINK]
    for effect in devices:
        # from a side that stays: a namespace that goes is torn down by the kernel later
        # (asynchronously), and its veth's other end must be free for its successor now
        ends = [(effect.ns, effect.name)]
        if effect.info.get("peer"):
            ends.append((effect.info.get("peer_ns"), str(effect.info["peer"])))
        for netns, name in ends:
            if netns is None and name in ours:  # never a host interface without the mark
                delete_links(host, [name])
                break
            if netns is not None and netns not in node_ns and netns in executor.namespaces:
                delete_links(executor.netlink(netns), [name])
                break
        executor.crash()
    journal.removed(e.key for e in hostdevs + devices)
    nodes = sorted((e for e in doomed if e.kind in _NODE_KINDS), key=lambda e: -e.seq)
    inodes = {int(e.info["inode"]) for e in nodes
              if e.kind == EffectKind.NETNS and e.info.get("inode")}
    for effect in nodes:  # workloads before their holders (reverse order of making)
        if effect.kind == EffectKind.NETNS:
            end_processes(inodes)  # what the records do not name must not hold it
        for runtime in executor.runtimes.owners(effect.kind):
            if runtime.remove(effect):
                break
        journal.removed([effect.key])
        executor.crash()
    bridges = [e for e in doomed if e.kind == EffectKind.BRIDGE]
    delete_links(host, [e.name for e in bridges if e.name in ours])
    journal.removed(e.key for e in bridges)


def _drop_addresses(executor: Executor, changes: Iterable[IfaceChange]) -> None:
    """Remove the addresses the new file no longer gives interfaces that stay."""
    where = {(i.node, i.name): i.netns for i in executor.plan.interfaces}
    by_ns: dict[str | None, list[IfaceChange]] = {}
    for change in changes:
        if change.what == "address" and not change.new:
            by_ns.setdefault(where[(change.node, change.iface)], []).append(change)
    for netns, items in by_ns.items():
        nl = executor.netlink(netns)
        index = {link.name: link.index for link in links(nl)}
        have = addresses(nl)
        requests = [address_delete_request(index[c.iface], address, f"remove {address} "
                                           f"from {c.node}:{c.iface}")
                    for c in items if c.iface in index
                    for address in have.get(index[c.iface], []) if str(address) == c.old]
        for err in nl.batch(requests):
            if err is not None and err.errno != 99:  # EADDRNOTAVAIL: gone already
                raise err


def _drop_impairments(executor: Executor, changes: Iterable[IfaceChange]) -> None:
    """Clear the impairments the new file no longer gives interfaces that stay (a new
    or changed one is set by the repair that finishes the apply)."""
    where = {(i.node, i.name): i.netns for i in executor.plan.interfaces}
    for change in changes:
        if change.what == "impairment" and not change.new:
            nl = executor.netlink(where[(change.node, change.iface)])
            index = {link.name: link.index for link in links(nl)}.get(change.iface)
            if index is not None:
                clear(nl, index, f"clear the impairment of {change.node}:{change.iface}")


def sub_plan(plan: Plan, change: Change, present: set[str], *, skip_post_deploy: bool,
             down: set[str] | None = None) -> list[list[Action]]:
    """The new plan's actions that make what ``change`` adds, in waves (``present``:
    the bridges the host has now; ``down``: namespaces that cannot be wired now, whose
    new links are left to the repair)."""
    fresh = {*change.added_nodes, *change.recreated_nodes}
    added = {aid for aid in change.added_links
             if not any(i.netns in (down or set()) for i in made_by(plan.actions[aid]))}
    ifaces: list[Iface] = [i for aid in added for i in made_by(plan.actions[aid])]
    host_ends = {i.name for i in ifaces if i.netns is None}
    touched = {i.netns for i in ifaces} | {plan.nodes[n].netns for n in fresh}
    chosen = set()
    for aid, action in plan.actions.items():
        node = getattr(action, "node", None)
        if isinstance(action, Exec):
            take = action.node.name in fresh and not skip_post_deploy
        elif node is not None:  # CreateNode, StartNode, StagePoint
            take = node.name in fresh
        elif isinstance(action, AttachEnd):
            take = action.veth.id in added
        elif isinstance(action, Stitch):
            take = action.a in host_ends or action.b in host_ends
        elif isinstance(action, Configure):
            take = action.netns in touched and action.netns not in (down or set())
        elif isinstance(action, EnsureBridge):
            take = action.name not in present
        else:
            take = aid in added
        if take:
            chosen.add(aid)
    # an action waits for the chosen actions it waits for through others, left out
    waits: dict[str, frozenset[str]] = {}

    def waits_for(aid: str) -> frozenset[str]:
        if aid not in waits:
            waits[aid] = frozenset().union(*({d} if d in chosen else waits_for(d)
                                             for d in plan.deps[aid]))
        return waits[aid]

    # interfaces of links left to the repair are not there to configure
    later = {(i.netns, i.name) for aid in set(change.added_links) - added
             for i in made_by(plan.actions[aid])}
    actions: dict[str, Action] = {}
    for aid in chosen:
        action = plan.actions[aid]
        if isinstance(action, Configure) and later:
            action = dataclasses.replace(action, interfaces=tuple(
                i for i in action.interfaces if (i.netns, i.name) not in later))
        actions[aid] = action
    sub = Plan(plan.lab, plan.nodes, plan.interfaces, actions,
               {a: waits_for(a) for a in chosen}, plan.host)
    return sub.waves()


def _check(executor: Executor, names: Sequence[str]) -> None:
    """The runtimes' checks of new nodes (images, free names), before they are made."""
    for runtime, nodes in executor.by_runtime(executor.plan.nodes[n] for n in names):
        checked = runtime.preflight(nodes, executor.report)
        if checked.problems:
            raise StateError("cannot apply the change:\n  " + "\n  ".join(checked.problems))
        for note in checked.notices:
            executor.report.note(note)


def apply_change(executor: Executor, recorded: LabState, journal: JournalState,
                 change: Change, *, skip_post_deploy: bool = False) -> None:
    """Make the deployed lab ``recorded`` into ``executor``'s plan (``change``: their
    difference). Writes the new desired state once the lab has the new shape."""
    plan, runtimes, report = executor.plan, executor.runtimes, executor.report
    down = _open_kept(executor, recorded, change)
    doomed = _to_remove(executor, recorded, journal.live(), change)
    # new nodes are checked before anything is removed; those whose objects are in the
    # way (recreated ones; leftovers of an interrupted apply) once they are gone
    later = set(change.recreated_nodes) | {
        n for n in change.added_nodes
        if any(_of_node(e, NodeState(n, "", plan.nodes[n].netns)) for e in doomed)}
    _check(executor, [n for n in change.added_nodes if n not in later])
    # nothing the new plan keeps is made again: a runtime's shared objects neither
    executor.shared_done |= {n.runtime for n in recorded.nodes.values() if n.kind != "host"}
    if doomed:
        report.step("remove", len(doomed))
        _remove(executor, recorded, doomed)
        report.advance(len(doomed))
    _drop_addresses(executor, change.changed)
    _drop_impairments(executor, change.changed)
    _check(executor, sorted(later))

    present = {lk.name for lk in links(executor.host) if lk.kind == "bridge"}
    for link in links(executor.host):
        if link.kind == "bridge":
            executor.bridge_index[link.name] = link.index
    for wave in sub_plan(plan, change, present, skip_post_deploy=skip_post_deploy, down=down):
        run_wave(executor, wave)
    # a recreated node now runs, as deploy makes every node (a stopped one was shown
    # stopped, and left alone by reconcile, while it ran); a removed one is held no more
    mark_held(executor, journal.markers,
              drop=[*change.recreated_nodes, *change.removed_nodes])
    executor.lab_dir.write_state(desired_state(plan, runtimes))
    executor.crash()


def settle(executor: Executor, state: JournalState) -> None:
    """Bring every interface that stays to the new plan's MAC, MTU and addresses (and
    whatever else differs from it) through reconcile's repair (``state``: the journal)."""
    result = repair(executor, state)
    if result.failed:
        raise StateError(f"apply to lab {executor.topo.name!r}: "
                         f"{len(result.failed)} change(s) failed:\n  " + "\n  ".join(
                             f"{d.node}: {d.action}: {d.status}" for d in result.failed),
                         hint="fix the cause shown, then deploy again: it finishes the apply")


__all__ = ["apply_change", "planned_change", "recorded_state", "settle", "sub_plan"]
