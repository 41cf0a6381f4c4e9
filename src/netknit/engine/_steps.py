"""Steps: one small unit per plan action kind, each given the executor and a group of
actions of its kind from one wave (so that it can batch: one journal write per group,
pipelined netlink requests). No step calls another.

The link-type steps (devices born in place, moved host devices, stitches) are in
:mod:`._devices`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .._errors import ExecFailure, KernelError, RuntimeFailure, StateError
from ..kernel import IfConfig, VethEnd, configure, create_bridge, links, move_links
from ..kernel import create_veths as kernel_create_veths
from ..kernel import netns as kernel_netns
from ..kernel._qdisc import impair_all
from ..plan import (
    Action,
    AttachEnd,
    Configure,
    CreateDevice,
    CreateNode,
    CreateVeth,
    EnsureBridge,
    Exec,
    MoveDevice,
    NodePlan,
    StagePoint,
    StartNode,
    Stitch,
)
from ..runtimes import ExecResult, Runtime
from ..state import Effect, EffectKind
from ..topology import AUTO_BRIDGE, StageExec
from ._devices import create_devices, move_devices, stitch_links
from ._executor import STAGE_TIMEOUT, Executor

#: veth pairs per pipelined batch of requests
VETH_CHUNK = 64


# -- nodes ---------------------------------------------------------------------------------

def create_nodes(executor: Executor, actions: Sequence[CreateNode]) -> None:
    """Make each node's namespace holder (through its runtime) and keep it open."""
    for runtime, nodes in executor.by_runtime(a.node for a in actions):
        _make_shared(executor, runtime, nodes)
        _create_holders(executor, runtime, nodes)


def _create_holders(executor: Executor, runtime: Runtime, nodes: Sequence[NodePlan]) -> None:
    effects = {node.name: runtime.intent_create(node) for node in nodes}
    executor.intend(effects.values())

    def create(node: NodePlan) -> None:
        ns = runtime.create(node, executor.mark, effects[node.name])
        executor.crash()
        if ns is not None:
            executor.adopt(ns, made=runtime.empty_namespaces)

    try:
        executor.parallel(nodes, create, runtime.noun, adaptive=runtime.remote_engine)
    finally:
        # what was made is recorded, even if another node failed: destroy removes by
        # the identity recorded here
        executor.done([e for e in effects.values() if runtime.identify(e)])


def _make_shared(executor: Executor, runtime: Runtime, nodes: Sequence[NodePlan]) -> None:
    """What a runtime's nodes share (a management network), made once per run."""
    if runtime.name in executor.shared_done:
        return
    executor.shared_done.add(runtime.name)
    for effect in runtime.shared(executor.topo.name, executor.topo.mgmt, nodes):
        executor.intend([effect])
        note = runtime.make_shared(effect)
        executor.mgmt_made = {k: effect.info[k] for k in ("bridge", "mtu") if k in effect.info}
        if note is None:
            executor.done([effect])
        else:
            executor.journal.removed([effect.key])  # someone else's: never ours to remove
            executor.report.note(note)


def start_nodes(executor: Executor, actions: Sequence[StartNode]) -> None:
    """Let each workload run: its namespace is wired."""
    for runtime, nodes in executor.by_runtime(a.node for a in actions):
        _start_workloads(executor, runtime, nodes)


def _start_workloads(executor: Executor, runtime: Runtime, nodes: Sequence[NodePlan]) -> None:
    dirs = {node.name: executor.lab_dir.node_dir(node.name) for node in nodes}
    effects = {node.name: runtime.intent_start(node, dirs[node.name]) for node in nodes}
    recorded = [e for e in effects.values() if e is not None]
    executor.intend(recorded)

    def start(node: NodePlan) -> None:
        ns = executor.namespaces.get(node.netns) if node.netns else None
        runtime.start(node, ns, dirs[node.name], effects[node.name])
        executor.crash()

    try:
        executor.parallel(nodes, start, "start", adaptive=runtime.remote_engine)
    finally:
        executor.done([e for e in recorded if runtime.identify(e)])


def exec_node(executor: Executor, node: NodePlan, argv: Sequence[str],
              timeout: float | None = None) -> ExecResult:
    """Run ``argv`` in a node, whichever runtime it is on."""
    ns = executor.namespaces.get(node.netns) if node.netns else None
    return executor.runtime(node).exec(node, ns, argv, timeout=timeout)


def run_execs(executor: Executor, actions: Sequence[Exec]) -> None:
    import shlex  # here, as in run_hook: most labs run no commands (~1 ms to import)

    def run(action: Exec) -> list[ExecResult]:
        out = []
        for command in action.node.exec:
            try:
                argv = shlex.split(command)
            except ValueError as exc:
                out.append(ExecResult(action.node.name, command, 2, f"bad quoting: {exc}\n"))
                continue
            result = exec_node(executor, action.node, argv, timeout=300)
            out.append(result)
            executor.report.exec_output(result)
        return out

    for results in executor.parallel(actions, run, "exec"):
        executor.outcome.exec_results.extend(results)


# -- bridges and veth pairs ---------------------------------------------------------------

def ensure_bridges(executor: Executor, actions: Sequence[EnsureBridge]) -> None:
    existing = {link.name: link for link in links(executor.host) if link.kind == "bridge"}
    if any(a.name == AUTO_BRIDGE for a in actions):  # the runtime's network's, made by now
        bridge = str(executor.mgmt_made.get("bridge", ""))
        found = existing.get(bridge)
        if found is None:
            raise StateError(f"the management network's bridge {bridge!r} "
                             "is not in this namespace", hint="mgmt-net links need the "
                             "management network on this machine; set `mgmt: bridge:`")
        executor.bridge_index[AUTO_BRIDGE] = found.index
        actions = [a for a in actions if a.name != AUTO_BRIDGE]
    to_make = [a for a in actions if a.name not in existing]
    for action in actions:
        if action.name in existing:
            executor.report.note(f"using existing bridge {action.name} (it stays after destroy)")
            executor.bridge_index[action.name] = existing[action.name].index
    effects = [Effect(EffectKind.BRIDGE, a.name) for a in to_make]
    executor.intend(effects)
    for action in to_make:
        create_bridge(executor.host, action.name, mtu=action.mtu or None, alias=executor.mark)
        executor.crash()
    if to_make:
        now = {link.name: link for link in links(executor.host)}
        for action, effect in zip(to_make, effects, strict=True):
            executor.bridge_index[action.name] = now[action.name].index
            effect.info["ifindex"] = now[action.name].index
        executor.done(effects)


def _end(executor: Executor, iface_ns: str | None, name: str, mac: str, mtu: int,
         master: str | None) -> VethEnd:
    if iface_ns is None:  # the host namespace: the kernel picks the index
        return VethEnd(name, None, mac, mtu,
                       executor.bridge_index.get(master) if master else None,
                       alias=executor.mark)
    return VethEnd(name, executor.namespaces[iface_ns].fd, mac, mtu, None,
                   executor.pin(iface_ns, name))


def _parked_end(executor: Executor, action: CreateVeth) -> VethEnd:
    """The peer end of a parked link: born under its final name in a private parking
    namespace of its node (so two nodes' parked ``eth1`` do not clash), which dies
    with this process if it dies, taking both ends with it."""
    target = str(action.peer.netns)
    parking = executor.parking.get(target)
    if parking is None:
        parking = executor.parking[target] = kernel_netns.anonymous(f"parking for {target}")
    peer = action.peer
    return VethEnd(peer.name, parking.fd, peer.mac, peer.mtu, None, 0)


def create_veths(executor: Executor, actions: Sequence[CreateVeth]) -> None:
    for action in actions:
        for iface in (action.main, action.peer):
            if iface.netns is not None and iface.netns not in executor.namespaces and \
                    not (action.parked and iface is action.peer):
                raise RuntimeFailure(f"namespace {iface.netns} is not open")
    effects = [Effect(EffectKind.LINK, a.main.name, a.main.netns,
                      {"peer": a.peer.name, "peer_ns": a.peer.netns}) for a in actions]
    executor.intend(effects)
    executor.report.step("links", len(actions))
    pairs = [
        (_end(executor, a.main.netns, a.main.name, a.main.mac, a.main.mtu, a.main.master),
         _parked_end(executor, a) if a.parked else
         _end(executor, a.peer.netns, a.peer.name, a.peer.mac, a.peer.mtu, None))
        for a in actions
    ]
    for start in range(0, len(pairs), VETH_CHUNK):
        errors = kernel_create_veths(executor.host, pairs[start : start + VETH_CHUNK])
        for action, err in zip(actions[start : start + VETH_CHUNK], errors, strict=True):
            if err is not None:
                raise KernelError(
                    f"create link {action.main.node}:{action.main.name} <-> "
                    f"{action.peer.node}:{action.peer.name} ({action.where})",
                    err.errno, detail=err.message,
                )
        executor.report.advance(len(errors))
        executor.crash()
    executor.done(effects)


def attach_ends(executor: Executor, actions: Sequence[AttachEnd]) -> None:
    for action in actions:
        peer = action.veth.peer
        parking = executor.parking[str(peer.netns)]
        index = next((i.index for i in links(parking.nl) if i.name == peer.name), 0)
        moves = [(index, executor.namespaces[str(peer.netns)].fd,
                  f"attach {peer.node}:{peer.name}")]
        for err in move_links(parking.nl, moves):
            if err is not None:
                raise err
    executor.crash()


def configure_namespaces(executor: Executor, actions: Sequence[Configure]) -> None:
    # a host device moved into a node is not netknit's: never marked
    moved = {(a.iface.netns, a.iface.name) for a in executor.plan.actions.values()
             if isinstance(a, MoveDevice)}

    def run(action: Configure) -> None:
        netns = action.netns
        items = [IfConfig(i.name, True, i.addresses,
                          executor.ifindex.get((netns, i.name), 0) if netns else 0,
                          None if (netns, i.name) in moved else executor.mark)
                 for i in action.interfaces]
        configure(executor.netlink(netns), items, loopback_up=netns is not None)
        impaired = {i.name: i.impairment for i in action.interfaces if i.impairment}
        if impaired:  # a qdisc goes with its interface: nothing to journal or undo
            impair_all(executor.netlink(netns), impaired)
        executor.crash()

    # one namespace after another, in this thread: each is a few netlink requests that the
    # kernel serializes under the RTNL anyway, so threads only add GIL hand-offs (each
    # syscall's return waits for the GIL). Measured on 100 namespaces, 2 cores: 47 ms on 8
    # threads, 33 ms here.
    executor.parallel(actions, run, "configure", threads=False)


# -- lifecycle stages (containerlab's ``stages:``) -------------------------------------------

def stage_points(executor: Executor, points: Sequence[StagePoint]) -> None:
    """Run stage hooks; finishing ``healthy``/``exit`` waits for the workload."""
    busy = [p for p in points if p.hooks or (p.phase == "on-exit" and
                                            p.stage in ("healthy", "exit"))]
    if busy:
        executor.parallel(busy, lambda point: _stage_point(executor, point), "stages")


def _stage_point(executor: Executor, point: StagePoint) -> None:
    if point.phase == "on-exit" and point.stage in ("healthy", "exit"):
        condition = "healthy" if point.stage == "healthy" else "exited"
        executor.runtime(point.node).wait_for(point.node, condition, STAGE_TIMEOUT)
    for hook in point.hooks:
        result = run_hook(executor, point.node, hook)
        executor.outcome.exec_results.append(result)
        executor.report.exec_output(result)
        if result.returncode != 0:
            raise ExecFailure(point.node.name, result.command, result.returncode,
                              result.output, stage=f"{point.stage} {point.phase}")


def run_hook(executor: Executor, node: NodePlan, hook: StageExec) -> ExecResult:
    import shlex
    import subprocess

    try:
        argv = shlex.split(hook.command)
    except ValueError as exc:
        return ExecResult(node.name, hook.command, 2, f"bad quoting: {exc}\n")
    if hook.target == "container":
        return exec_node(executor, node, argv, timeout=STAGE_TIMEOUT)
    # the host: no shell unless the command names one; paths relative to the topology
    topo_path = executor.topo.path
    cwd = topo_path.parent if topo_path else None
    try:
        done = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=STAGE_TIMEOUT, check=False)
    except FileNotFoundError:
        return ExecResult(f"{node.name} (host)", hook.command, 127,
                          f"{argv[0]}: command not found\n")
    except subprocess.TimeoutExpired:
        return ExecResult(f"{node.name} (host)", hook.command, 124,
                          f"timed out after {STAGE_TIMEOUT:.0f}s\n")
    return ExecResult(f"{node.name} (host)", hook.command, done.returncode,
                      done.stdout.decode(errors="replace"))


# -- the table ---------------------------------------------------------------------------------

#: action kind -> its step, in the order a wave runs them
STEPS: list[tuple[type, Callable[[Executor, Any], None]]] = [
    (CreateNode, create_nodes),
    (EnsureBridge, ensure_bridges),
    (CreateVeth, create_veths),
    (AttachEnd, attach_ends),
    (CreateDevice, create_devices),
    (MoveDevice, move_devices),
    (Stitch, stitch_links),
    (Configure, configure_namespaces),
    (StartNode, start_nodes),
    (Exec, run_execs),
    (StagePoint, stage_points),
]


def run_wave(executor: Executor, wave: Sequence[Action]) -> None:
    """Run one wave, grouped by action kind so that each step can batch its work."""
    for kind, step in STEPS:
        group = [a for a in wave if isinstance(a, kind)]
        if group:
            step(executor, group)


def run_plan(executor: Executor, waves: Sequence[Sequence[Action]]) -> None:
    for wave in waves:
        run_wave(executor, wave)
