"""Inspect: desired state side by side with what the kernel has; exec into nodes."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, field
from ipaddress import IPv4Interface, IPv6Interface
from pathlib import Path
from typing import Any

from .. import kinds
from .._dataclass import dataclass
from .._errors import NetknitError, StateError
from ..kernel import AliasedLink, LinkInfo, Netlink, addresses, links_with_alias
from ..plan import NO_ADDRESS, MgmtAddress, NodePlan, container_spec, node_labels, runtime_of
from ..runtimes import ExecResult, Runtime, Runtimes
from ..state import DEFAULT_RUNTIME, IfaceState, LabDir, NodeState
from ..topology import Topology
from ._parking import STOPPED, held_map


@dataclass
class IfaceView:
    """An interface as containerlab's ``inspect interfaces`` shows it, and netknit's view
    of it: what deploy made it (addresses, peer) and how it drifted from that."""

    name: str
    mac: str
    mtu: int
    addresses: list[str]  # what it has (IPv6 link-local left out); desired ones if missing
    peer: str
    state: str  # up | down (administratively) | missing
    drift: list[str] = field(default_factory=list)  # how actual differs from desired
    alias: str = ""
    ifindex: int = 0
    type: str = ""  # veth, bridge, vxlan, device (a physical or unknown one)...
    managed: bool = True  # netknit made it: the lab's desired state lists it
    # the kernel's operstate (up, down, lowerlayerdown, unknown...), which follows the
    # carrier a moment after it changes; "missing" when the interface is
    operstate: str = "missing"

    def to_json(self) -> dict[str, Any]:
        """containerlab's keys (types.ContainerInterfaceDetails, its ``state`` the
        operstate) first, then netknit's."""
        return {"name": self.name, "alias": self.alias, "mac": self.mac,
                "ifindex": self.ifindex, "mtu": self.mtu, "type": self.type,
                "state": self.operstate, "addresses": self.addresses, "peer": self.peer,
                "drift": self.drift, "managed": self.managed}


@dataclass
class NodeView:
    """One node of ``inspect``'s answer: its state and its interfaces as the kernel has them."""

    name: str
    kind: str
    netns: str | None
    state: str  # running | missing | host | exited (N) ...
    cmd: str  # status of the node's cmd: running | exited (N) | -
    interfaces: list[IfaceView]
    # why the node itself is not as deployed: "sandbox exited (137)", ...
    drift: list[str] = field(default_factory=list)
    container: str = ""  # containerlab's name for it: its container or namespace
    runtime: str = DEFAULT_RUNTIME

    def to_json(self) -> dict[str, Any]:
        """containerlab's ``inspect interfaces`` entry (types.ContainerInterfaces: name,
        interfaces), with netknit's node fields."""
        return {"name": self.container, "interfaces": [i.to_json() for i in self.interfaces],
                "node": self.name, "kind": self.kind, "netns": self.netns,
                "state": self.state, "cmd": self.cmd, "drift": self.drift}


@dataclass
class LabView:
    """``inspect``'s answer for one lab (``to_json`` is its ``--format json``)."""

    lab: str
    lab_dir: str
    deployed: bool
    nodes: list[NodeView]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


#: containerlab's word for an address a container does not have
NOT_APPLICABLE = "N/A"


@dataclass
class ContainerDetails:
    """One node as containerlab's ``inspect`` lists it (types.ContainerDetails)."""

    lab_name: str
    lab_path: str  # the topology file, relative to the current directory if shorter
    abs_lab_path: str
    name: str  # the container's name; a namespace node's namespace
    container_id: str  # 12 characters, as containerlab's ShortID; "" for a namespace
    image: str
    kind: str
    group: str
    state: str  # running, exited, missing...
    status: str  # the rest: health, exit code, a namespace node's cmd, drift
    ipv4_address: str  # management address with its prefix length, or N/A
    ipv6_address: str
    owner: str
    node: str = ""  # the node's name in the topology (not in containerlab's JSON)
    details: dict[str, Any] = field(default_factory=dict)  # netknit's view (--details)

    def to_json(self) -> dict[str, str]:
        """containerlab's keys in its order; ``group`` only when set (omitempty)."""
        out = {"lab_name": self.lab_name, "labPath": self.lab_path,
               "absLabPath": self.abs_lab_path, "name": self.name,
               "container_id": self.container_id, "image": self.image, "kind": self.kind}
        if self.group:
            out["group"] = self.group
        out.update(state=self.state, status=self.status, ipv4_address=self.ipv4_address,
                   ipv6_address=self.ipv6_address, owner=self.owner)
        return out


def _link_type(link: LinkInfo) -> str:
    return link.kind or "device"  # netlink's Type() of a link without a kind


def _observe(nl: Netlink, wanted: Sequence[IfaceState], *, every: bool) -> list[IfaceView]:
    """The wanted interfaces as they are (``every``: and all others of the namespace, as
    containerlab lists them), sorted by name."""
    present = {item.link.name: item for item in links_with_alias(nl)}
    addrs = addresses(nl)
    out = []
    for want in wanted:
        item = present.get(want.name)
        if item is None:
            out.append(IfaceView(want.name, want.mac, want.mtu, list(want.addresses),
                                 want.peer, "missing", ["missing"]))
            continue
        link = item.link
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
        out.append(_seen(item, addrs, want.peer, drift))
    if every:
        managed = {want.name for want in wanted}
        out += [_seen(item, addrs, "", [], managed=False) for name, item in present.items()
                if name not in managed]
    return sorted(out, key=lambda i: i.name)


def _seen(item: AliasedLink, addrs: Mapping[int, Sequence[IPv4Interface | IPv6Interface]],
          peer: str, drift: list[str], managed: bool = True) -> IfaceView:
    link = item.link
    shown = [str(a) for a in addrs.get(link.index, [])
             if not (a.version == 6 and a.ip.is_link_local)]
    return IfaceView(link.name, link.mac, link.mtu, shown, peer, "up" if link.up else "down",
                     drift, item.alias, link.index, _link_type(link), managed, link.operstate)


def inspect(lab: str, lab_dir: LabDir, *, runtimes: Mapping[str, Runtime] | None = None,
            every: bool = False) -> LabView:
    """What the lab should be and what it is (``every``: with all other interfaces of
    each node's namespace, as containerlab's ``inspect interfaces`` lists them)."""
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
                 _view(known[node.runtime], node, host, every)
                 for node in state.nodes.values()]
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
                    _recorded(node.interfaces, state),
                    container=node.workload or node.netns or node.name, runtime=node.runtime)


def _view(runtime: Runtime, node: NodeState, host: Netlink, every: bool) -> NodeView:
    """A node: its runtime's view of it, and its interfaces as its workload sees them:
    in the namespace the workload runs in (a workload left behind in the namespace of a
    dead holder sees the old links, not the new ones)."""
    seen = runtime.observe(node)
    view = NodeView(node.name, node.kind, node.netns, seen.state, seen.cmd, [],
                    list(seen.drift), node.workload or node.netns or node.name, node.runtime)
    if node.netns is None:  # in the host's or another node's namespace
        view.interfaces = _observe(host, node.interfaces, every=False) \
            if node.interfaces else []
        return view
    ns = runtime.open(node, workload=True)
    if ns is None:
        view.interfaces = _missing(node.interfaces)
        return view
    try:
        view.interfaces = _observe(ns.nl, node.interfaces, every=every)
    finally:
        ns.close()
    return view


def _missing(wanted: Sequence[IfaceState]) -> list[IfaceView]:
    return _recorded(wanted, "missing", ["missing"])


def _recorded(wanted: Sequence[IfaceState], state: str,
              drift: Sequence[str] = ()) -> list[IfaceView]:
    """Interfaces as the desired state records them, none of them seen (``state``: why)."""
    return [IfaceView(i.name, i.mac, i.mtu, list(i.addresses), i.peer, state, list(drift),
                      operstate=state) for i in wanted]


def containers(view: LabView, topo: Topology | None, *, topology: Path | None = None,
               owner: str = "", runtimes: Mapping[str, Runtime] | None = None,
               cwd: Path | None = None) -> list[ContainerDetails]:
    """The lab's nodes that have a container or a namespace of their own, as containerlab
    lists them, sorted by name. ``topo``: the lab's topology (images, groups, and the
    management addresses its runtime reports); without it, what the state knows."""
    path = topology or (topo.path if topo else None)
    absolute = str(path.absolute()) if path else ""
    relative = os.path.relpath(absolute, cwd or Path.cwd()) if absolute else ""
    shown = relative if len(relative) < len(absolute) else absolute
    known = Runtimes(Path(view.lab_dir), given=runtimes)
    out = []
    for node in view.nodes:
        if node.netns is None and node.container == node.name:
            continue  # a bridge or the host: no container, no namespace of its own
        defined = topo.nodes.get(node.name) if topo else None
        addr = _management(known[node.runtime], topo, node) if topo else NO_ADDRESS
        word, status = _state_words(node.state)
        if node.cmd != "-":
            status.append(f"cmd {node.cmd}")
        status += [d for d in node.drift if d not in status and d not in node.state]
        # "; ": containerlab's CSV does not quote its fields
        out.append(ContainerDetails(
            lab_name=view.lab, lab_path=shown, abs_lab_path=absolute, name=node.container,
            container_id=addr.container_id[:12],
            image=(defined.image or "") if defined and node.runtime != DEFAULT_RUNTIME else "",
            kind=node.kind, group=(defined.group or "") if defined else "", state=word,
            status="; ".join(s for s in status if s),
            ipv4_address=f"{addr.ipv4}/{addr.ipv4_prefix}" if addr.ipv4 else NOT_APPLICABLE,
            ipv6_address=f"{addr.ipv6}/{addr.ipv6_prefix}" if addr.ipv6 else NOT_APPLICABLE,
            owner=owner, node=node.name,
            details={"node": node.name, "netns": node.netns, "runtime": node.runtime,
                     "cmd": node.cmd, "drift": node.drift,
                     "labels": node_labels(topo, defined) if topo and defined else {},
                     "interfaces": [i.to_json() for i in node.interfaces]}))
    return sorted(out, key=lambda c: c.name)


def _state_words(state: str) -> tuple[str, list[str]]:
    """containerlab's state (``running``, ``exited``...) and the rest of netknit's words
    for it: ``running (healthy)`` is running and healthy, ``exited (137), sandbox exited
    (1)`` exited with exit code 137 and the sandbox's words."""
    word, _, rest = state.partition(" ")
    first, _, more = rest.partition(", ")
    status = []
    if first.startswith("(") and first.endswith(")"):
        inner = first[1:-1]
        status.append(f"exit code {inner}" if word == "exited" else
                      "health: starting" if inner == "starting" else inner)
    elif first:
        status.append(first)
    return word, [*status, *([more] if more else [])]


def _management(runtime: Runtime, topo: Topology, node: NodeView) -> MgmtAddress:
    """What the node's runtime reports; nothing for a node the file no longer has, or
    whose container is gone."""
    if node.name not in topo.nodes:
        return NO_ADDRESS
    try:
        return runtime.management(node_plan(topo, node.name, node.runtime))
    except Exception:  # a missing container: the row says so in its state
        return NO_ADDRESS


def node_plan(topo: Topology, name: str, runtime: str | None) -> NodePlan:
    """What a runtime needs to reach a deployed node (``runtime``: the one it was
    deployed on; None: its kind's)."""
    node = topo.nodes[name]
    spec = container_spec(topo, node)
    # its view as deploy plans it: the first process started in it makes it (NetnsRuntime)
    return NodePlan(name, node.kind, topo.full_name(name), env=dict(node.env),
                    container=spec, runtime=runtime or runtime_of(node.kind),
                    binds=node.binds if spec is None else (), private_dirs=node.private_dirs)


def exec_in(topo: Topology, nodes: Sequence[str], argv: Sequence[str], *,
            timeout: float | None = None, runtimes: Mapping[str, Runtime] | None = None,
            separate: bool = False, lab_dir: LabDir | None = None) -> list[ExecResult]:
    """Run ``argv`` in each named node (all namespace nodes when ``nodes`` is empty), on
    the runtime the deployed lab runs it on (a lab deployed with ``--runtime netns`` has
    its linux nodes as bare namespaces). ``separate``: stderr apart from stdout;
    ``lab_dir``: the lab's directory when it is not the topology's default one."""
    lab_dir = lab_dir or LabDir.for_lab(topo.name, topo.path)
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
        entry = recorded.get(name)
        plan = node_plan(topo, name, entry.runtime if entry else None)
        results.append(known.of(plan).exec(plan, None, argv, timeout=timeout,
                                           separate=separate))
    return results
