"""Parking: where a stopped node's link ends wait until it starts again.

A node stopped with `netknit stop` keeps its links: before its namespace goes, each of
its interfaces moves, name unchanged, into a namespace of its own (containerlab's
``clab-park-<namespace>``), marked with the lab's mark and journaled like any namespace,
so `destroy` removes it. The peer keeps its side, addresses and all. Starting the node
moves the ends back into its new namespace, where they are configured again.

The journal's ``held`` marker records the nodes stopped (or destroyed) on purpose, so
that reconcile and watch leave them alone instead of "repairing" them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from .._digest import sha1
from .._errors import KernelError
from ..kernel import Namespace, links, move_links
from ..kernel import netns as kernel_netns
from ..state import Effect, EffectKind

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: destroy loads neither the planner nor the executor
    from ..plan import Iface, NodePlan
    from ._executor import Executor

#: journal marker: node -> why it is held ("stopped", "destroyed")
HELD = "held"
STOPPED = "stopped"
DESTROYED = "destroyed"
#: containerlab's parking namespace names (utils.ParkingNetnsName)
_PREFIX = "clab-park-"
_MAX_NAME = 200


def held_nodes(markers: Mapping[str, Any]) -> frozenset[str]:
    """The nodes stopped or destroyed on purpose, as the journal's markers record them."""
    return frozenset(held_map(markers))


def held_map(markers: Mapping[str, Any]) -> dict[str, str]:
    value = markers.get(HELD)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def parking_name(netns: str) -> str:
    """The parking namespace of the node whose namespace is ``netns``."""
    name = _PREFIX + netns
    if len(name) <= _MAX_NAME:
        return name
    suffix = sha1(netns.encode()).hexdigest()[:10]
    return f"{name[:_MAX_NAME - 1 - len(suffix)]}-{suffix}"


def parking_effect(netns: str) -> Effect:
    return Effect(EffectKind.NETNS, parking_name(netns))


def park(executor: Executor, node: NodePlan, ns: Namespace, effect: Effect) -> list[str]:
    """Move the node's interfaces from ``ns`` into its parking namespace (made, marked,
    if it is not there). Returns what could not be moved (it dies with the namespace and
    is made again when the node starts)."""
    assert node.netns is not None
    try:
        parking = kernel_netns.open_existing(effect.name)
    except KernelError:
        parking = kernel_netns.create(effect.name, executor.mark)
    try:
        effect.info["inode"] = parking.inode
        present = {i.name: i.index for i in links(ns.nl)}
        ends = [i for i in executor.plan.interfaces_of(node.name)
                if i.netns == node.netns and i.name in present]
        errors = move_links(ns.nl, [(present[i.name], parking.fd, f"park {node.name}:{i.name}")
                                    for i in ends])
        return [f"{node.name}:{i.name}: {err.message}"
                for i, err in zip(ends, errors, strict=True) if err is not None]
    finally:
        parking.close()


def open_parking(executor: Executor, held: Collection[str]) -> dict[str | None, set[str]]:
    """The parking namespaces of nodes that are not held, kept open in the executor:
    node namespace -> names of the ends parked for it."""
    out: dict[str | None, set[str]] = {}
    for node in executor.plan.nodes.values():
        if node.netns is None or node.name in held:
            continue
        name = parking_name(node.netns)
        if not kernel_netns.exists(name):
            continue
        try:
            parking = kernel_netns.open_existing(name)
        except KernelError:
            continue
        executor.parking[node.netns] = parking
        out[node.netns] = {i.name for i in links(parking.nl) if i.name != "lo"}
    return out


def unpark(executor: Executor, ends: Sequence[Iface]) -> None:
    """Move parked ends back into their node's namespace, names unchanged (configured
    afterwards, as a moved interface loses its addresses and up state)."""
    by_ns: dict[str, list[Iface]] = {}
    for end in ends:
        by_ns.setdefault(str(end.netns), []).append(end)
    for netns, group in by_ns.items():
        parking = executor.parking[netns]
        index = {i.name: i.index for i in links(parking.nl)}
        target = executor.namespaces[netns].fd
        errors = move_links(parking.nl, [(index[e.name], target, f"re-attach {e.node}:{e.name}")
                                         for e in group])
        for err in errors:
            if err is not None:
                raise err
    executor.crash()


def drop_empty_parking(executor: Executor) -> None:
    """Remove the open parking namespaces that hold nothing any more."""
    gone: list[Effect] = []
    for netns, parking in list(executor.parking.items()):
        if any(i.name != "lo" for i in links(parking.nl)):
            continue  # ends whose node is still stopped wait here
        effect = parking_effect(netns)
        kernel_netns.delete(effect.name, inode=parking.inode)
        parking.close()
        del executor.parking[netns]
        gone.append(effect)
    if gone:
        executor.journal.removed(e.key for e in gone)


def mark_held(executor: Executor, markers: Mapping[str, Any], add: Iterable[str] = (),
              drop: Iterable[str] = (), why: str = STOPPED) -> dict[str, str]:
    """Record nodes as held (``add``) or running again (``drop``); returns the new map."""
    held = held_map(markers)
    new = {k: v for k, v in held.items() if k not in set(drop)}
    new.update({name: why for name in add})
    if new != held:
        executor.journal.mark(HELD, new)
    return new
