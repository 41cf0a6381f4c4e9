"""``tools netem``: set, show and reset the impairment of a node's interface.

On a lab's node, what ``set`` and ``reset`` do to one of its lab interfaces is recorded
in the journal (marker :data:`OVERRIDES`, "node:interface" -> the impairment, or None
for "none") before the qdisc is changed, and every plan that repairs the lab
(:mod:`._overrides`: reconcile, watch, start, restart, apply) carries it: after a restart
the interface comes back impaired as the tool left it, not as the file says. The marker
lives as long as the deployment (``destroy`` discards the journal). An interface that is
not a lab link (``eth0``, one made by hand) is impaired once, not restored.

A namespace that is no lab's node (``/run/netns/<name>``) is impaired once, nothing
recorded.
"""

from __future__ import annotations

import errno
from dataclasses import field
from typing import Any

from .. import kinds
from .._dataclass import dataclass
from .._errors import KernelError, NetknitError
from .._impair import Impairment, go_duration
from ..kernel import LinkInfo, Namespace, Netlink, links
from ..kernel import netns as kernel_netns
from ..kernel._qdisc import impair, impairments
from ..state import LabDir
from ..topology import Topology
from ._executor import Executor, desired_state
from ._overrides import OVERRIDES, require_netem
from ._parking import held_nodes
from ._reconcile import open_lab

NOT_APPLICABLE = "N/A"  # containerlab's NotApplicable


@dataclass(frozen=True, slots=True)
class NetemRow:
    """One interface and its impairment (None: no netem or tbf root qdisc)."""

    interface: str
    kind: str | None = None  # netem | tbf
    impairment: Impairment | None = None

    def to_json(self) -> dict[str, Any]:
        """containerlab's ImpairmentData (``tools netem show -f json``)."""
        imp = self.impairment or Impairment()
        return {"interface": self.interface,
                "delay": go_duration(imp.delay) if imp.delay else "",
                "jitter": go_duration(imp.jitter) if imp.jitter else "",
                "packet_loss": round(imp.loss, 2), "rate": imp.rate,
                "corruption": round(imp.corruption, 2)}

    def cells(self) -> list[str]:
        """containerlab's table row: Interface, Delay, Jitter, Packet Loss, Rate (kbit),
        Corruption; N/A throughout for an interface without one."""
        imp = self.impairment
        if imp is None:
            return [self.interface, *[NOT_APPLICABLE] * 5]
        return [self.interface, go_duration(imp.delay), go_duration(imp.jitter),
                f"{imp.loss:.2f}%", str(imp.rate), f"{imp.corruption:.2f}%"]


@dataclass
class NetemResult:
    """A node's impairments as ``tools netem show`` lists them, and notes for the user."""

    node: str  # as the user named it
    rows: list[NetemRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _rows(nl: Netlink, only: str | None = None) -> list[NetemRow]:
    seen = impairments(nl)
    out = []
    for link in sorted(links(nl), key=lambda lk: lk.index):
        if only is None or link.name == only:
            kind, imp = seen.get(link.index, (None, None))
            out.append(NetemRow(link.name, kind, imp))
    return out


def _link(nl: Netlink, iface: str, where: str) -> LinkInfo:
    have = links(nl)
    for link in have:
        if link.name == iface:
            return link
    raise KernelError(f"impair {iface} of {where}", errno.ENODEV, detail="no such interface",
                      hint="its interfaces: " + ", ".join(link.name for link in have))


def _node_of(topo: Topology, node: str) -> str:
    """The topology name of ``node`` (its name, or its namespace/container name)."""
    for name in topo.nodes:
        if node in (name, topo.full_name(name)):
            if not kinds.get(topo.nodes[name].kind).own_namespace:
                raise NetknitError(f"node {name!r} is a {topo.nodes[name].kind}: it has no "
                                   "namespace of its own", hint="impair the other end of "
                                   "its links, on the node it joins")
            return name
    raise NetknitError(f"no node {node!r} in lab {topo.name!r}",
                       hint=f"nodes: {', '.join(topo.nodes)}")


def _lab_namespace(executor: Executor, name: str, held: frozenset[str]) -> Namespace | None:
    """The node's namespace, open (None: stopped, or not running now)."""
    node = executor.plan.nodes.get(name)
    if node is None or node.netns is None or name in held:
        return None
    recorded = desired_state(executor.plan, executor.runtimes).nodes[name]
    runtime = executor.runtime(node)
    runtime.observe(recorded)  # the runtime learns which of its objects holds it now
    return runtime.open(recorded)


def set_on_node(topo: Topology, lab_dir: LabDir, node: str, iface: str,
                imp: Impairment | None) -> NetemResult:
    """Set (``imp``) or reset (None) the impairment of ``iface`` of a lab's ``node``;
    recorded first when it is a lab link, so that repairs keep it."""
    require_netem([(f"{node}:{iface}", imp)])
    name = _node_of(topo, node)
    result = NetemResult(node)
    with open_lab(topo, lab_dir, "tools netem") as (executor, state):
        lab_link = any(i.node == name and i.name == iface for i in executor.plan.interfaces)
        ns = _lab_namespace(executor, name, held_nodes(state.markers))
        try:
            if ns is None and not lab_link:
                raise NetknitError(f"node {name!r} is not running: {iface} cannot be "
                                   "impaired now", hint="start it (`netknit start`)")
            target = _link(ns.nl, iface, name) if ns is not None else None
            if lab_link:
                table = dict(state.markers.get(OVERRIDES) or {})
                table[f"{name}:{iface}"] = imp.to_json() if imp else None
                executor.journal.mark(OVERRIDES, table)
            else:
                result.notes.append(f"{iface} is not a link of the lab: impaired now, "
                                    "not restored after a restart")
            if ns is None or target is None:
                result.notes.append(f"node {name!r} is stopped: {iface} is impaired when "
                                    "it starts")
                return result
            impair(ns.nl, target.index, imp, target.mtu, f"impair {iface} of {name}")
            result.rows = _rows(ns.nl, iface)
        finally:
            if ns is not None:
                ns.close()
    return result


def show_node(topo: Topology, lab_dir: LabDir, node: str) -> NetemResult:
    """Every interface of a lab's ``node`` and its impairment."""
    name = _node_of(topo, node)
    result = NetemResult(node)
    with open_lab(topo, lab_dir, "tools netem") as (executor, state):
        ns = _lab_namespace(executor, name, held_nodes(state.markers))
        if ns is None:
            raise NetknitError(f"node {name!r} is not running", hint="start it "
                               "(`netknit start`); `tools netem set` works on it meanwhile")
        try:
            result.rows = _rows(ns.nl)
        finally:
            ns.close()
    return result


def set_on_namespace(netns: str, iface: str, imp: Impairment | None) -> NetemResult:
    """The same on a namespace of ``/run/netns`` that is no lab's node: once."""
    require_netem([(f"{netns}:{iface}", imp)])
    ns = kernel_netns.open_existing(netns)
    try:
        target = _link(ns.nl, iface, netns)
        impair(ns.nl, target.index, imp, target.mtu, f"impair {iface} of {netns}")
        return NetemResult(netns, _rows(ns.nl, iface),
                           [f"{netns} is no lab's node: impaired now, not restored"])
    finally:
        ns.close()


def show_namespace(netns: str) -> NetemResult:
    ns = kernel_netns.open_existing(netns)
    try:
        return NetemResult(netns, _rows(ns.nl))
    finally:
        ns.close()


__all__ = ["NetemResult", "NetemRow", "set_on_namespace", "set_on_node", "show_namespace",
           "show_node"]
