"""The executor: what every step of a deploy (or a repair) shares.

It owns the journal (an intent before every side effect, a done record after; one write
per group of actions), the crash points of the crash-safety tests, the bounded parallel
waves, the open namespaces, the ifindexes netknit gives in namespaces it just made, the
bridges' indexes, the runtimes and the reporter. Steps (:mod:`._steps`) receive it; no
step reaches into another.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from collections.abc import Callable, Iterable, Sequence
from dataclasses import field
from typing import Any, TypeVar

from .._dataclass import dataclass
from .._digest import sha256
from ..kernel import Namespace, Netlink
from ..plan import CreateVeth, MoveDevice, NodePlan, Plan, link_state, node_spec
from ..runtimes import ExecResult, Runtime, Runtimes
from ..state import Effect, IfaceState, LabDir, LabState, NodeState
from ..topology import Topology
from ._marks import lab_mark
from ._report import Reporter, SilentReporter
from ._threads import run_in_turn, run_threads

T = TypeVar("T")
R = TypeVar("R")

#: Crash injection for the crash-safety tests: SIGKILL ourselves at the K-th crash point.
CRASH_ENV = "NETKNIT_TEST_CRASH_AT"
#: How long a stage hook may run, or a node may take to become healthy/exit.
STAGE_TIMEOUT = 600.0


class CrashPoints:
    def __init__(self) -> None:
        raw = os.environ.get(CRASH_ENV)
        self.at = int(raw) if raw else 0
        self.count = 0

    def __call__(self) -> None:
        if self.at:
            self.count += 1
            if self.count >= self.at:
                os.kill(os.getpid(), signal.SIGKILL)


def topology_digest(topo: Topology) -> str:
    """Identity of what was deployed: the file's bytes (and its path)."""
    digest = sha256()
    if topo.path is not None:
        digest.update(str(topo.path).encode() + b"\0")
        with contextlib.suppress(OSError):
            digest.update(topo.path.read_bytes())
    digest.update(repr(sorted(topo.nodes)).encode())
    return digest.hexdigest()


def raise_fd_limit() -> None:
    """One fd and one socket per namespace: large labs need more than the default 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def desired_state(plan: Plan, runtimes: Runtimes) -> LabState:
    """Every node and every interface netknit creates, as it must be."""
    interfaces: dict[str, list[IfaceState]] = {}
    for iface in plan.interfaces:
        interfaces.setdefault(iface.node, []).append(IfaceState(
            iface.name, iface.mac, iface.mtu, tuple(str(a) for a in iface.addresses),
            iface.peer, iface.master,
            iface.impairment.to_json() if iface.impairment else None))
    nodes: dict[str, NodeState] = {}
    for node in plan.nodes.values():
        workload, holder = runtimes.of(node).names(node)
        nodes[node.name] = NodeState(node.name, node.kind, node.netns,
                                     tuple(interfaces.get(node.name, ())), node.runtime,
                                     workload, holder, node_spec(node))
    if interfaces.get("host") and "host" not in nodes:
        nodes["host"] = NodeState("host", "host", None, tuple(interfaces["host"]))
    return LabState(plan.lab, plan.host, nodes,
                    links={a.id: link_state(a) for a in plan.link_actions()})


@dataclass
class Outcome:
    """What a run of steps produced for the caller."""

    exec_results: list[ExecResult] = field(default_factory=list)


class Executor:
    """Runs steps for one lab; one instance per deploy or repair."""

    def __init__(self, topo: Topology, plan: Plan, lab_dir: LabDir, host: Netlink,
                 runtimes: Runtimes, *, max_workers: int | None = 8,
                 reporter: Reporter | None = None) -> None:
        self.topo = topo
        self.plan = plan
        self.lab_dir = lab_dir
        self.host = host
        self.runtimes = runtimes
        # None: engine calls adapt up to CEILING (see ._adaptive), other work uses 8
        self.worker_cap = max_workers
        self.max_workers = max(1, max_workers or 8)
        self.report = reporter or SilentReporter()
        self.crash = CrashPoints()
        self.journal = lab_dir.journal
        self.mark = lab_mark(topo.name, lab_dir)  # every kernel object made carries it
        self.outcome = Outcome()
        self.namespaces: dict[str, Namespace] = {}  # netns name -> open namespace
        self.bridge_index: dict[str, int] = {}
        # ifindexes netknit gives in namespaces it just made (lo is 1), so that configure
        # needs no lookups: (netns, ifname) -> ifindex
        self.ifindex: dict[tuple[str, str], int] = {}
        self._next_index: dict[str, int] = {}
        # namespaces this run created, where the ifindexes are netknit's to give
        self.fresh: set[str] = set()
        self.parking: dict[str, Namespace] = {}  # target namespace -> its parking namespace
        # namespaces that receive parked ends or host devices get no pinned ifindexes (a
        # moved-in interface keeps its own)
        self.receives_moved = {a.peer.netns for a in plan.actions.values()
                               if isinstance(a, CreateVeth) and a.parked}
        self.receives_moved |= {a.iface.netns for a in plan.actions.values()
                                if isinstance(a, MoveDevice)}
        self.shared_done: set[str] = set()  # runtimes whose shared objects are made
        # the management network as its runtime found it (``bridge``, ``mtu``)
        self.mgmt_made: dict[str, Any] = {}

    def runtime(self, node: NodePlan) -> Runtime:
        return self.runtimes.of(node)

    def by_runtime(self, nodes: Iterable[NodePlan]) -> list[tuple[Runtime, list[NodePlan]]]:
        """``nodes`` grouped by their runtime, in order of first appearance."""
        groups: dict[str, tuple[Runtime, list[NodePlan]]] = {}
        for node in nodes:
            groups.setdefault(node.runtime, (self.runtime(node), []))[1].append(node)
        return list(groups.values())

    # -- the journal ---------------------------------------------------------------------

    def intend(self, effects: Iterable[Effect]) -> None:
        self.journal.intend(effects)
        self.crash()

    def done(self, effects: Iterable[Effect]) -> None:
        self.journal.done(effects)
        self.crash()

    # -- bounded parallelism --------------------------------------------------------------

    def parallel(self, items: Sequence[T], fn: Callable[[T], R], label: str, *,
                 adaptive: bool = False, threads: bool = True) -> list[R]:
        """``fn`` over ``items`` on up to ``max_workers`` threads. Every item runs, also
        after another failed, and the first error in item order is raised once all have
        finished. ``adaptive``: calls to an engine, as many at once as its throughput
        allows (``max_workers`` given: at most that); there, no call starts after a
        failure (an engine that fails or hangs is not handed the rest of the lab, one
        timeout after the other) and the started ones finish. ``threads=False`` (work
        that the kernel serializes anyway), one item, or one worker: one after another in
        this thread, with the same contract."""
        if not items:
            return []
        self.report.step(label, len(items))
        if adaptive and len(items) > 1:
            from ._adaptive import CEILING, AdaptiveLimit, run_adaptive  # engines' calls only

            limit = AdaptiveLimit(self.worker_cap or CEILING)
            return run_adaptive(items, fn, limit, self.report.advance)
        if not threads or len(items) == 1 or self.max_workers == 1:
            return run_in_turn(items, fn, self.report.advance)
        return run_threads(items, fn, min(self.max_workers, len(items)), self.report.advance)

    # -- namespaces and ifindexes -----------------------------------------------------------

    def adopt(self, ns: Namespace, *, made: bool) -> None:
        """Keep ``ns`` open for the steps; ``made``: this run made it (netknit numbers
        the interfaces it creates there)."""
        self.namespaces[ns.name] = ns
        if made and ns.name not in self.receives_moved:
            self.fresh.add(ns.name)

    def netlink(self, netns: str | None) -> Netlink:
        return self.host if netns is None else self.namespaces[netns].nl

    def pin(self, netns: str | None, name: str) -> int:
        """The ifindex to give a new interface in ``netns``: 0 (the kernel picks) unless
        this run made the namespace, where netknit numbers them so configure needs no
        lookups."""
        if netns is None or netns not in self.fresh:
            return 0
        index = self._next_index.get(netns, 2)
        self._next_index[netns] = index + 1
        self.ifindex[(netns, name)] = index
        return index

    def close(self) -> None:
        self.runtimes.release()  # shared objects: another lab's destroy may remove them now
        for ns in self.namespaces.values():
            ns.close()
        self.namespaces.clear()
        for parking in self.parking.values():
            parking.close()
        self.parking.clear()
