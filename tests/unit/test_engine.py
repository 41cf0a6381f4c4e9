"""The engine's promises, against a small in-memory runtime that implements the real
``Runtime`` protocol (mypy checks it: ``_CHECK`` below) and mocks no kernel: its holders
are real anonymous namespaces (gone when their last fd closes), its links real veths.

What it records is what the engine asked of it, in order.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from netknit._errors import NetknitError, RuntimeFailure
from netknit.engine import _labfiles, deploy, destroy, reconcile
from netknit.kernel import Namespace, addresses, links
from netknit.kernel import netns as kernel_netns
from netknit.plan import NO_ADDRESS, MgmtAddress, NodePlan
from netknit.runtimes import (
    ExecResult,
    Fix,
    Observed,
    Preflight,
    Problem,
    Progress,
    Runtime,
    RuntimeEvent,
    Trouble,
)
from netknit.state import Effect, EffectKind, LabDir, NodeState
from netknit.topology import Mgmt, load

if os.geteuid() != 0:
    pytest.skip("the in-memory runtime's namespaces need root", allow_module_level=True)


@dataclass(frozen=True)
class Seen:
    """The node's interfaces when a call came: name -> (up, addresses)."""

    ifaces: Mapping[str, tuple[bool, tuple[str, ...]]]


def _seen(ns: Namespace | None) -> Seen:
    if ns is None:
        return Seen({})
    found = addresses(ns.nl)
    return Seen({link.name: (link.up, tuple(str(a) for a in found.get(link.index, [])))
                 for link in links(ns.nl) if link.name != "lo"})


class MemoryRuntime:
    """Holders are anonymous namespaces kept open here; workloads are a set of names."""

    name = "memory"
    noun = "namespaces"
    kinds = frozenset({EffectKind.NETNS, EffectKind.PROCESS})
    empty_namespaces = True
    self_restarting = False
    remote_engine = False

    def __init__(self, fail_start: str | None = None) -> None:
        self.fail_start = fail_start
        self.calls: list[tuple[str, str]] = []  # (what, node or object)
        self.seen: dict[tuple[str, str], Seen] = {}  # (what, node) -> interfaces then
        self.holders: dict[str, int] = {}  # netns name -> our fd of it
        self.running: set[str] = set()

    def _call(self, what: str, name: str, ns: Namespace | None = None) -> None:
        self.calls.append((what, name))
        self.seen[(what, name)] = _seen(ns)

    def preflight(self, nodes: Sequence[NodePlan], report: Progress) -> Preflight:
        return Preflight()

    def names(self, node: NodePlan) -> tuple[str | None, str | None]:
        return None, None

    def shared(self, lab: str, mgmt: Mgmt | None, nodes: Sequence[NodePlan]) -> list[Effect]:
        return []

    def make_shared(self, effect: Effect) -> str | None:
        return None

    def release(self) -> None:
        pass

    def intent_create(self, node: NodePlan) -> Effect:
        return Effect(EffectKind.NETNS, str(node.netns))

    def create(self, node: NodePlan, mark: str, effect: Effect) -> Namespace | None:
        ns = kernel_netns.anonymous(str(node.netns))
        self.holders[ns.name] = os.dup(ns.fd)  # the engine closes its own
        effect.info["inode"] = ns.inode
        self._call("create", node.name)
        return ns

    def intent_start(self, node: NodePlan, node_dir: Path) -> Effect | None:
        return Effect(EffectKind.PROCESS, node.name, node.netns)

    def start(self, node: NodePlan, ns: Namespace | None, node_dir: Path,
              effect: Effect | None) -> None:
        self._call("start", node.name, ns)
        if node.name == self.fail_start:
            raise RuntimeFailure(f"node {node.name}: cannot start")
        self.running.add(node.name)

    def identify(self, effect: Effect) -> bool:
        return effect.kind == EffectKind.PROCESS or "inode" in effect.info

    def stop(self, effect: Effect, *, grace: float | None = None,
             keep_address: bool = False) -> None:
        self._call("stop", effect.name)
        self.running.discard(effect.name)

    def remove(self, effect: Effect) -> bool:
        self._call(f"remove {effect.kind}", effect.name)
        if effect.kind == EffectKind.PROCESS:
            self.running.discard(effect.name)
            return True
        fd = self.holders.pop(effect.name, None)
        if fd is not None:
            os.close(fd)
        return fd is not None

    def leftovers(self, live: Iterable[Effect]) -> list[Effect]:
        return []

    def exec(self, node: NodePlan, ns: Namespace | None, argv: Sequence[str],
             env: Mapping[str, str] | None = None, timeout: float | None = None) -> ExecResult:
        self._call(f"exec {' '.join(argv)}", node.name, ns)
        return ExecResult(node.name, " ".join(argv), 0, "")

    def wait_for(self, node: NodePlan, condition: str, timeout: float) -> None:
        self._call(f"wait {condition}", node.name)

    def open(self, node: NodeState, *, workload: bool = False) -> Namespace | None:
        fd = self.holders.get(str(node.netns))
        if fd is None:
            return None
        fd = os.dup(fd)
        return Namespace(str(node.netns), fd, os.fstat(fd).st_ino)

    def observe(self, node: NodeState, *, has_workload: bool | None = None) -> Observed:
        if node.netns is not None and node.netns not in self.holders:
            return Observed("missing", "-", ("namespace missing",), (Problem(
                Trouble.NAMESPACE_MISSING, Fix.RECREATE, "namespace missing", "recreate"),))
        if has_workload and node.name not in self.running:
            return Observed("running", "stopped", (), (Problem(
                Trouble.WORKLOAD_STOPPED, Fix.START, "cmd not running", "start cmd"),))
        return Observed("running", "running" if node.name in self.running else "-")

    def revive(self, node: NodePlan, problem: Problem) -> None:
        self._call("revive", node.name)

    def resume(self, node: NodePlan, problem: Problem) -> None:
        self._call("resume", node.name)

    def management(self, node: NodePlan) -> MgmtAddress:
        return NO_ADDRESS

    def events(self, lab: str) -> Iterator[RuntimeEvent] | None:
        return None

    # -- what a test does to it ------------------------------------------------------------

    def lose(self, netns: str) -> None:
        """The holder dies: its namespace (and every link end in it) goes."""
        os.close(self.holders.pop(netns))

    def close(self) -> None:
        for fd in self.holders.values():
            os.close(fd)
        self.holders.clear()


_CHECK: type[Runtime] = MemoryRuntime  # mypy: it implements the whole protocol


LAB = """
name: {name}
topology:
  defaults: {{kind: netns}}
  nodes:
    a:
      cmd: sleep 1000
      stages:
        create-links:
          exec:
            - {{command: cl-enter, phase: on-enter}}
            - {{command: cl-exit, phase: on-exit, on-restart: true}}
        configure:
          exec:
            - {{command: cfg-enter, phase: on-enter}}
            - {{command: cfg-exit, phase: on-exit}}
    b:
      cmd: sleep 1000
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.9.0.1/24", "10.9.0.2/24"]
"""


@dataclass
class Lab:
    topo_path: Path
    runtime: MemoryRuntime

    @property
    def runtimes(self) -> dict[str, Runtime]:
        return {"netns": self.runtime}  # the nodes' runtime name: ours instead

    def lab_dir(self) -> LabDir:
        topo = load(self.topo_path)
        return LabDir.for_lab(topo.name, topo.path)


@pytest.fixture(autouse=True)
def _host_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """These labs are never destroyed: their /etc/hosts block and ssh config go to
    ``tmp_path`` instead of the machine's."""
    (tmp_path / "ssh_config.d").mkdir()
    monkeypatch.setattr(_labfiles, "HOSTS_FILE", tmp_path / "hosts")
    monkeypatch.setattr(_labfiles, "HOSTS_LOCK", tmp_path / "hosts.lock")
    monkeypatch.setattr(_labfiles, "SSH_CONFIG_DIR", tmp_path / "ssh_config.d")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    path = tmp_path / "lab.clab.yml"
    path.write_text(LAB.format(name=f"eng{secrets.token_hex(3)}"))
    made = Lab(path, MemoryRuntime())
    yield made
    made.runtime.close()


def _deploy(lab: Lab) -> None:
    deploy(load(lab.topo_path), runtimes=lab.runtimes)


def _order(calls: list[tuple[str, str]], node: str) -> list[str]:
    return [what for what, name in calls if name == node]


def test_workload_starts_only_after_its_links_are_configured(lab: Lab) -> None:
    _deploy(lab)
    for node, address in (("a", "10.9.0.1/24"), ("b", "10.9.0.2/24")):
        up, assigned = lab.runtime.seen[("start", node)].ifaces["eth1"]
        assert up and address in assigned, (node, lab.runtime.seen[("start", node)])


def test_stage_hooks_run_in_order_around_the_start(lab: Lab) -> None:
    _deploy(lab)
    assert _order(lab.runtime.calls, "a") == [
        "create", "exec cl-enter", "exec cl-exit", "start", "exec cfg-enter", "exec cfg-exit"]
    assert "eth1" not in lab.runtime.seen[("exec cl-enter", "a")].ifaces  # before the links
    assert "eth1" in lab.runtime.seen[("exec cl-exit", "a")].ifaces


def test_a_failing_start_rolls_the_deploy_back(lab: Lab) -> None:
    lab.runtime.fail_start = "b"
    with pytest.raises(NetknitError, match="cannot start"):
        _deploy(lab)
    removed = {name for what, name in lab.runtime.calls if what.startswith("remove")}
    assert removed == {"a", "b", load(lab.topo_path).full_name("a"),
                       load(lab.topo_path).full_name("b")}
    assert not lab.runtime.holders
    assert lab.lab_dir().journal.read().live() == []


def test_reconcile_starts_a_stopped_workload_through_the_runtime(lab: Lab) -> None:
    _deploy(lab)
    lab.runtime.running.discard("b")
    result = reconcile(load(lab.topo_path), lab.lab_dir(), runtimes=lab.runtimes)
    assert [(d.node, d.what, d.status) for d in result.drifts] == [
        ("b", Trouble.WORKLOAD_STOPPED, "repaired")]
    assert _order(lab.runtime.calls, "b")[-1] == "start"
    assert "b" in lab.runtime.running


def test_reconcile_recreates_a_lost_node_and_replays_on_restart_hooks(lab: Lab) -> None:
    _deploy(lab)
    topo = load(lab.topo_path)
    lab.runtime.lose(topo.full_name("a"))  # b's end of the link dies with it
    del lab.runtime.calls[:]
    result = reconcile(topo, lab.lab_dir(), runtimes=lab.runtimes)
    assert result.failed == []
    assert {d.found for d in result.drifts} >= {"namespace missing", "restarted"}
    # its old workload stopped, the node made again, wired, started, then the hook
    # marked on-restart (only that one)
    assert _order(lab.runtime.calls, "a") == ["stop", "create", "start", "exec cl-exit"]
    assert lab.runtime.seen[("start", "a")].ifaces["eth1"][0]
    again = reconcile(topo, lab.lab_dir(), runtimes=lab.runtimes)
    assert again.drifts == []


def test_destroy_removes_through_the_runtime(lab: Lab) -> None:
    _deploy(lab)
    topo = load(lab.topo_path)
    done = destroy(topo.name, lab.lab_dir(), runtimes=lab.runtimes)
    assert done.removed.get("process") == 2
    assert ("remove netns", topo.full_name("a")) in lab.runtime.calls
    assert not lab.runtime.holders and not lab.runtime.running
    assert lab.lab_dir().journal.read().live() == []


def test_deploy_twice_is_a_no_op(lab: Lab) -> None:
    _deploy(lab)
    calls = list(lab.runtime.calls)
    again = deploy(load(lab.topo_path), runtimes=lab.runtimes)
    assert again.already_deployed
    assert lab.runtime.calls == calls
