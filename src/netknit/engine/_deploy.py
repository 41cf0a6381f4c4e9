"""Deploy: run a plan wave by wave, journaling every side effect before making it."""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .._errors import ExecFailure, KernelError, NetknitError, RuntimeFailure, StateError
from ..kernel import (
    IfConfig,
    Namespace,
    Netlink,
    VethEnd,
    configure,
    create_bridge,
    links,
    links_with_alias,
    move_links,
)
from ..kernel import create_veths as kernel_create_veths
from ..kernel import netns as kernel_netns
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
    Plan,
    StagePoint,
    StartNode,
    Stitch,
    build,
    made_by,
)
from ..runtimes import ExecResult, NetnsRuntime, Runtime
from ..state import Effect, LabDir, effect_key
from ..topology import StageExec, Topology
from ._devices import DeviceSteps
from ._docker import DockerSteps
from ._marks import lab_mark
from ._report import Reporter, SilentReporter
from ._state import desired_state

T = TypeVar("T")
R = TypeVar("R")

#: How long a stage hook may run, or a node may take to become healthy/exit.
STAGE_TIMEOUT = 600.0
#: Crash injection for the crash-safety tests: SIGKILL ourselves at the K-th crash point.
CRASH_ENV = "NETKNIT_TEST_CRASH_AT"


@dataclass
class DeployResult:
    lab: str
    lab_dir: LabDir
    plan: Plan
    already_deployed: bool = False
    exec_results: list[ExecResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exec_failures(self) -> list[ExecResult]:
        return [r for r in self.exec_results if r.returncode != 0]


class _CrashPoints:
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
    h = hashlib.sha256()
    if topo.path is not None:
        h.update(str(topo.path).encode() + b"\0")
        with contextlib.suppress(OSError):
            h.update(topo.path.read_bytes())
    h.update(repr(sorted(topo.nodes)).encode())
    return h.hexdigest()


def raise_fd_limit() -> None:
    """One fd and one socket per namespace: large labs need more than the default 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Deployer(DeviceSteps):
    def __init__(self, topo: Topology, lab_dir: LabDir, *, runtime: Runtime | None = None,
                 max_workers: int = 8, reporter: Reporter | None = None,
                 sandbox_image: str | None = None, host: str | None = None) -> None:
        self.topo = topo
        self.plan = build(topo, host)
        self.lab_dir = lab_dir
        self.runtime = runtime or NetnsRuntime()
        self.max_workers = max(1, max_workers)
        self.report = reporter or SilentReporter()
        self.crash = _CrashPoints()
        self.journal = lab_dir.journal
        self.mark = lab_mark(topo.name, lab_dir)  # every kernel object made carries it
        self.namespaces: dict[str, Namespace] = {}  # netns name -> open namespace
        self.bridge_index: dict[str, int] = {}
        # ifindexes netknit gives in namespaces it just made (lo is 1), so that configure
        # needs no lookups: (netns, ifname) -> ifindex
        self.ifindex: dict[tuple[str, str], int] = {}
        self._next_index: dict[str, int] = {}
        self.fresh: set[str] = set()  # namespaces this run created (their ifindexes are ours)
        self.parking: dict[str, Namespace] = {}  # target namespace -> its parking (see
        # _parked_end); namespaces that receive parked ends get no pinned ifindexes
        self.receives_parked = {a.peer.netns for a in self.plan.actions.values()
                                if isinstance(a, CreateVeth) and a.parked}
        # so do namespaces that receive a host device (it keeps its ifindex if free)
        self.receives_parked |= {a.iface.netns for a in self.plan.actions.values()
                                 if isinstance(a, MoveDevice)}
        self.result = DeployResult(topo.name, lab_dir, self.plan)
        # Docker nodes: their steps live in ._docker (the SDK is imported only for them)
        self.docker: DockerSteps | None = None
        if any(n.container is not None for n in self.plan.nodes.values()):
            self.docker = DockerSteps(self, sandbox_image)

    # -- entry point -----------------------------------------------------------------

    def run(self) -> DeployResult:
        started = time.monotonic()
        raise_fd_limit()
        digest = topology_digest(self.topo)
        # the lab directory is made (if missing) and locked in one step; only the holder
        # of the lock may remove it, so a deploy that loses the race touches nothing
        with self.lab_dir.lock(self.topo.name, "deploy", create=True) as held:
            try:
                held.check(self.plan.nodes)
                state = self.journal.read()
                if state.effects or state.markers:
                    if state.markers.get("deployed") == digest:
                        self.result.already_deployed = True
                        return self.result
                    raise StateError(
                        f"lab {self.topo.name!r} is already deployed"
                        + ("" if "deployed" in state.markers else " (partly: an earlier "
                           "deploy did not finish)"),
                        hint="run `netknit destroy` first, or deploy with --reconfigure",
                    )
                with Netlink.here() as host:
                    self.host = host
                    self._preflight()
                    self.lab_dir.write_state(desired_state(self.plan))
                    self.crash()
                    try:
                        for wave in self.plan.waves():
                            self._run_wave(wave)
                    except BaseException as failure:
                        self._rollback(failure)
                        raise
                self.journal.mark("deployed", digest)
            except BaseException:
                with contextlib.suppress(OSError, NetknitError):
                    if held.blank():
                        held.remove()  # nothing was made: leave no trace
                raise
            finally:
                self._close()
        self.result.seconds = time.monotonic() - started
        return self.result

    def _rollback(self, failure: BaseException) -> None:
        """Remove what this deploy made. Every object is tried; if some are left, the
        deploy's error says which and what to do (the failure that started it first)."""
        self._close()
        self.report.note("deploy failed: removing what it created")
        from ._destroy import first_line, undo_journal

        undone = undo_journal(self.topo.name, self.lab_dir, self.runtime, self.report)
        if undone.left and isinstance(failure, Exception):
            left = undone.error(self.topo.name, "the rollback of the failed deploy")
            raise StateError(f"deploy of {self.topo.name!r} failed: {first_line(failure)}\n"
                             f"{left.message}", hint=left.hint) from failure

    def _close(self) -> None:
        for ns in self.namespaces.values():
            ns.close()
        self.namespaces.clear()
        for parking in self.parking.values():
            parking.close()
        self.parking.clear()

    # -- checks before the first side effect --------------------------------------------

    def _preflight(self) -> None:
        problems = []
        taken = [n for n in self.plan.nodes.values() if n.netns and kernel_netns.exists(n.netns)]
        for node in taken:
            problems.append(f"namespace {node.netns} exists already (node {node.name})")
        aliased = links_with_alias(self.host)
        host_links = {item.link.name: item.link for item in aliased}
        for action in self.plan.actions.values():
            if isinstance(action, EnsureBridge):
                found = host_links.get(action.name)
                if found is not None and found.kind != "bridge":
                    problems.append(f"{action.name} exists in the host and is not a bridge "
                                    f"(it is {found.kind or 'a device'})")
            elif isinstance(action, CreateVeth | CreateDevice):  # a moved device is there
                for iface in made_by(action):
                    if iface.netns is None and iface.name in host_links:
                        problems.append(f"interface {iface.name} exists in the host namespace "
                                        f"(wanted for {iface.node}:{iface.name})")
        problems += self._device_preflight(host_links)
        if self.docker is not None:
            problems += self.docker.preflight()
        if problems:
            # the mark tells this lab's leftovers from someone else's objects
            ours = any(item.alias == self.mark for item in aliased) or any(
                alias == self.mark
                for _inode, alias in kernel_netns.marks([str(n.netns) for n in taken]).values())
            raise StateError(
                "cannot deploy:\n  " + "\n  ".join(problems),
                hint="leftovers of this lab are in the way: run `netknit destroy`" if ours else
                "these do not carry this lab's mark (another lab's or someone else's): "
                "rename the lab (`name:`) or the interfaces",
            )

    # -- waves ------------------------------------------------------------------------

    def _run_wave(self, wave: Sequence[Action]) -> None:
        """Run one wave, grouped by action type so that each type can batch its work
        (one journal write per group, pipelined netlink requests)."""
        handlers: list[tuple[type, Callable[[Any], None]]] = [
            (CreateNode, self._do_create_nodes),
            (EnsureBridge, self._do_ensure_bridges),
            (CreateVeth, self._do_create_veths),
            (AttachEnd, self._do_attach_ends),
            (CreateDevice, self._do_create_devices),
            (MoveDevice, self._do_move_devices),
            (Stitch, self._do_stitch),
            (Configure, self._do_configure),
            (StartNode, self._do_start_nodes),
            (Exec, self._do_exec),
            (StagePoint, self._do_stage_points),
        ]
        for kind, handler in handlers:
            actions = [a for a in wave if isinstance(a, kind)]
            if actions:
                handler(actions)

    def _parallel(self, items: Sequence[T], fn: Callable[[T], R], label: str) -> list[R]:
        if not items:
            return []
        self.report.step(label, len(items))
        if len(items) == 1 or self.max_workers == 1:
            out = []
            for item in items:
                out.append(fn(item))
                self.report.advance()
            return out
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(items))) as pool:
            futures = [pool.submit(fn, item) for item in items]
            results = []
            error: BaseException | None = None
            for fut in futures:
                try:
                    results.append(fut.result())
                except BaseException as exc:  # keep going: every started task must finish
                    error = error or exc
                self.report.advance()
        if error is not None:
            raise error
        return results

    def _intend(self, effects: Iterable[Effect]) -> None:
        self.journal.intend(effects)
        self.crash()

    def _done(self, effects: Iterable[Effect]) -> None:
        self.journal.done(effects)
        self.crash()

    def _do_create_nodes(self, actions: list[CreateNode]) -> None:
        if self.docker is not None:
            self.docker.create([a for a in actions if a.node.container is not None])
            actions = [a for a in actions if a.node.container is None]
            if not actions:
                return
        effects = {a.node.name: Effect("netns", a.node.netns or "") for a in actions}
        self._intend(effects.values())

        def create(action: CreateNode) -> Namespace:
            ns = self.runtime.create(action.node, self.mark)
            self.crash()
            return ns

        made = self._parallel(actions, create, "namespaces")
        for action, ns in zip(actions, made, strict=True):
            self.namespaces[ns.name] = ns
            if ns.name not in self.receives_parked:  # a moved-in end keeps its ifindex
                self.fresh.add(ns.name)
            effects[action.node.name].info["inode"] = ns.inode
        self._done(effects.values())

    def _do_ensure_bridges(self, actions: list[EnsureBridge]) -> None:
        existing = {link.name: link for link in links(self.host) if link.kind == "bridge"}
        to_make = [a for a in actions if a.name not in existing]
        for a in actions:
            if a.name in existing:
                self.report.note(f"using existing bridge {a.name} (it stays after destroy)")
                self.bridge_index[a.name] = existing[a.name].index
        effects = [Effect("bridge", a.name) for a in to_make]
        self._intend(effects)
        for action in to_make:
            create_bridge(self.host, action.name, mtu=action.mtu or None, alias=self.mark)
            self.crash()
        if to_make:
            now = {link.name: link for link in links(self.host)}
            for action, effect in zip(to_make, effects, strict=True):
                self.bridge_index[action.name] = now[action.name].index
                effect.info["ifindex"] = now[action.name].index
            self._done(effects)

    def _end(self, iface_ns: str | None, name: str, mac: str, mtu: int,
             master: str | None) -> VethEnd:
        if iface_ns is None:  # the host namespace: the kernel picks the index
            return VethEnd(name, None, mac, mtu, self.bridge_index.get(master) if master else None,
                           alias=self.mark)
        return VethEnd(name, self.namespaces[iface_ns].fd, mac, mtu, None,
                       self._pin(iface_ns, name))

    def _pin(self, netns: str | None, name: str) -> int:
        """The ifindex to give a new interface in ``netns``: 0 (the kernel picks) unless
        this run made the namespace, where netknit numbers them so configure needs no
        lookups."""
        if netns is None or netns not in self.fresh:
            return 0
        if self.docker is not None and netns in self.docker.foreign:
            return 0
        index = self._next_index.get(netns, 2)
        self._next_index[netns] = index + 1
        self.ifindex[(netns, name)] = index
        return index

    def _do_create_veths(self, actions: list[CreateVeth]) -> None:
        for a in actions:
            for iface in (a.main, a.peer):
                if iface.netns is not None and iface.netns not in self.namespaces and \
                        not (a.parked and iface is a.peer):
                    raise RuntimeFailure(f"namespace {iface.netns} is not open")
        effects = [Effect("link", a.main.name, a.main.netns,
                          {"peer": a.peer.name, "peer_ns": a.peer.netns}) for a in actions]
        self._intend(effects)
        self.report.step("links", len(actions))
        pairs = [
            (self._end(a.main.netns, a.main.name, a.main.mac, a.main.mtu, a.main.master),
             self._parked_end(a) if a.parked else
             self._end(a.peer.netns, a.peer.name, a.peer.mac, a.peer.mtu, None))
            for a in actions
        ]
        chunk = 64
        for start in range(0, len(pairs), chunk):
            errors = kernel_create_veths(self.host, pairs[start : start + chunk])
            for action, err in zip(actions[start : start + chunk], errors, strict=True):
                if err is not None:
                    raise KernelError(
                        f"create link {action.main.node}:{action.main.name} <-> "
                        f"{action.peer.node}:{action.peer.name} ({action.where})",
                        err.errno, detail=err.message,
                    )
            self.report.advance(len(errors))
            self.crash()
        self._done(effects)

    def _parked_end(self, action: CreateVeth) -> VethEnd:
        """The peer end of a parked link: born under its final name in a private parking
        namespace of its node (so two nodes' parked ``eth1`` do not clash), which dies
        with this process if it dies, taking both ends with it."""
        target = str(action.peer.netns)
        parking = self.parking.get(target)
        if parking is None:
            parking = self.parking[target] = kernel_netns.anonymous(f"parking for {target}")
        peer = action.peer
        return VethEnd(peer.name, parking.fd, peer.mac, peer.mtu, None, 0)

    def _do_attach_ends(self, actions: list[AttachEnd]) -> None:
        for action in actions:
            peer = action.veth.peer
            parking = self.parking[str(peer.netns)]
            index = next((i.index for i in links(parking.nl) if i.name == peer.name), 0)
            moves = [(index, self.namespaces[str(peer.netns)].fd,
                      f"attach {peer.node}:{peer.name}")]
            for err in move_links(parking.nl, moves):
                if err is not None:
                    raise err
        self.crash()

    def _do_configure(self, actions: list[Configure]) -> None:
        # a host device moved into a node is not netknit's: never marked
        moved = {(a.iface.netns, a.iface.name) for a in self.plan.actions.values()
                 if isinstance(a, MoveDevice)}

        def run(action: Configure) -> None:
            nl = self.host if action.netns is None else self.namespaces[action.netns].nl
            items = [IfConfig(i.name, True, i.addresses,
                              self.ifindex.get((action.netns, i.name), 0) if action.netns else 0,
                              None if (action.netns, i.name) in moved else self.mark)
                     for i in action.interfaces]
            configure(nl, items, loopback_up=action.netns is not None)
            self.crash()

        self._parallel(actions, run, "configure")

    def _do_start_nodes(self, actions: list[StartNode]) -> None:
        if self.docker is not None:
            self.docker.start([a for a in actions if a.node.container is not None])
            actions = [a for a in actions if a.node.container is None]
            if not actions:
                return
        # the pid file's path goes into the intent: after a crash between spawning the
        # supervisor and journaling its pid, destroy still finds it there
        effects = {
            a.node.name: Effect("process", a.node.name, a.node.netns, {
                "pidfile": str(self.lab_dir.node_dir(a.node.name) / "cmd.pid.json")})
            for a in actions
        }
        self._intend(effects.values())

        def start(action: StartNode) -> None:
            if action.node.startup_delay:
                time.sleep(action.node.startup_delay)
            assert action.node.netns is not None
            ns = self.namespaces[action.node.netns]
            workload = self.runtime.start(action.node, ns, self.lab_dir.node_dir(action.node.name))
            if workload is not None:
                effects[action.node.name].info.update(pid=workload.pid, start=workload.start)
            self.crash()

        try:
            self._parallel(actions, start, "start")
        finally:
            self._done(effects.values())

    def _do_exec(self, actions: list[Exec]) -> None:
        import shlex

        def run(action: Exec) -> list[ExecResult]:
            out = []
            for command in action.node.exec:
                try:
                    argv = shlex.split(command)
                except ValueError as exc:
                    out.append(ExecResult(action.node.name, command, 2, f"bad quoting: {exc}\n"))
                    continue
                result = self.exec_node(action.node, argv, timeout=300)
                out.append(result)
                self.report.exec_output(result)
            return out

        for results in self._parallel(actions, run, "exec"):
            self.result.exec_results.extend(results)


    def exec_node(self, node: NodePlan, argv: Sequence[str],
                  timeout: float | None = None) -> ExecResult:
        """Run ``argv`` in a node, whichever runtime it is on."""
        if node.container is not None and self.docker is not None:
            return self.docker.exec(node, argv)
        assert node.netns is not None
        return self.runtime.exec(node, self.namespaces[node.netns], argv, timeout=timeout)

    # -- lifecycle stages (containerlab's ``stages:``) ---------------------------------

    def _do_stage_points(self, points: list[StagePoint]) -> None:
        """Run stage hooks; finishing ``healthy``/``exit`` waits for the workload."""
        busy = [p for p in points if p.hooks or (p.phase == "on-exit" and
                                                p.stage in ("healthy", "exit"))]
        if busy:
            self._parallel(busy, self._stage_point, "stages")

    def _stage_point(self, point: StagePoint) -> None:
        if point.phase == "on-exit" and point.stage in ("healthy", "exit"):
            condition = "healthy" if point.stage == "healthy" else "exited"
            if point.node.container is not None and self.docker is not None:
                self.docker.runtime.wait_for(point.node, condition, STAGE_TIMEOUT)
            else:
                self.runtime.wait_for(point.node, condition, STAGE_TIMEOUT)
        for hook in point.hooks:
            result = self._run_hook(point, hook)
            self.result.exec_results.append(result)
            self.report.exec_output(result)
            if result.returncode != 0:
                raise ExecFailure(point.node.name, result.command, result.returncode,
                                  result.output, stage=f"{point.stage} {point.phase}")

    def _run_hook(self, point: StagePoint, hook: StageExec) -> ExecResult:
        try:
            argv = shlex.split(hook.command)
        except ValueError as exc:
            return ExecResult(point.node.name, hook.command, 2, f"bad quoting: {exc}\n")
        if hook.target == "container":
            return self.exec_node(point.node, argv, timeout=STAGE_TIMEOUT)
        # the host: no shell unless the command names one; paths relative to the topology
        cwd = self.topo.path.parent if self.topo.path else None
        try:
            done = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=STAGE_TIMEOUT, check=False)
        except FileNotFoundError:
            return ExecResult(f"{point.node.name} (host)", hook.command, 127,
                              f"{argv[0]}: command not found\n")
        except subprocess.TimeoutExpired:
            return ExecResult(f"{point.node.name} (host)", hook.command, 124,
                              f"timed out after {STAGE_TIMEOUT:.0f}s\n")
        return ExecResult(f"{point.node.name} (host)", hook.command, done.returncode,
                          done.stdout.decode(errors="replace"))


def deploy(topo: Topology, *, lab_dir: LabDir | None = None, max_workers: int = 8,
           reporter: Reporter | None = None, runtime: Runtime | None = None,
           sandbox_image: str | None = None, host: str | None = None) -> DeployResult:
    """Deploy a lab (``host``: this machine's part of a lab that spans ``hosts:``).
    Idempotent: deploying the same topology again changes nothing."""
    lab_dir = lab_dir or LabDir.for_lab(topo.name, topo.path)
    try:
        return Deployer(topo, lab_dir, runtime=runtime, max_workers=max_workers,
                        reporter=reporter, sandbox_image=sandbox_image, host=host).run()
    except NetknitError:
        raise
    except OSError as exc:
        raise StateError(f"deploy of {topo.name!r} failed: {exc}") from exc


__all__ = ["CRASH_ENV", "DeployResult", "deploy", "effect_key", "topology_digest"]
