"""The one interface every node runtime implements fully (checked by mypy: see
:mod:`._registry`). The engine speaks only this; it never names a runtime."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import field
from enum import Enum
from pathlib import Path
from typing import Protocol

from .._dataclass import dataclass
from ..kernel import Namespace
from ..kernel import netns as kernel_netns
from ..state import Effect, EffectKind, NodeState

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: destroy loads neither the planner nor the model
    from ..plan import MgmtAddress, NodePlan
    from ..topology import Mgmt

#: seconds a request to a runtime's engine may take (containerlab's global ``--timeout``)
API_TIMEOUT = [120.0]


def set_api_timeout(seconds: float) -> None:
    """How long a request to a runtime's engine may take, for runtimes made from now."""
    API_TIMEOUT[0] = seconds


@dataclass(frozen=True, slots=True)
class ExecResult:
    """A command run in a node: its exit status and output."""

    node: str
    command: str
    returncode: int
    output: str  # stdout and stderr together, unless stderr was asked apart
    stderr: str = ""


@dataclass(frozen=True, slots=True)
class Workload:
    """How to find a started workload again (recorded in the journal)."""

    pidfile: str
    pid: int
    start: int | None


class Fix(Enum):
    """What repairs a node-level problem, and when (relative to the node's links)."""

    RECREATE = "recreate"  # the engine makes the holder again, then its links, then starts it
    REVIVE = "revive"  # before the links: Runtime.revive starts the stopped holder again
    START = "start"  # after the links: the engine starts the workload (a StartNode step)
    RESUME = "resume"  # after the links: Runtime.resume lets the workload run again
    WAIT = "wait"  # the runtime is bringing it back itself: nothing to do now


class Trouble(Enum):
    """Why a node is not running as deployed."""

    NAMESPACE_MISSING = "namespace missing"
    HOLDER_STOPPED = "holder stopped"
    HOLDER_RESTARTING = "holder restarting"
    WORKLOAD_STOPPED = "workload stopped"
    WORKLOAD_RESTARTING = "workload restarting"
    WORKLOAD_ELSEWHERE = "workload outside its holder's namespace"

    @property
    def of_holder(self) -> bool:
        """About the namespace holder (its links cannot be wired until it is fixed)."""
        return self in (Trouble.NAMESPACE_MISSING, Trouble.HOLDER_STOPPED,
                        Trouble.HOLDER_RESTARTING)


@dataclass(frozen=True, slots=True)
class Problem:
    """One node-level difference, as data: ``what`` and ``fix`` are what code looks at;
    ``found``/``action`` are the words shown to users."""

    what: Trouble
    fix: Fix
    found: str
    action: str
    # REVIVE of a holder that is the workload itself: RESUME it too once the links are back
    resume_after: bool = False


@dataclass(frozen=True, slots=True)
class Observed:
    """A node's runtime objects as they are now."""

    state: str  # inspect's column: running | missing | exited (N) | ...
    cmd: str  # status of a supervised cmd: running | exited (N) | - (none)
    drift: tuple[str, ...] = ()  # inspect's words for what is wrong
    problems: tuple[Problem, ...] = ()  # reconcile's data for the same


@dataclass(frozen=True, slots=True)
class RuntimeEvent:
    """One event of a runtime's stream about the lab's objects, shaped like containerlab's
    (the engine's: ``docker events``): ``action`` ``connected`` when the stream (re)starts,
    as anything may have happened meanwhile."""

    action: str  # connected | create | start | die | stop | restart | destroy | ...
    type: str = "container"
    node: str = ""  # the topology node it is about ("" when unknown)
    name: str = ""  # the object's name (a container's)
    id: str = ""  # its full id
    time: float = 0.0  # when it happened (seconds since the epoch; 0: now)
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Preflight:
    """A runtime's checks before a deploy: problems stop it, notices do not."""

    problems: list[str] = field(default_factory=list)  # stop the deploy
    notices: list[str] = field(default_factory=list)  # reported, deploy goes on


class Progress(Protocol):
    """What a runtime tells the user while it prepares (the engine's reporter is one)."""

    def note(self, message: str) -> None:
        """A one-line message for the user."""

    def transfer(self, name: str, status: str, done: int, total: int) -> None:
        """Bytes of a transfer (an image pull) so far: ``done`` of ``total`` (which grows
        as parts are discovered). ``status`` ``done`` or ``failed`` ends it."""


def namespaces_taken(nodes: Sequence[NodePlan]) -> list[str]:
    """Problems: a namespace exists already under a node's name (a leftover, or a lab
    deployed on another runtime)."""
    return [f"namespace {n.netns} exists already (node {n.name})" for n in nodes
            if n.netns and kernel_netns.exists(n.netns)]


class Runtime(Protocol):
    """A node runtime: makes the namespace holder, starts/stops/removes the workload,
    runs commands, reports state and events, and finds its leftovers again.

    Journaling is the engine's: a runtime says what to record (``intent_*``), the engine
    writes it before the runtime makes the object, and the runtime fills in what
    identifies the object (``Effect.info``) as it makes it.
    """

    name: str
    noun: str  # what its holders are called in progress reports ("containers")
    #: journal kinds this runtime's objects are recorded under (destroy hands them back)
    kinds: frozenset[EffectKind]
    #: a created holder's namespace holds only ``lo`` (netknit may number what it adds)
    empty_namespaces: bool
    #: a holder that can come back by itself in a new, empty namespace (restart policy)
    self_restarting: bool
    #: holders are made by an engine in another process: as many calls at once as its
    #: throughput allows (learned as they complete), not a fixed number
    remote_engine: bool

    def preflight(self, nodes: Sequence[NodePlan], report: Progress) -> Preflight:
        """Check what the nodes need (free names, images: pulled here) before any object
        of the lab exists."""
        ...

    def names(self, node: NodePlan) -> tuple[str | None, str | None]:
        """The names of the node's workload and holder objects (recorded in the desired
        state, so that inspect and exec find them without the topology)."""
        ...

    def shared(self, lab: str, mgmt: Mgmt | None, nodes: Sequence[NodePlan]) -> list[Effect]:
        """Objects the nodes share (a management network), to journal before
        :meth:`make_shared` makes them."""
        ...

    def make_shared(self, effect: Effect) -> str | None:
        """Make (or join) a shared object; a note when it is not netknit's to remove."""
        ...

    def release(self) -> None:
        """Let others remove the shared objects again (the deploy's nodes have joined)."""
        ...

    def intent_create(self, node: NodePlan) -> Effect:
        """The record of ``node``'s namespace holder, journaled before :meth:`create`."""
        ...

    def create(self, node: NodePlan, mark: str, effect: Effect) -> Namespace | None:
        """Create the holder (its namespace empty but for ``lo``, carrying ``mark``) and
        return its namespace open; None for a node sharing another's namespace."""
        ...

    def intent_start(self, node: NodePlan, node_dir: Path) -> Effect | None:
        """The record of what :meth:`start` makes (None: nothing new to record)."""
        ...

    def start(self, node: NodePlan, ns: Namespace | None, node_dir: Path,
              effect: Effect | None) -> None:
        """Let the node's workload run inside its (already wired) namespace."""
        ...

    def identify(self, effect: Effect) -> bool:
        """Fill in the id of an object made (perhaps half-way, before a failure); True if
        it exists, so that its record can be marked done."""
        ...

    def stop(self, effect: Effect, *, grace: float | None = None,
             keep_address: bool = False) -> None:
        """Stop what a journaled ``effect`` records (a workload; a holder, so that it comes
        back through reconcile). ``grace``: seconds it gets to end after its stop signal
        before it is killed (None: killed at once). ``keep_address``: it is to start again
        with the management addresses it has now. Idempotent."""
        ...

    def remove(self, effect: Effect) -> bool:
        """Remove what a journaled ``effect`` of this runtime records (a workload is
        stopped). Idempotent; True if something was removed."""
        ...

    def leftovers(self, live: Iterable[Effect]) -> list[Effect]:
        """Objects carrying the lab's identity that ``live`` does not list."""
        ...

    def labs(self) -> list[tuple[str, Path, Path | None]]:
        """Every lab this runtime has objects of on this machine, found by their labels
        (name, lab directory, topology file); none for objects the kernel marks."""
        ...

    def exec(self, node: NodePlan, ns: Namespace | None, argv: Sequence[str],
             env: Mapping[str, str] | None = None, timeout: float | None = None,
             *, separate: bool = False) -> ExecResult:
        """Run a command inside the node and return its combined output (``separate``:
        stdout in ``output``, stderr apart; ``ns``: its namespace if the caller has it
        open; the runtime finds it otherwise)."""
        ...

    def wait_for(self, node: NodePlan, condition: str, timeout: float) -> None:
        """Block until the workload is ``healthy`` or has ``exited``; RuntimeFailure after
        ``timeout`` seconds."""
        ...

    def open(self, node: NodeState, *, workload: bool = False) -> Namespace | None:
        """The namespace links are wired into (``workload``: the one the workload runs
        in, which differs when it was left behind), or None if there is none now."""
        ...

    def observe(self, node: NodeState, *, has_workload: bool | None = None) -> Observed:
        """The node's holder and workload as they are now (``has_workload``: whether the
        node has a workload that must run; None: unknown, look)."""
        ...

    def revive(self, node: NodePlan, problem: Problem) -> None:
        """Start a stopped holder again (:attr:`Fix.REVIVE`)."""
        ...

    def resume(self, node: NodePlan, problem: Problem) -> None:
        """Let a workload run again once its links are back (:attr:`Fix.RESUME`)."""
        ...

    def management(self, node: NodePlan) -> MgmtAddress:
        """The node's management addresses and container id, for the lab files and the
        ``/etc/hosts`` block (``NO_ADDRESS``: it has none)."""
        ...

    def events(self, lab: str) -> Iterator[RuntimeEvent] | None:
        """A ``connected`` event, then one per event about the lab's objects (any may
        mean drift); None if the runtime has no event stream. Raises when it breaks."""
        ...

