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
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from .._errors import PlanError, Problem
from ..topology import (
    DEFAULT_UNDERLAY_MTU,
    VXLAN_OVERHEAD,
    Endpoint,
    Link,
    Node,
    StageExec,
    Topology,
)
from ._container import ContainerSpec, container_spec
from ._devices import CreateDevice, MoveDevice, Stitch, VxlanSpec
from ._iface import Iface

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
class NodePlan:
    name: str
    kind: str
    netns: str | None  # None for nodes in the host namespace (bridge, host)
    cmd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    exec: tuple[str, ...] = ()
    startup_delay: int = 0
    container: ContainerSpec | None = None  # Docker nodes (kind linux) only
    runtime: str = "netns"  # the runtime (runtimes' registry name) that runs the node


def runtime_of(container: ContainerSpec | None) -> str:
    """The runtime of a node: Docker for one with containers, else the built-in one."""
    return "docker" if container is not None else "netns"


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
    # the peer's node does not exist yet (it waits, through ``wait-for``, for a stage of
    # the main end's node): the peer end is born in netknit's private parking namespace
    # under its final name and moved into its node by AttachEnd, name unchanged
    parked: bool = False

    @property
    def id(self) -> str:
        return f"veth:{self.main.where}"


@dataclass(frozen=True, slots=True)
class AttachEnd:
    """Move a parked veth end into its node once the node exists."""

    veth: CreateVeth

    @property
    def id(self) -> str:
        return f"attach:{self.veth.peer.where}"


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


@dataclass(frozen=True, slots=True)
class StagePoint:
    """A node entering (``on-enter``) or finishing (``on-exit``) a lifecycle stage.

    Runs the stage's hooks of that phase. Finishing ``healthy`` waits for the workload
    to be healthy, finishing ``exit`` for it to have exited. ``wait-for`` edges end here.
    """

    node: NodePlan
    stage: str
    phase: str  # on-enter | on-exit
    hooks: tuple[StageExec, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.phase}:{self.stage}:{self.node.name}"


Action = (CreateNode | EnsureBridge | CreateVeth | AttachEnd | CreateDevice | MoveDevice
          | Stitch | Configure | StartNode | Exec | StagePoint)
#: Actions that put interfaces in place (what reconcile recreates when they are lost).
LinkAction = CreateVeth | CreateDevice | MoveDevice


def made_by(action: Action) -> tuple[Iface, ...]:
    """The interfaces an action makes (none for actions that make no interface)."""
    if isinstance(action, CreateVeth):
        return (action.main, action.peer)
    if isinstance(action, CreateDevice | MoveDevice):
        return (action.iface,)
    return ()


@dataclass(frozen=True)
class Plan:
    lab: str
    nodes: Mapping[str, NodePlan]
    interfaces: tuple[Iface, ...]
    actions: Mapping[str, Action]
    deps: Mapping[str, frozenset[str]]  # action id -> ids it waits for
    host: str | None = None  # the host this plan is for, in a lab that spans hosts

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

    def link_actions(self) -> list[LinkAction]:
        return [a for a in self.actions.values()
                if isinstance(a, CreateVeth | CreateDevice | MoveDevice)]


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


def build(topo: Topology, host: str | None = None) -> Plan:
    """The plan for deploying ``topo`` (on ``host``, in a lab that spans ``hosts:``).
    Raises PlanError for a wait-for cycle, or a missing or unknown host.

    A link normally waits for both its nodes. When ``wait-for`` makes one node wait for
    a later stage of a node it is linked to, that link is the only thing in the way: its
    end on the waiting node is parked until the node exists (as containerlab does).
    """
    if topo.hosts and host is None:
        raise PlanError(f"lab {topo.name!r} spans hosts {', '.join(topo.hosts)}: "
                        "say which one this is", hint="pass --host NAME")
    if host is not None and host not in topo.hosts:
        known = ", ".join(topo.hosts) or "none (the file has no hosts: map)"
        raise PlanError(f"unknown host {host!r}; the lab's hosts: {known}")
    parked: set[str] = set()
    while True:
        plan, cycle = _build(topo, frozenset(parked), host)
        if cycle is None:
            return plan
        end = _end_to_park(plan.actions, cycle)
        if end is None or end in parked:
            steps = [step for step in dict.fromkeys(_describe(plan.actions, a) for a in cycle)
                     if step]
            entries = "".join(f"\n  {entry}" for entry in _wait_entries(topo, cycle))
            raise PlanError(
                "wait-for cycle: " + " → ".join(steps) + f" → {steps[0]}" + entries,
                hint="remove one of these wait-for entries; nothing was started",
            )
        parked.add(end)


def _wait_entries(topo: Topology, cycle: list[str]) -> list[Problem]:
    """The ``wait-for`` entries that close ``cycle``, where they are written."""
    out = []
    for here, there in itertools.pairwise(cycle):
        if not (here.startswith("on-enter:") and there.startswith("on-exit:")):
            continue
        _, stage, name = here.split(":", 2)
        _, their_stage, their_node = there.split(":", 2)
        spec = topo.nodes[name].stages.get(stage)
        for wait in spec.wait_for if spec else ():
            if (wait.node, wait.stage) == (their_node, their_stage):
                out.append(Problem(topo.file or str(topo.path or ""), wait.where,
                                   f"{name}:{stage} waits for {their_node}:{their_stage}",
                                   wait.line))
    return out


def _end_to_park(actions: Mapping[str, Action], cycle: list[str]) -> str | None:
    """The veth end ("node:interface") whose wait closes ``cycle``, if a link does."""
    for here, there in itertools.pairwise(cycle):
        action = actions[here]
        if isinstance(action, CreateVeth) and there.startswith("on-enter:create-links:"):
            node = there.split(":", 2)[2]
            for end in (action.main, action.peer):
                if end.node == node and end.netns is not None:
                    return f"{end.node}:{end.name}"
    return None


def _build(topo: Topology, parked: frozenset[str],
           host: str | None) -> tuple[Plan, list[str] | None]:
    nodes: dict[str, NodePlan] = {}
    actions: dict[str, Action] = {}
    deps: dict[str, set[str]] = {}

    def add(action: Action, after: Iterable[str] = ()) -> None:
        if action.id in actions:
            raise PlanError(f"two actions would both create {action.id}")
        actions[action.id] = action
        deps[action.id] = set(after)

    here = {n.name for n in topo.nodes.values() if n.host == host}
    for node in topo.nodes.values():
        if node.name not in here:
            continue  # another host's
        in_host = node.kind in HOST_NS_KINDS
        spec = container_spec(topo, node)
        nodes[node.name] = NodePlan(
            name=node.name,
            kind=node.kind,
            # a Docker node sharing the host's or another node's namespace has none of its own
            netns=None if in_host or node.network_mode != "none" else topo.full_name(node.name),
            cmd=node.cmd,
            env=dict(node.env),
            exec=node.exec,
            startup_delay=node.startup_delay,
            container=spec,
            runtime=runtime_of(spec),
        )
    staged = [n for n in topo.nodes.values() if n.name in nodes and nodes[n.name].netns is not None]
    # healthy/exit are waited for only when something refers to them
    referenced: set[tuple[str, str]] = {
        (w.node, w.stage) for n in staged for spec in n.stages.values() for w in spec.wait_for
    }
    referenced |= {(n.name, stage) for n in staged for stage in n.stages}

    def point(node: Node, stage: str, phase: str, after: Iterable[str]) -> None:
        spec = node.stages.get(stage)
        hooks = tuple(h for h in spec.exec if h.phase == phase) if spec else ()
        waits = [f"on-exit:{w.stage}:{w.node}" for w in spec.wait_for] if spec and \
            phase == "on-enter" else []
        add(StagePoint(nodes[node.name], stage, phase, hooks), [*after, *waits])

    for node in staged:
        point(node, "create", "on-enter", [])
        add(CreateNode(nodes[node.name]), [f"on-enter:create:{node.name}"])
        point(node, "create", "on-exit", [f"node:{node.name}"])
        point(node, "create-links", "on-enter", [f"on-exit:create:{node.name}"])

    bridge_mtu: dict[str, int] = defaultdict(int)
    interfaces: list[Iface] = []
    peers: dict[str, set[str]] = defaultdict(set)  # node -> namespaces it is linked to
    links_here = [link for link in topo.links if any(e.node in here for e in link.endpoints)]
    for link in links_here:
        single = _single_ended(topo, link, host)
        if single is not None:
            for action in single:
                for i in made_by(action):
                    interfaces.append(i)
                    if i.master:
                        bridge_mtu[i.master] = max(bridge_mtu[i.master], i.mtu)
                after = _device_deps(action)
                add(action, after)
            continue
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
        park = f"{peer.node}:{peer.name}" in parked
        if f"{main.node}:{main.name}" in parked:
            main, peer, park = peer, main, True
        interfaces.extend(pair)
        after = [f"on-enter:create-links:{i.node}" for i in (main, peer) if i.netns is not None
                 and not (park and i is peer)]
        for i in pair:
            if i.master:
                after.append(f"bridge:{i.master}")
                bridge_mtu[i.master] = max(bridge_mtu[i.master], i.mtu)
            for other in pair:
                if other is not i and other.netns is not None:
                    peers[i.node].add(other.netns)
        veth = CreateVeth(main, peer, link.where, parked=park)
        add(veth, after)
        if park:
            add(AttachEnd(veth), [veth.id, f"on-enter:create-links:{peer.node}"])

    for node in topo.nodes.values():
        if node.kind == "bridge" and node.name in nodes:
            add(EnsureBridge(node.name, bridge_mtu.get(node.name, 0)))
    # management bridges of mgmt-net links; in a lab with a Docker management network the
    # bridge is that network's, made with the first Docker node: wait for it
    docker_nodes = [f"node:{n.name}" for n in nodes.values()
                    if n.container is not None and n.netns is not None]
    for link in links_here:
        if link.bridge and f"bridge:{link.bridge}" not in actions:
            network = topo.mgmt is not None and topo.mgmt.bridge == link.bridge
            add(EnsureBridge(link.bridge, bridge_mtu.get(link.bridge, 0)),
                docker_nodes if network else [])

    by_ns: dict[str | None, list[Iface]] = defaultdict(list)
    for i in interfaces:
        by_ns[i.netns].append(i)
    for np in nodes.values():
        if np.netns is not None:
            by_ns.setdefault(np.netns, [])  # lo up even in a node without links
    veth_ids = defaultdict(list)  # namespace -> actions that put an interface there
    for action in actions.values():
        if isinstance(action, CreateVeth):
            veth_ids[action.main.netns].append(action.id)
            if not action.parked:
                veth_ids[action.peer.netns].append(action.id)
        elif isinstance(action, AttachEnd):
            veth_ids[action.veth.peer.netns].append(action.id)
        elif isinstance(action, CreateDevice | MoveDevice):
            veth_ids[action.iface.netns].append(action.id)
    for ns, ifs in by_ns.items():
        if ns is None and not any(i.addresses for i in ifs):
            continue  # host-side ends are created up; nothing else to do in the host
        after = veth_ids[ns] or [f"on-enter:create-links:{_owner(nodes, ns)}"]
        add(Configure(ns, tuple(ifs)), after)

    for node in staged:
        np = nodes[node.name]
        name = node.name
        point(node, "create-links", "on-exit", [f"configure:{np.netns}"])
        ready = f"on-exit:create-links:{name}"
        if np.cmd or np.container:  # the workload starts once its interfaces are in place
            add(StartNode(np), [ready])
            ready = f"start:{name}"
        point(node, "configure", "on-enter", [ready])
        if np.exec:
            # `exec:` runs once the node's links are up at both ends (containerlab's
            # "after links"), so a ping to a peer works; stage points do not wait for
            # peers, so wait-for between linked nodes does not loop
            add(Exec(np), [f"on-enter:configure:{name}",
                           *(f"configure:{ns}" for ns in sorted(peers[name]))])
        point(node, "configure", "on-exit",
              [f"exec:{name}" if np.exec else f"on-enter:configure:{name}"])
        last = f"on-exit:configure:{name}"
        for stage in ("healthy", "exit"):
            if (name, stage) in referenced:
                point(node, stage, "on-enter", [last])
                point(node, stage, "on-exit", [f"on-enter:{stage}:{name}"])
                last = f"on-exit:{stage}:{name}"

    _add_shared_namespace_nodes(nodes, add)
    plan = Plan(
        lab=topo.name,
        nodes=nodes,
        interfaces=tuple(interfaces),
        actions=actions,
        deps={k: frozenset(v) for k, v in deps.items()},
        host=host,
    )
    return plan, _find_cycle(deps)


def _single_ended(topo: Topology, link: Link, host: str | None) -> list[Action] | None:
    """The actions of a link that is not a veth pair between two local nodes (None for
    those: the caller plans them)."""
    if link.type == "veth" and link.vxlan is None:
        return None
    if link.type == "host":
        return None
    if link.type == "veth":  # across hosts: this host's end is a VXLAN device
        assert link.vxlan is not None
        end, other = link.endpoints
        if topo.nodes[end.node].host != host:
            end, other = other, end
        far = topo.hosts[str(topo.nodes[other.node].host)]
        near = topo.hosts[str(host)]
        iface = _iface(topo, topo.nodes[end.node], end, link,
                       f"{other} (on host {far.name})")
        tunnel = VxlanSpec(link.vxlan.vni, str(far.address), str(near.address),
                           link.vxlan.dst_port, link.vxlan.src_ports, link.vxlan.parent)
        return [CreateDevice(iface, "vxlan", vxlan=tunnel, where=link.where)]

    (end,) = link.endpoints
    node = topo.nodes[end.node]
    if link.type in ("vxlan", "vxlan-stitch"):
        assert link.vxlan is not None and link.vxlan.remote is not None
        local = topo.hosts[node.host].address if node.host else None
        tunnel = VxlanSpec(link.vxlan.vni, str(link.vxlan.remote),
                           str(local) if local else None, link.vxlan.dst_port,
                           link.vxlan.src_ports, link.vxlan.parent)
        remote = f"vxlan {link.vxlan.remote} vni {link.vxlan.vni}"
        if link.type == "vxlan":
            iface = _iface(topo, node, end, link, remote)
            if not link.mtu and not link.vxlan.parent:
                # no parent to derive it from: the kernel would say 1500 and large frames
                # would not fit the underlay; assume a 1500 underlay, as for a stitch
                iface = replace(iface, mtu=DEFAULT_UNDERLAY_MTU
                                - VXLAN_OVERHEAD[link.vxlan.remote.version])
            return [CreateDevice(iface, "vxlan", vxlan=tunnel, where=link.where)]
        # vxlan-stitch: node <-veth-> host side, host side <-tc-> VXLAN device in the host
        assert link.host_interface is not None and link.stitch_device is not None
        # frames the VXLAN device cannot carry would be dropped at the redirect: the
        # veth gets the tunnel's MTU
        mtu = link.mtu or DEFAULT_UNDERLAY_MTU - VXLAN_OVERHEAD[link.vxlan.remote.version]
        node_if = replace(_iface(topo, node, end, link, f"host:{link.host_interface}"),
                          mtu=mtu)
        host_if = Iface("host", None, link.host_interface,
                        derive_mac(topo.name, "host", link.host_interface), mtu, peer=str(end))
        vx_if = Iface("host", None, link.stitch_device,
                      derive_mac(topo.name, "host", link.stitch_device), mtu, peer=remote)
        veth = CreateVeth(host_if, node_if, link.where)
        device = CreateDevice(vx_if, "vxlan", vxlan=tunnel, where=link.where)
        return [veth, device, Stitch(host_if.name, vx_if.name, link.where)]
    if link.type == "macvlan":
        iface = _iface(topo, node, end, link, f"macvlan on host:{link.host_interface}")
        return [CreateDevice(iface, "macvlan", parent=link.host_interface,
                             mode=link.mode or "bridge", where=link.where)]
    if link.type == "dummy":
        return [CreateDevice(_iface(topo, node, end, link, "dummy"), "dummy", where=link.where)]
    if link.type == "mgmt-net":
        assert link.host_interface is not None and link.bridge is not None
        node_if = _iface(topo, node, end, link, f"mgmt-net:{link.host_interface}")
        host_if = Iface("host", None, link.host_interface,
                        derive_mac(topo.name, "host", link.host_interface), link.mtu,
                        peer=str(end), master=link.bridge)
        return [CreateVeth(host_if, node_if, link.where)]
    if link.type == "host-device":
        source = link.host_interface or f"hwaddr {link.hwaddr}"
        iface = replace(_iface(topo, node, end, link, f"host device {source}"),
                        mac=end.mac or "")
        return [MoveDevice(iface, link.host_interface, link.hwaddr, link.where)]
    raise PlanError(f"link type {link.type!r} has no plan ({link.where})")


def _device_deps(action: Action) -> list[str]:
    """What a single-ended link's action waits for: its node's create-links stage, its
    bridge, and for a stitch both of its ends."""
    if isinstance(action, Stitch):
        return [f"veth:host/{action.a}", f"device:host/{action.b}"]
    ifaces = made_by(action)
    after = [f"on-enter:create-links:{i.node}" for i in ifaces if i.netns is not None]
    after += [f"bridge:{i.master}" for i in ifaces if i.master]
    return after


def _add_shared_namespace_nodes(nodes: Mapping[str, NodePlan],
                                add: Callable[[Action, Iterable[str]], None]) -> None:
    """Docker nodes with ``network-mode: host`` or ``container:<node>``: no namespace to
    make or wire; they start after the node whose namespace they join has started."""
    for np in nodes.values():
        if np.container is None or np.netns is not None:
            continue
        mode = np.container.network_mode
        owner = next((o.name for o in nodes.values() if o.container is not None
                      and mode == f"container:{o.container.name}"), None)
        add(StartNode(np), [f"start:{owner}"] if owner else [])
        if np.exec:
            add(Exec(np), [f"start:{np.name}"])


def _find_cycle(deps: Mapping[str, set[str]]) -> list[str] | None:
    """A dependency cycle as action ids (each waits for the next), or None."""
    done: set[str] = set()
    on_path: dict[str, int] = {}
    path: list[str] = []
    for start in sorted(deps):
        if start in done:
            continue
        stack = [(start, iter(sorted(deps.get(start, ()))))]
        on_path[start] = 0
        path.append(start)
        while stack:
            aid, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                del on_path[aid]
                done.add(aid)
            elif child in on_path:
                return [*path[on_path[child]:], child]
            elif child not in done:
                on_path[child] = len(path)
                path.append(child)
                stack.append((child, iter(sorted(deps.get(child, ())))))
    return None


def _describe(actions: Mapping[str, Action], action_id: str) -> str:
    """A step of a cycle in the user's words; "" for steps not worth naming."""
    action = actions[action_id]
    if isinstance(action, StagePoint):
        done = "enter" if action.phase == "on-enter" else "done"
        return f"{action.node.name}:{action.stage} ({done})"
    if isinstance(action, CreateVeth):
        main, peer = action.main, action.peer
        return f"link {main.node}:{main.name} <-> {peer.node}:{peer.name}"
    return ""


def _owner(nodes: Mapping[str, NodePlan], netns: str | None) -> str:
    for np in nodes.values():
        if np.netns == netns:
            return np.name
    raise PlanError(f"no node owns namespace {netns}")
