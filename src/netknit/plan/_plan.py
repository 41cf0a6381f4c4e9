"""Turn a topology into a plan: the desired interfaces and a DAG of actions.

Pure: no I/O, no root. The plan fixes every name, MAC and MTU before anything is created,
so the journal, the desired state and the kernel requests all agree.

Order (each arrow is a DAG edge; the engine runs the DAG wave by wave)::

    CreateNode ─┐
    EnsureBridge┴─> CreateVeth ─> Configure(ns) ─> StartNode ─> Exec
                                                  (all Configure) ─┘

A node's workload starts only after its own interfaces exist, are named, addressed and up:
that is what makes netknit race-free for entrypoints that touch ``eth1``. ``exec`` runs
after every node is configured, as containerlab runs it after links are up.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv6Interface

from .._errors import PlanError
from ..topology import Endpoint, Link, Node, Topology

Address = IPv4Interface | IPv6Interface

#: Kinds whose endpoints live in the host namespace.
HOST_NS_KINDS = frozenset({"bridge", "host"})


def derive_mac(lab: str, node: str, interface: str) -> str:
    """A stable MAC for an interface: locally administered, unicast, from its identity.

    Same lab, node and interface names give the same MAC on every deploy, so a
    redeployed or repaired link comes back with the MAC the lab's ARP caches knew.
    """
    digest = hashlib.sha256(f"{lab}\0{node}\0{interface}".encode()).digest()
    first = (digest[0] & 0xFC) | 0x02  # locally administered, not multicast
    return ":".join(f"{b:02x}" for b in (first, *digest[1:6]))


@dataclass(frozen=True, slots=True)
class Iface:
    """One interface netknit creates, as it must be."""

    node: str  # the topology node it belongs to (a bridge or host node for host-side ends)
    netns: str | None  # namespace name; None: the host namespace
    name: str
    mac: str
    mtu: int
    addresses: tuple[Address, ...] = ()
    peer: str = ""  # "node:interface" of the other end
    master: str | None = None  # bridge the interface is a port of

    @property
    def where(self) -> str:
        return f"{self.netns or 'host'}/{self.name}"


@dataclass(frozen=True, slots=True)
class NodePlan:
    name: str
    kind: str
    netns: str | None  # None for nodes in the host namespace (bridge, host)
    cmd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    exec: tuple[str, ...] = ()
    startup_delay: int = 0


# -- actions -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateNode:
    node: NodePlan

    @property
    def id(self) -> str:
        return f"node:{self.node.name}"


@dataclass(frozen=True, slots=True)
class EnsureBridge:
    name: str
    mtu: int

    @property
    def id(self) -> str:
        return f"bridge:{self.name}"


@dataclass(frozen=True, slots=True)
class CreateVeth:
    main: Iface  # created up (and enslaved) in the creating request
    peer: Iface  # brought up by Configure of its namespace
    where: str = ""

    @property
    def id(self) -> str:
        return f"veth:{self.main.where}"


@dataclass(frozen=True, slots=True)
class Configure:
    """Bring up and address every interface of one namespace (``lo`` included)."""

    netns: str | None
    interfaces: tuple[Iface, ...]

    @property
    def id(self) -> str:
        return f"configure:{self.netns or 'host'}"


@dataclass(frozen=True, slots=True)
class StartNode:
    node: NodePlan

    @property
    def id(self) -> str:
        return f"start:{self.node.name}"


@dataclass(frozen=True, slots=True)
class Exec:
    node: NodePlan

    @property
    def id(self) -> str:
        return f"exec:{self.node.name}"


Action = CreateNode | EnsureBridge | CreateVeth | Configure | StartNode | Exec


@dataclass(frozen=True)
class Plan:
    lab: str
    nodes: Mapping[str, NodePlan]
    interfaces: tuple[Iface, ...]
    actions: Mapping[str, Action]
    deps: Mapping[str, frozenset[str]]  # action id -> ids it waits for

    def waves(self) -> list[list[Action]]:
        """Topological generations: every action of a wave only needs earlier waves."""
        remaining = {aid: set(d) for aid, d in self.deps.items()}
        waves: list[list[Action]] = []
        while remaining:
            ready = [aid for aid, d in remaining.items() if not d]
            if not ready:
                raise PlanError(f"cycle among: {', '.join(sorted(remaining))}")
            waves.append([self.actions[aid] for aid in ready])
            for aid in ready:
                del remaining[aid]
            for d in remaining.values():
                d.difference_update(ready)
        return waves

    def of_kind(self, kind: type) -> list[Action]:
        return [a for a in self.actions.values() if isinstance(a, kind)]

    def interfaces_of(self, node: str) -> list[Iface]:
        return [i for i in self.interfaces if i.node == node]


def _iface(topo: Topology, node: Node, end: Endpoint, link: Link, peer: str) -> Iface:
    in_host = node.kind in HOST_NS_KINDS
    return Iface(
        node=node.name,
        netns=None if in_host else topo.full_name(node.name),
        name=end.interface,
        mac=end.mac or derive_mac(topo.name, node.name, end.interface),
        mtu=link.mtu,
        addresses=(*end.ipv4, *end.ipv6),
        peer=peer,
        master=node.name if node.kind == "bridge" else None,
    )


def build(topo: Topology) -> Plan:
    """The plan for deploying ``topo``."""
    nodes: dict[str, NodePlan] = {}
    actions: dict[str, Action] = {}
    deps: dict[str, set[str]] = {}

    def add(action: Action, after: Iterable[str] = ()) -> None:
        if action.id in actions:
            raise PlanError(f"two actions would both create {action.id}")
        actions[action.id] = action
        deps[action.id] = set(after)

    for node in topo.nodes.values():
        in_host = node.kind in HOST_NS_KINDS
        np = NodePlan(
            name=node.name,
            kind=node.kind,
            netns=None if in_host else topo.full_name(node.name),
            cmd=node.cmd,
            env=dict(node.env),
            exec=node.exec,
            startup_delay=node.startup_delay,
        )
        nodes[node.name] = np
        if np.netns is not None:
            add(CreateNode(np))

    bridge_mtu: dict[str, int] = defaultdict(int)
    interfaces: list[Iface] = []
    for link in topo.links:
        if link.type == "host":
            (end,) = link.endpoints
            assert link.host_interface is not None
            node_if = _iface(topo, topo.nodes[end.node], end, link, f"host:{link.host_interface}")
            host_if = Iface(
                node="host", netns=None, name=link.host_interface,
                mac=derive_mac(topo.name, "host", link.host_interface), mtu=link.mtu,
                peer=str(end),
            )
            pair = (host_if, node_if)
        else:
            a, b = link.endpoints
            ia = _iface(topo, topo.nodes[a.node], a, link, str(b))
            ib = _iface(topo, topo.nodes[b.node], b, link, str(a))
            # the host-side end is the main one: it can join its bridge in the same request
            pair = (ib, ia) if ib.netns is None and ia.netns is not None else (ia, ib)
        main, peer = pair
        interfaces.extend(pair)
        after = [f"node:{i.node}" for i in pair if i.netns is not None]
        for i in pair:
            if i.master:
                after.append(f"bridge:{i.master}")
                bridge_mtu[i.master] = max(bridge_mtu[i.master], i.mtu)
        add(CreateVeth(main, peer, link.where), after)

    for node in topo.nodes.values():
        if node.kind == "bridge":
            add(EnsureBridge(node.name, bridge_mtu.get(node.name, 0)))

    by_ns: dict[str | None, list[Iface]] = defaultdict(list)
    for i in interfaces:
        by_ns[i.netns].append(i)
    for np in nodes.values():
        if np.netns is not None:
            by_ns.setdefault(np.netns, [])  # lo up even in a node without links
    veth_ids = defaultdict(list)
    for action in actions.values():
        if isinstance(action, CreateVeth):
            for i in (action.main, action.peer):
                veth_ids[i.netns].append(action.id)
    for ns, ifs in by_ns.items():
        if ns is None and not any(i.addresses for i in ifs):
            continue  # host-side ends are created up; nothing else to do in the host
        after = veth_ids[ns] or [f"node:{_owner(nodes, ns)}"]
        add(Configure(ns, tuple(ifs)), after)

    configure_ids = [aid for aid, a in actions.items() if isinstance(a, Configure)]
    for np in nodes.values():
        if np.netns is None:
            continue
        started = []
        if np.cmd:
            add(StartNode(np), [f"configure:{np.netns}"])
            started.append(f"start:{np.name}")
        if np.exec:
            add(Exec(np), [*started, *configure_ids])

    return Plan(
        lab=topo.name,
        nodes=nodes,
        interfaces=tuple(interfaces),
        actions=actions,
        deps={k: frozenset(v) for k, v in deps.items()},
    )


def _owner(nodes: Mapping[str, NodePlan], netns: str | None) -> str:
    for np in nodes.values():
        if np.netns == netns:
            return np.name
    raise PlanError(f"no node owns namespace {netns}")
