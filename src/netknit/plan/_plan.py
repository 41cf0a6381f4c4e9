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

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field

from .. import kinds
from .._dataclass import dataclass
from .._errors import PlanError, Problem
from ..links import registry
from ..topology import AUTO_BRIDGE, DEFAULT_PRIVATE_DIRS, Node, StageExec, Topology
from . import _ids as ids
from ._actions import (
    AttachEnd,
    CreateDevice,
    CreateVeth,
    EnsureBridge,
    LinkAction,
    MoveDevice,
    Planning,
    Stitch,
    made_by,
)
from ._container import ContainerSpec, container_spec
from ._iface import Iface


@dataclass(frozen=True, slots=True)
class NodePlan:
    """One node as the plan makes it: namespace, command, environment, startup."""

    name: str
    kind: str
    netns: str | None  # None for nodes in the host namespace (bridge, host)
    cmd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    exec: tuple[str, ...] = ()
    startup_delay: int = 0
    container: ContainerSpec | None = None  # Docker nodes (kind linux) only
    runtime: str = "netns"  # the runtime (runtimes' registry name) that runs the node
    # a view of its own (netns nodes): binds ("host-path:path[:ro]") and private dirs
    binds: tuple[str, ...] = ()
    private_dirs: tuple[str, ...] = DEFAULT_PRIVATE_DIRS


def runtime_of(kind: str) -> str:
    """The runtime (a name in the runtimes' registry) that runs a node of ``kind``; the
    built-in one for kinds that run nothing (their nodes have no namespace to run in)."""
    return kinds.get(kind).runtime or "netns"


# -- actions -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateNode:
    """Make a node's holder, through its runtime: its namespace, empty but for ``lo``."""

    node: NodePlan

    @property
    def id(self) -> str:
        return ids.node(self.node.name)


@dataclass(frozen=True, slots=True)
class Configure:
    """Bring up and address every interface of one namespace (``lo`` included)."""

    netns: str | None
    interfaces: tuple[Iface, ...]

    @property
    def id(self) -> str:
        return ids.configure(self.netns)


@dataclass(frozen=True, slots=True)
class StartNode:
    """Start a node's workload, once its links are in place."""

    node: NodePlan

    @property
    def id(self) -> str:
        return ids.start(self.node.name)


@dataclass(frozen=True, slots=True)
class Exec:
    """Run a node's ``exec`` commands, once it has started."""

    node: NodePlan

    @property
    def id(self) -> str:
        return ids.run(self.node.name)


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
        return ids.stage(self.phase, self.stage, self.node.name)


Action = (CreateNode | EnsureBridge | CreateVeth | AttachEnd | CreateDevice | MoveDevice
          | Stitch | Configure | StartNode | Exec | StagePoint)


@dataclass(frozen=True)
class Plan:
    """Everything a deploy does, as actions and the actions each waits for."""

    lab: str
    nodes: Mapping[str, NodePlan]
    interfaces: tuple[Iface, ...]
    actions: Mapping[str, Action]
    deps: Mapping[str, frozenset[str]]  # action id -> ids it waits for
    host: str | None = None  # the host this plan is for, in a lab that spans hosts

    def waves(self) -> list[list[Action]]:
        """Topological generations: every action of a wave only needs earlier waves.

        Each action's dependants are counted down as their needs finish (linear in
        actions and edges: a 2000-node chain has ~10 000 actions); a wave keeps the
        actions in plan order."""
        order = {aid: i for i, aid in enumerate(self.deps)}
        waiting = {aid: len(d) for aid, d in self.deps.items()}
        dependants: dict[str, list[str]] = {}
        for aid, needs in self.deps.items():
            for need in needs:
                dependants.setdefault(need, []).append(aid)
        ready = [aid for aid, count in waiting.items() if not count]
        waves: list[list[Action]] = []
        while ready:
            waves.append([self.actions[aid] for aid in ready])
            freed = []
            for aid in ready:
                del waiting[aid]
                for user in dependants.get(aid, ()):
                    waiting[user] -= 1
                    if not waiting[user]:
                        freed.append(user)
            ready = sorted(freed, key=order.__getitem__)
        if waiting:
            raise PlanError(f"cycle among: {', '.join(sorted(waiting))}")
        return waves

    def without(self, kind: type) -> Plan:
        """This plan without its actions of ``kind`` (what waited for them goes on)."""
        keep = [aid for aid, a in self.actions.items() if not isinstance(a, kind)]
        kept = set(keep)
        return dataclasses.replace(self, actions={a: self.actions[a] for a in keep},
                                   deps={a: self.deps[a] & kept for a in keep})

    def of_kind(self, kind: type) -> list[Action]:
        return [a for a in self.actions.values() if isinstance(a, kind)]

    def interfaces_of(self, node: str) -> list[Iface]:
        return [i for i in self.interfaces if i.node == node]

    def link_actions(self) -> list[LinkAction]:
        return [a for a in self.actions.values()
                if isinstance(a, CreateVeth | CreateDevice | MoveDevice)]


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
        entering, leaving = ids.parse_stage(here), ids.parse_stage(there)
        if entering is None or leaving is None or entering[0] != "on-enter" or \
                leaving[0] != "on-exit":
            continue
        _, stage, name = entering
        _, their_stage, their_node = leaving
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
        action, point = actions[here], ids.parse_stage(there)
        if isinstance(action, CreateVeth) and point is not None and \
                point[:2] == ("on-enter", "create-links"):
            node = point[2]
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
        aid = action.id
        if aid in actions:
            raise PlanError(f"two actions would both create {aid}")
        actions[aid] = action
        deps[aid] = set(after)

    here = {n.name for n in topo.nodes.values() if n.host == host}
    for node in topo.nodes.values():
        if node.name not in here:
            continue  # another host's
        in_host = not kinds.get(node.kind).own_namespace
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
            runtime=runtime_of(node.kind),
            binds=node.binds if spec is None else (),  # a container's are in its spec
            private_dirs=node.private_dirs,
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
        waits = [ids.leave(w.stage, w.node) for w in spec.wait_for] if spec and \
            phase == "on-enter" else []
        add(StagePoint(nodes[node.name], stage, phase, hooks), [*after, *waits])

    for node in staged:
        point(node, "create", "on-enter", [])
        add(CreateNode(nodes[node.name]), [ids.enter("create", node.name)])
        point(node, "create", "on-exit", [ids.node(node.name)])
        point(node, "create-links", "on-enter", [ids.leave("create", node.name)])

    bridge_mtu: dict[str, int] = defaultdict(int)
    interfaces: list[Iface] = []
    peers: dict[str, set[str]] = defaultdict(set)  # node -> namespaces it is linked to
    links_here = [link for link in topo.links if any(e.node in here for e in link.endpoints)]
    types = registry()
    site = Planning(topo, host, parked)
    stitched: dict[str | None, list[str]] = defaultdict(list)  # namespace -> its links' stitches
    for link in links_here:
        made: list[Iface] = []
        for planned, after in types[link.type].plan(link, site):
            add(planned, after)
            made += made_by(planned)
            if isinstance(planned, Stitch):  # a node's link carries traffic once stitched
                for i in made:
                    stitched[i.netns].append(planned.id)
        for i in made:
            interfaces.append(i)
            if i.master:
                bridge_mtu[i.master] = max(bridge_mtu[i.master], i.mtu)
            for other in made:
                if other is not i and other.netns is not None:
                    peers[i.node].add(other.netns)

    for node in topo.nodes.values():
        if kinds.get(node.kind).ports and node.name in nodes:
            add(EnsureBridge(node.name, bridge_mtu.get(node.name, 0)))
    # the other bridges links join: the management bridge; in a lab with a Docker
    # management network it is that network's, made with the first Docker node: wait for it
    docker_nodes = [ids.node(n.name) for n in nodes.values()
                    if n.container is not None and n.netns is not None]
    for i in interfaces:
        if i.master and ids.bridge(i.master) not in actions:
            network = topo.mgmt is not None and i.master in (topo.mgmt.bridge, AUTO_BRIDGE)
            add(EnsureBridge(i.master, bridge_mtu.get(i.master, 0)),
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
        if ns is None and not any(i.addresses or i.impairment for i in ifs):
            continue  # host-side ends are created up; nothing else to do in the host
        after = [*veth_ids[ns], *stitched[ns]] or [ids.enter("create-links", _owner(nodes, ns))]
        add(Configure(ns, tuple(ifs)), after)

    for node in staged:
        np = nodes[node.name]
        name = node.name
        point(node, "create-links", "on-exit", [ids.configure(np.netns)])
        ready = ids.leave("create-links", name)
        if np.cmd or np.container:  # the workload starts once its interfaces are in place
            add(StartNode(np), [ready])
            ready = ids.start(name)
        point(node, "configure", "on-enter", [ready])
        if np.exec:
            # `exec:` runs once the node's links are up at both ends (containerlab's
            # "after links"), so a ping to a peer works; stage points do not wait for
            # peers, so wait-for between linked nodes does not loop
            add(Exec(np), [ids.enter("configure", name),
                           *(ids.configure(ns) for ns in sorted(peers[name]))])
        point(node, "configure", "on-exit",
              [ids.run(name) if np.exec else ids.enter("configure", name)])
        last = ids.leave("configure", name)
        for stage in ("healthy", "exit"):
            if (name, stage) in referenced:
                point(node, stage, "on-enter", [last])
                point(node, stage, "on-exit", [ids.enter(stage, name)])
                last = ids.leave(stage, name)

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
        add(StartNode(np), [ids.start(owner)] if owner else [])
        if np.exec:
            add(Exec(np), [ids.start(np.name)])


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
