"""Deploy: check everything, then run the plan wave by wave through the executor,
journaling every side effect before making it; on failure, remove what was made."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import field

from .._dataclass import dataclass
from .._errors import NetknitError, StateError
from ..kernel import Netlink, links_with_alias
from ..kernel import netns as kernel_netns
from ..plan import Change, CreateDevice, CreateVeth, EnsureBridge, Exec, Plan, build, diff, made_by
from ..runtimes import ExecResult, Runtime, Runtimes
from ..state import JournalState, LabDir
from ..topology import Topology
from ._devices import link_preflight
from ._executor import Executor, desired_state, raise_fd_limit, topology_digest
from ._labfiles import write_lab_files
from ._labs import forget_lab, note_lab
from ._overrides import overridden, require_netem_for
from ._report import Reporter, SilentReporter
from ._steps import run_plan


@dataclass
class DeployResult:
    """What a deploy did: the plan it ran, or that the lab was already deployed."""

    lab: str
    lab_dir: LabDir
    plan: Plan
    already_deployed: bool = False
    change: Change | None = None  # set when a deployed lab was changed (apply)
    exec_results: list[ExecResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exec_failures(self) -> list[ExecResult]:
        return [r for r in self.exec_results if r.returncode != 0]


def _preflight(executor: Executor) -> None:
    """Everything that would stop the deploy, before its first side effect."""
    plan, host = executor.plan, executor.host
    require_netem_for(plan)
    problems: list[str] = []
    for runtime, nodes in executor.by_runtime(plan.nodes.values()):
        checked = runtime.preflight(nodes, executor.report)
        problems += checked.problems
        for note in checked.notices:
            executor.report.note(note)
    aliased = links_with_alias(host)
    host_links = {item.link.name: item.link for item in aliased}
    for action in plan.actions.values():
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
    problems += link_preflight(plan, host, host_links)
    if problems:
        # the mark tells this lab's leftovers from someone else's objects
        names = [str(n.netns) for n in plan.nodes.values() if n.netns]
        ours = any(item.alias == executor.mark for item in aliased) or any(
            alias == executor.mark for _inode, alias in kernel_netns.marks(names).values())
        raise StateError(
            "cannot deploy:\n  " + "\n  ".join(problems),
            hint="leftovers of this lab are in the way: run `netknit destroy`" if ours else
            "these do not carry this lab's mark (another lab's or someone else's): "
            "rename the lab (`name:`) or the interfaces",
        )


def _rollback(executor: Executor, failure: BaseException) -> None:
    """Remove what this deploy made. Every object is tried; if some are left, the
    deploy's error says which and what to do (the failure that started it first)."""
    # imported here: a deploy that succeeds never needs destroy's code (~10 ms to import)
    from ._destroy import first_line, undo_journal

    executor.close()
    executor.report.note("deploy failed: removing what it created")
    lab = executor.topo.name
    undone = undo_journal(lab, executor.lab_dir, executor.runtimes, executor.report)
    if not undone.left:
        forget_lab(lab, executor.lab_dir)
    if undone.left and isinstance(failure, Exception):
        left = undone.error(lab, "the rollback of the failed deploy")
        raise StateError(f"deploy of {lab!r} failed: {first_line(failure)}\n"
                         f"{left.message}", hint=left.hint) from failure


def _apply(topo: Topology, plan: Plan, lab_dir: LabDir, runtimes: Runtimes, max_workers: int | None,
           report: Reporter, journal_state: JournalState, result: DeployResult,
           skip_post_deploy: bool) -> None:
    """Change the deployed lab into ``plan``'s: only what differs (see :mod:`._apply`)."""
    # imported here: a fresh deploy (the common case) never needs apply's code
    from ._apply import apply_change, recorded_state, settle

    recorded = recorded_state(lab_dir, topo.name)
    result.change = diff(recorded, plan)
    require_netem_for(plan)
    journal = lab_dir.journal
    journal.mark("applying", topology_digest(topo))  # until done, deploy applies again
    with Netlink.here() as host:
        executor = Executor(topo, plan, lab_dir, host, runtimes, max_workers=max_workers,
                            reporter=report)
        executor.crash()
        try:
            apply_change(executor, recorded, journal_state, result.change,
                         skip_post_deploy=skip_post_deploy)
        except NetknitError as exc:
            raise StateError(f"apply to lab {topo.name!r} stopped: {exc.message}",
                             hint="fix the cause shown and deploy again: it finishes the "
                             "apply (or `netknit destroy`)") from exc
        finally:
            executor.close()
            result.exec_results = executor.outcome.exec_results
        # a second executor: its namespaces are opened afresh for the repair (which
        # keeps what `tools netem` set)
        executor = Executor(topo, overridden(plan, journal_state.markers), lab_dir, host,
                            runtimes, max_workers=max_workers, reporter=report)
        try:
            settle(executor, journal.read())
            write_lab_files(executor)
        finally:
            executor.close()


def _run(topo: Topology, plan: Plan, lab_dir: LabDir, runtimes: Runtimes, max_workers: int | None,
         report: Reporter, skip_post_deploy: bool = False) -> DeployResult:
    started = time.monotonic()
    result = DeployResult(topo.name, lab_dir, plan)
    raise_fd_limit()
    digest = topology_digest(topo)
    journal = lab_dir.journal
    # the lab directory is made (if missing) and locked in one step; only the holder
    # of the lock may remove it, so a deploy that loses the race touches nothing
    with lab_dir.lock(topo.name, "deploy", create=True) as held:
        try:
            held.check(plan.nodes)
            state = journal.read()
            if "deployed" in state.markers:  # a change (or an interrupted one): apply it
                if state.markers["deployed"] == digest and not state.markers.get("applying"):
                    result.already_deployed = True
                    return result
                _apply(topo, plan, lab_dir, runtimes, max_workers, report, state, result,
                       skip_post_deploy)
            elif state.effects or state.markers:
                raise StateError(
                    f"lab {topo.name!r} is already deployed (partly: an earlier deploy did "
                    "not finish)", hint="run `netknit destroy` first, or deploy with "
                    "--reconfigure")
            else:
                _fresh(topo, plan, lab_dir, runtimes, max_workers, report, result)
            journal.mark("deployed", digest)
            if state.markers.get("applying") or result.change is not None:
                journal.mark("applying", False)
        except BaseException:
            with contextlib.suppress(OSError, NetknitError):
                if held.blank():
                    held.remove()  # nothing was made: leave no trace
            raise
    result.seconds = time.monotonic() - started
    return result


def _fresh(topo: Topology, plan: Plan, lab_dir: LabDir, runtimes: Runtimes, max_workers: int | None,
           report: Reporter, result: DeployResult) -> None:
    """Deploy a lab that has nothing on the machine yet; on failure, remove what it made."""
    with Netlink.here() as host:
        executor = Executor(topo, plan, lab_dir, host, runtimes, max_workers=max_workers,
                            reporter=report)
        try:
            _preflight(executor)
            lab_dir.write_state(desired_state(plan, runtimes))
            note_lab(topo, lab_dir)  # what `inspect --all` and `destroy --all` find it by
            executor.crash()
            try:
                run_plan(executor, plan.waves())
                write_lab_files(executor)
            except BaseException as failure:
                _rollback(executor, failure)
                raise
        finally:
            executor.close()
            result.exec_results = executor.outcome.exec_results


def deploy(topo: Topology, *, lab_dir: LabDir | None = None, max_workers: int | None = None,
           reporter: Reporter | None = None, runtimes: Mapping[str, Runtime] | None = None,
           sandbox_image: str | None = None, host: str | None = None,
           skip_post_deploy: bool = False) -> DeployResult:
    """Deploy a lab (``host``: this machine's part of a lab that spans ``hosts:``;
    ``runtimes``: runtime instances to use instead of the registered ones, by name;
    ``skip_post_deploy``: leave out the nodes' ``exec:`` commands).
    Idempotent: deploying the same topology again changes nothing; deploying a changed
    one changes only what differs (apply)."""
    lab_dir = lab_dir or LabDir.for_lab(topo.name, topo.path)
    try:
        plan = build(topo, host)
        if skip_post_deploy:
            plan = plan.without(Exec)
        return _run(topo, plan, lab_dir,
                    Runtimes(lab_dir.path, sandbox_image=sandbox_image, given=runtimes),
                    max_workers, reporter or SilentReporter(), skip_post_deploy)
    except NetknitError:
        raise
    except OSError as exc:
        raise StateError(f"deploy of {topo.name!r} failed: {exc}") from exc


__all__ = ["DeployResult", "deploy"]
