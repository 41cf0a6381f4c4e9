"""Node lifecycle, as containerlab's `stop`, `start` and `restart`: one or more nodes of a
deployed lab (all of them when none is named) are stopped and started again with a
seamless dataplane.

Stopping a node records it as stopped in the journal (reconcile and watch leave it alone
from then on), parks its link ends (:mod:`._parking`: the peer keeps its side), then
stops its workload and its namespace holder. Starting it clears the record and runs the
repair path: the holder comes back (a netns node's namespace is made again, a container
node's containers are started), the parked ends are moved back in and configured, what
could not be parked is made again, the workload starts and the hooks marked
``on-restart`` run. Restart is stop, then start.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import field
from typing import Any

from .._dataclass import dataclass
from .._errors import NetknitError, UsageError
from ..plan import NodePlan
from ..runtimes import Runtime
from ..state import LabDir
from ..topology import Topology
from ._destroy import stop_grace
from ._executor import Executor, desired_state
from ._parking import DESTROYED, STOPPED, held_map, mark_held, park, parking_effect
from ._reconcile import ReconcileResult, open_lab, repair, take_down
from ._report import Reporter


@dataclass
class LifecycleResult:
    """What a stop/start/restart did, node by node."""

    lab: str
    done: dict[str, str] = field(default_factory=dict)  # node -> "stopped" | "started" | ...
    notes: list[str] = field(default_factory=list)
    repair: ReconcileResult | None = None  # start: the repair that brought the nodes back
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return bool(self.repair and self.repair.failed)

    def to_json(self) -> dict[str, Any]:
        return {"lab": self.lab, "nodes": self.done, "notes": self.notes,
                "repairs": [d.to_json() for d in self.repair.drifts] if self.repair else []}


def select(executor: Executor, names: Sequence[str], result: LifecycleResult) -> list[NodePlan]:
    """The nodes named (every node with a namespace when none is): containerlab refuses a
    name that is not in the topology; a node without a namespace of its own (a bridge, a
    container in another's namespace) has no lifecycle and is skipped."""
    plan = executor.plan
    unknown = [n for n in names if n not in plan.nodes]
    if unknown:
        raise UsageError(f"node {unknown[0]!r} is not present in the topology",
                         hint=f"nodes: {', '.join(plan.nodes)}")
    chosen = [plan.nodes[n] for n in dict.fromkeys(names)] if names else \
        list(plan.nodes.values())
    for node in chosen:
        if node.netns is None and names:
            result.notes.append(f"node {node.name} ({node.kind}) has no namespace of its own: "
                                "skipped")
    return [n for n in chosen if n.netns is not None]


def stop(topo: Topology, lab_dir: LabDir, nodes: Sequence[str] = (), *,
         grace: float | None = None, max_workers: int = 8, reporter: Reporter | None = None,
         runtimes: Mapping[str, Runtime] | None = None) -> LifecycleResult:
    """Stop nodes (all when ``nodes`` is empty), their link ends parked (``grace``:
    seconds each workload gets to end after its stop signal; default the engine timeout,
    as containerlab)."""
    if grace is None:
        grace = stop_grace()
    started = time.monotonic()
    result = LifecycleResult(topo.name)
    with open_lab(topo, lab_dir, "stop", max_workers=max_workers, reporter=reporter,
                  runtimes=runtimes) as (executor, state):
        held = held_map(state.markers)
        todo = []
        for node in select(executor, nodes, result):
            if node.name in held:
                result.done[node.name] = f"already {held[node.name]}"
            else:
                todo.append(node)
        if todo:
            # recorded first: a watcher that sees the node go must not bring it back
            mark_held(executor, state.markers, add=[n.name for n in todo])
            effects = {n.name: parking_effect(str(n.netns)) for n in todo}
            executor.intend(effects.values())
            desired = desired_state(executor.plan, executor.runtimes)

            def one(node: NodePlan) -> list[str]:
                runtime = executor.runtime(node)
                recorded = desired.nodes[node.name]
                runtime.observe(recorded)  # which container holds the namespace now
                ns = runtime.open(recorded)
                left: list[str] = []
                if ns is not None:
                    try:
                        left = park(executor, node, ns, effects[node.name])
                    finally:
                        ns.close()
                take_down(executor, node, state.effects, grace=grace)
                return left

            try:
                for left in executor.parallel(todo, one, "stop"):
                    result.notes += [f"could not park {what}; it is made again on start"
                                     for what in left]
            finally:
                executor.done(e for e in effects.values() if "inode" in e.info)
            for node in todo:
                result.done[node.name] = STOPPED
    result.seconds = time.monotonic() - started
    return result


def start(topo: Topology, lab_dir: LabDir, nodes: Sequence[str] = (), *,
          max_workers: int = 8, reporter: Reporter | None = None,
          runtimes: Mapping[str, Runtime] | None = None) -> LifecycleResult:
    """Start stopped nodes (all when ``nodes`` is empty) with their links, through the
    repair path (which also repairs whatever else drifted in the lab)."""
    started = time.monotonic()
    result = LifecycleResult(topo.name)
    with open_lab(topo, lab_dir, "start", max_workers=max_workers, reporter=reporter,
                  runtimes=runtimes) as (executor, state):
        held = held_map(state.markers)
        chosen = select(executor, nodes, result)
        gone = [n.name for n in chosen if held.get(n.name) == DESTROYED]
        if gone and nodes:
            raise NetknitError(f"node {gone[0]} was destroyed (destroy --node-filter): there "
                               "is nothing to start", hint="deploy it again")
        names = [n.name for n in chosen if n.name not in gone]
        rest = mark_held(executor, state.markers, drop=names)
        result.repair = repair(executor, state, held=frozenset(rest))
        for name in names:
            result.done[name] = "started" if name in held else "running"
    result.seconds = time.monotonic() - started
    return result


def restart(topo: Topology, lab_dir: LabDir, nodes: Sequence[str] = (), *,
            grace: float | None = None, max_workers: int = 8, reporter: Reporter | None = None,
            runtimes: Mapping[str, Runtime] | None = None) -> LifecycleResult:
    """Stop, then start nodes (all when ``nodes`` is empty)."""
    began = time.monotonic()
    stopped = stop(topo, lab_dir, nodes, grace=grace, max_workers=max_workers,
                   reporter=reporter, runtimes=runtimes)
    result = start(topo, lab_dir, nodes, max_workers=max_workers, reporter=reporter,
                   runtimes=runtimes)
    result.notes[:0] = stopped.notes
    result.done = {name: "restarted" for name in result.done}
    result.seconds = time.monotonic() - began
    return result


__all__ = ["LifecycleResult", "restart", "start", "stop"]
