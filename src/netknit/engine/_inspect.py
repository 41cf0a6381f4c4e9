"""Inspect: desired state side by side with what the kernel has; exec into nodes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import kinds
from .._errors import NetknitError, StateError
from ..kernel import Netlink, addresses, links
from ..plan import NodePlan, container_spec, runtime_of
from ..runtimes import ExecResult, Runtime, Runtimes
from ..state import IfaceState, LabDir, NodeState
from ..topology import Topology
from ._parking import STOPPED, held_map


@dataclass
class IfaceView:
    name: str
    mac: str
    mtu: int
    addresses: list[str]
    peer: str
    state: str  # up | down | missing
    drift: list[str] = field(default_factory=list)  # how actual differs from desired


@dataclass
class NodeView:
    name: str
    kind: str
    netns: str | None
    state: str  # running | missing | host
    cmd: str  # status of the node's cmd: running | exited (N) | -
    interfaces: list[IfaceView]
    # why the node itself is not as deployed: "sandbox exited (137)", ...
    drift: list[str] = field(default_factory=list)


@dataclass
class LabView:
    lab: str
    lab_dir: str
    deployed: bool
    nodes: list[NodeView]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _observe(nl: Netlink, wanted: Sequence[IfaceState]) -> list[IfaceView]:
    present = {link.name: link for link in links(nl)}
    addrs = addresses(nl)
    out = []
    for want in wanted:
        link = present.get(want.name)
        if link is None:
            out.append(IfaceView(want.name, want.mac, want.mtu, list(want.addresses),
                                 want.peer, "missing", ["missing"]))
            continue
        have = {str(a) for a in addrs.get(link.index, [])}
        drift = []
        if want.mac and link.mac != want.mac:  # "" / 0: not netknit's to set
            drift.append(f"mac {link.mac}")
        if want.mtu and link.mtu != want.mtu:
            drift.append(f"mtu {link.mtu}")
        drift += [f"no {a}" for a in want.addresses if a not in have]
        if not link.up:
            drift.append("down")
        elif link.kind == "veth" and not link.carrier:
            drift.append("no carrier (peer down)")
        shown = [a for a in want.addresses if a in have]
        out.append(IfaceView(link.name, link.mac, link.mtu, shown, want.peer,
                             "up" if link.up else "down", drift))
    return out


def inspect(lab: str, lab_dir: LabDir, *,
            runtimes: Mapping[str, Runtime] | None = None) -> LabView:
    """What the lab should be and what it is."""
    try:
        state = lab_dir.read_state()
    except FileNotFoundError:
        return LabView(lab, str(lab_dir.path), False, [])
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read {lab_dir.state_file}: {exc}") from exc
    markers = lab_dir.journal.read().markers
    deployed = "deployed" in markers
    known = Runtimes(lab_dir.path, given=runtimes)
    held = held_map(markers)
    with Netlink.here() as host:
        views = [_held(node, held[node.name]) if node.name in held else
                 _view(known[node.runtime], node, host) for node in state.nodes.values()]
    for view in views:  # a stopped node's peer has no carrier; a destroyed one's, no link
        for iface in view.interfaces:
            why = held.get(iface.peer.split(":", 1)[0])
            if why is not None:
                iface.drift = [d for d in iface.drift if why == STOPPED
                               and not d.startswith("no carrier")]
    return LabView(lab, str(lab_dir.path), deployed, views)


def _held(node: NodeState, why: str) -> NodeView:
    """A node stopped (or destroyed) on purpose: not drift; its ends wait parked."""
    state = "parked" if why == STOPPED else why
    return NodeView(node.name, node.kind, node.netns, why, "-",
                    [IfaceView(i.name, i.mac, i.mtu, list(i.addresses), i.peer, state)
                     for i in node.interfaces])


def _view(runtime: Runtime, node: NodeState, host: Netlink) -> NodeView:
    """A node: its runtime's view of it, and its interfaces as its workload sees them:
    in the namespace the workload runs in (a workload left behind in the namespace of a
    dead holder sees the old links, not the new ones)."""
    seen = runtime.observe(node)
    drift = list(seen.drift)
    if node.netns is None:  # in the host's or another node's namespace
        shown = _observe(host, node.interfaces) if node.interfaces else []
        return NodeView(node.name, node.kind, None, seen.state, seen.cmd, shown, drift)
    ns = runtime.open(node, workload=True)
    if ns is None:
        return NodeView(node.name, node.kind, node.netns, seen.state, seen.cmd,
                        _missing(node.interfaces), drift)
    try:
        return NodeView(node.name, node.kind, node.netns, seen.state, seen.cmd,
                        _observe(ns.nl, node.interfaces), drift)
    finally:
        ns.close()


def _missing(wanted: Sequence[IfaceState]) -> list[IfaceView]:
    return [IfaceView(i.name, i.mac, i.mtu, list(i.addresses), i.peer, "missing", ["missing"])
            for i in wanted]


def exec_in(topo: Topology, nodes: Sequence[str], argv: Sequence[str], *,
            timeout: float | None = None,
            runtimes: Mapping[str, Runtime] | None = None) -> list[ExecResult]:
    """Run ``argv`` in each named node (all namespace nodes when ``nodes`` is empty), on
    the runtime the deployed lab runs it on (a lab deployed with ``--runtime netns`` has
    its linux nodes as bare namespaces)."""
    lab_dir = LabDir.for_lab(topo.name, topo.path)
    try:
        recorded: Mapping[str, NodeState] = lab_dir.read_state().nodes
    except (OSError, ValueError):
        recorded = {}
    known = Runtimes(lab_dir.path, given=runtimes)
    names = list(nodes) or [n.name for n in topo.nodes.values()
                            if kinds.get(n.kind).own_namespace]
    results = []
    for name in names:
        node = topo.nodes.get(name)
        if node is None:
            raise NetknitError(f"no node {name!r} in lab {topo.name!r}",
                               hint=f"nodes: {', '.join(topo.nodes)}")
        if not kinds.get(node.kind).own_namespace:
            raise NetknitError(f"node {name!r} is a {node.kind}: it has no namespace to run in")
        spec = container_spec(topo, node)
        entry = recorded.get(name)
        plan = NodePlan(name, node.kind, topo.full_name(name), env=dict(node.env),
                        container=spec, runtime=entry.runtime if entry else runtime_of(node.kind))
        results.append(known.of(plan).exec(plan, None, argv, timeout=timeout))
    return results
