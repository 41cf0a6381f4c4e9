"""Reconcile: compare what the lab must be with what the kernel has, repair the difference.

The desired state is the plan of the deployed topology file (the one the journal's
``deployed`` marker names): every namespace, veth pair, MAC, MTU, address, bridge port and
supervised ``cmd``. Repairs reuse the deploy steps, so a lost link comes back the way it
was first made — both ends born in their namespaces under their final names — and every
new object is journaled before it is made. Only what differs is touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .._errors import NetknitError, StateError
from ..kernel import LinkInfo, Netlink, addresses, delete_links, links, set_link_request
from ..kernel import netns as kernel_netns
from ..kernel._link import address_request
from ..kernel._nl import Request
from ..plan import (
    Configure,
    CreateDevice,
    CreateNode,
    CreateVeth,
    EnsureBridge,
    Iface,
    LinkAction,
    MoveDevice,
    NodePlan,
    StagePoint,
    StartNode,
    Stitch,
    made_by,
)
from ..runtimes import Workload, workload_status
from ..state import Effect, LabDir, lab_lock
from ..topology import Topology
from ._deploy import Deployer, raise_fd_limit, topology_digest
from ._report import Reporter


@dataclass
class Drift:
    """One difference between desired and actual, and what was (or would be) done."""

    node: str
    found: str  # "namespace missing", "eth1 mtu 1400", ...
    action: str  # "recreate namespace", "set mtu 9500", ...
    status: str = "planned"  # planned (dry run) | repaired | waiting | failed: <why>


@dataclass
class ReconcileResult:
    lab: str
    drifts: list[Drift] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def failed(self) -> list[Drift]:
        return [d for d in self.drifts if d.status.startswith("failed")]


@dataclass
class Wake:
    """A Docker workload to start once its links are back. ``how``: ``start`` (it
    stopped), ``gate`` (its gate container was started: let it through), ``rejoin`` (it
    runs in the old namespace of a replaced sandbox: restart it)."""

    node: NodePlan
    drift: Drift
    how: str


class Reconciler(Deployer):
    """A Deployer that starts from what exists instead of from nothing."""

    def reconcile(self, *, dry_run: bool = False, restart: str | None = None) -> ReconcileResult:
        """Repair drift; with ``restart``, first take that node down (its workload and
        namespace), so that it comes back through the same repair path."""
        started = time.monotonic()
        raise_fd_limit()
        result = ReconcileResult(self.topo.name, dry_run=dry_run)
        if not self.lab_dir.journal.exists():
            raise StateError(f"lab {self.topo.name!r} is not deployed",
                             hint="deploy it first: `netknit deploy`")
        with lab_lock(self.lab_dir.path, self.topo.name, "reconcile"):
            state = self.journal.read()
            if state.markers.get("deployed") != topology_digest(self.topo):
                raise StateError(
                    f"lab {self.topo.name!r} was deployed from a different topology (or its "
                    "deploy did not finish)",
                    hint="`netknit deploy --reconfigure` applies the file as it is now",
                )
            if restart is not None:
                self._take_down(restart, state.effects)
            with Netlink.here() as host:
                self.host = host
                try:
                    self._reconcile(result, state.effects)
                finally:
                    self._close()
        result.seconds = time.monotonic() - started
        return result

    def _take_down(self, name: str, effects: dict[str, Effect]) -> None:
        node = self.plan.nodes.get(name)
        if node is None or node.netns is None:
            raise NetknitError(f"no node {name!r} with a namespace in lab {self.topo.name!r}",
                               hint=f"nodes: {', '.join(self.plan.nodes)}")
        self._stop_workload(node, effects)
        netns = effects.get(f"netns::{node.netns}")
        self.runtime.remove(node.netns, netns.info.get("inode") if netns else None)

    def _stop_workload(self, node: NodePlan, effects: dict[str, Effect]) -> None:
        old = effects.get(f"process:{node.netns or ''}:{node.name}")
        if old is not None and "pidfile" in old.info:
            info = old.info
            self.runtime.stop(Workload(info["pidfile"], int(info.get("pid", 0)),
                                       info.get("start")))

    # -- the comparison, then the repairs -----------------------------------------------

    def _reconcile(self, result: ReconcileResult, effects: dict[str, Effect]) -> None:
        drifts = result.drifts
        netns_nodes = [n for n in self.plan.nodes.values()
                       if n.netns is not None and n.container is None]
        lost = [n for n in netns_nodes if not kernel_netns.exists(str(n.netns))]
        for node in lost:
            drifts.append(Drift(node.name, "namespace missing",
                                "recreate namespace, its links and its cmd"))
        for node in netns_nodes:
            if node not in lost:
                ns = self.runtime.open(node)
                if ns is not None:
                    self.namespaces[ns.name] = ns

        wake = self._docker_holders(result, drifts)

        present: dict[str | None, dict[str, LinkInfo]] = {None: {i.name: i for i in
                                                                 links(self.host)}}
        for name, ns in self.namespaces.items():
            present[name] = {i.name: i for i in links(ns.nl)}
        lost_ns = {n.netns for n in lost}
        bridges = [b for b in self.plan.of_kind(EnsureBridge) if isinstance(b, EnsureBridge)]
        lost_bridges = [b for b in bridges if b.name not in present[None]]
        for bridge in lost_bridges:
            drifts.append(Drift(bridge.name, "bridge missing", "recreate bridge and its ports"))
        for name, info in present[None].items():
            if info.kind == "bridge":
                self.bridge_index[name] = info.index

        # namespaces that should exist but cannot be reached now (a container that is not
        # running): their links wait for the next pass instead of failing the others
        unreachable = {n.netns for n in self.plan.nodes.values() if n.netns is not None
                       and n.netns not in self.namespaces and n.netns not in lost_ns}
        broken: list[LinkAction] = []
        for made in self.plan.link_actions():
            ends = made_by(made)
            if any(e.netns in unreachable for e in ends):
                continue
            if any(e.netns in lost_ns for e in ends):
                broken.append(made)  # comes back with the namespace
                continue
            missing = [e for e in ends if e.name not in present.get(e.netns, {})]
            if missing:
                broken.append(made)
                drifts.append(Drift(missing[0].node, f"{missing[0].name} missing",
                                    _repair_words(made)))

        # nodes that came back in a new namespace (their hooks marked on-restart run again)
        restarted = list(lost)
        for node in self.plan.nodes.values():
            ifaces = self.plan.interfaces_of(node.name)
            if node.container is not None and node.netns in self.namespaces and ifaces and \
                    all(i.name not in present.get(node.netns, {}) for i in ifaces):
                restarted.append(node)

        fresh_ifs = {(e.netns, e.name) for made in broken for e in made_by(made)}
        fixes: dict[str | None, list[tuple[Drift, Request]]] = {}
        assigned: dict[str | None, dict[int, set[str]]] = {}  # one address dump per namespace
        for iface in self.plan.interfaces:
            if (iface.netns, iface.name) in fresh_ifs or iface.netns in lost_ns | unreachable:
                continue
            have = present.get(iface.netns, {}).get(iface.name)
            if have is not None:
                if iface.addresses and iface.netns not in assigned:
                    nl = self.host if iface.netns is None else self.namespaces[iface.netns].nl
                    assigned[iface.netns] = {index: {str(a) for a in found} for index, found
                                             in addresses(nl).items()}
                on_link = assigned.get(iface.netns, {}).get(have.index, set())
                for drift, request in self._attribute_drifts(iface, have, present[None],
                                                             on_link):
                    drifts.append(drift)
                    fixes.setdefault(iface.netns, []).append((drift, request))

        stale_cmd = [n for n in netns_nodes if n.cmd and (
            n in lost or workload_status(self.lab_dir.node_dir(n.name) / "cmd.pid.json")
            not in ("running", "starting", "restarting"))]
        for node in stale_cmd:
            if node not in lost:
                drifts.append(Drift(node.name, "cmd not running", "start cmd"))

        if result.dry_run:
            return
        if lost_bridges:  # first: the ports below need their bridge
            try:
                self._do_ensure_bridges(lost_bridges)
                self._set_masters(lost_bridges, present[None], fixes, drifts)
                for d in drifts:
                    if d.found == "bridge missing":
                        d.status = "repaired"
            except NetknitError as exc:
                for d in drifts:
                    if d.found == "bridge missing":
                        d.status = f"failed: {exc}"
        self._repair(result, lost, broken, fixes, stale_cmd, effects, wake, restarted)

    def _set_masters(self, bridges: list[EnsureBridge], host: dict[str, LinkInfo],
                     fixes: dict[str | None, list[tuple[Drift, Request]]],
                     drifts: list[Drift]) -> None:
        """Ports that survived their bridge: put them into the new one."""
        names = {b.name for b in bridges}
        for iface in self.plan.interfaces:
            have = host.get(iface.name) if iface.netns is None else None
            if iface.master in names and have is not None:
                drift = Drift(iface.node, f"{iface.name} not in bridge {iface.master}",
                              f"add to {iface.master}")
                drifts.append(drift)
                fixes.setdefault(None, []).append(
                    (drift, set_link_request(have.index,
                                             master=self.bridge_index[str(iface.master)])))

    def _docker_holders(self, result: ReconcileResult, drifts: list[Drift]) -> list[Wake]:
        """Docker nodes: both containers of each must run, the workload in its sandbox's
        namespace. A holder (the sandbox, or the container itself) that stopped is
        started now: its new namespace is empty, so its links show up as missing below.
        Returns the workloads to (re)start once their links are back: one that stopped,
        and one left in the namespace of a sandbox that was replaced."""
        wake: list[Wake] = []
        nodes = [n for n in self.plan.nodes.values() if n.container is not None]
        if not nodes or self.docker is None:
            return wake
        rt = self.docker.runtime
        for node in nodes:
            spec = node.container
            assert spec is not None
            seen = rt.observe(spec.name, spec.sandbox_name)
            # what deploy chose (a sandbox falls back to the gate without a sandbox image)
            rt.strategy[node.name] = "sandbox" if seen.sandboxed else \
                spec.strategy if spec.strategy != "sandbox" else "gate"
            ns_inode = 0
            if node.netns is not None:
                holder, status = (spec.sandbox_name, seen.sandbox) if seen.sandboxed \
                    else (spec.name, seen.workload)
                if status.startswith("restarting"):
                    # Docker's restart policy is bringing it back: its links follow the start
                    drifts.append(Drift(node.name, f"container {holder} restarting",
                                        "wait for Docker to start it", "waiting"))
                    continue
                if not status.startswith("running"):
                    drift = Drift(node.name, f"container {holder} {status}", f"start {holder}")
                    drifts.append(drift)
                    if result.dry_run:
                        continue
                    try:
                        rt.start_again(node, holder)
                    except NetknitError as exc:
                        drift.status = f"failed: {exc.message}"
                        continue
                    if holder == spec.name:  # the workload itself: its links come next
                        wake.append(Wake(node, drift, "gate" if rt.strategy[node.name]
                                         == "gate" else "none"))
                    else:
                        drift.status = "repaired"
                ns = rt.open_holder(holder, node.netns)
                if ns is None:
                    continue
                self.namespaces[ns.name] = ns
                ns_inode = ns.inode
                if not seen.sandboxed:
                    continue
            if seen.workload.startswith("restarting"):
                drifts.append(Drift(node.name, f"container {spec.name} restarting",
                                    "wait for Docker to start it", "waiting"))
            elif not seen.workload.startswith("running"):
                drift = Drift(node.name, f"container {spec.name} {seen.workload}",
                              f"start {spec.name}")
                drifts.append(drift)
                wake.append(Wake(node, drift, "start"))
            elif ns_inode and seen.workload_inode != ns_inode:
                drift = Drift(node.name, f"{spec.name} outside its sandbox's namespace",
                              f"restart {spec.name}")
                drifts.append(drift)
                wake.append(Wake(node, drift, "rejoin"))
        return wake

    def _wake(self, w: Wake) -> None:
        assert self.docker is not None and w.node.container is not None
        rt = self.docker.runtime
        if w.how == "gate":
            rt.start(w.node)  # writes the gate's ready file
        elif w.how in ("start", "rejoin"):
            # rejoin: its links died with the old namespace: like a reboot, no grace
            rt.start_again(w.node, w.node.container.name, kill_first=w.how == "rejoin")

    def _attribute_drifts(self, iface: Iface, have: LinkInfo, host: dict[str, LinkInfo],
                          assigned: set[str]) -> list[tuple[Drift, Request]]:
        """What differs on an existing interface; ``assigned``: its addresses now."""
        out = []
        if iface.mac and have.mac != iface.mac:
            out.append((Drift(iface.node, f"{iface.name} mac {have.mac}", f"set mac {iface.mac}"),
                        set_link_request(have.index, mac=iface.mac)))
        if iface.mtu and have.mtu != iface.mtu:
            out.append((Drift(iface.node, f"{iface.name} mtu {have.mtu}", f"set mtu {iface.mtu}"),
                        set_link_request(have.index, mtu=iface.mtu)))
        if iface.master:
            bridge = host.get(iface.master)
            index = bridge.index if bridge is not None else None
            if index is not None and have.master != index:
                out.append((Drift(iface.node, f"{iface.name} not in bridge {iface.master}",
                                  f"add to {iface.master}"),
                            set_link_request(have.index, master=index)))
        if not have.up:
            out.append((Drift(iface.node, f"{iface.name} down", "set up"),
                        set_link_request(have.index, up=True)))
        for address in iface.addresses:
            if str(address) not in assigned:
                out.append((Drift(iface.node, f"{iface.name} lacks {address}", f"add {address}"),
                            address_request(have.index, address, f"add {address}")))
        return out

    def _repair(self, result: ReconcileResult, lost: list[NodePlan], broken: list[LinkAction],
                fixes: dict[str | None, list[tuple[Drift, Request]]],
                stale_cmd: list[NodePlan], effects: dict[str, Effect],
                wake: list[Wake], restarted: list[NodePlan]) -> None:
        drifts = result.drifts

        def settle(match: list[Drift], error: Exception | None) -> None:
            for d in match:
                d.status = f"failed: {error}" if error else "repaired"

        # 1. attributes: one pipelined batch per namespace
        for netns, items in fixes.items():
            nl = self.host if netns is None else self.namespaces[netns].nl
            errors = nl.batch([request for _drift, request in items])
            for (drift, _request), err in zip(items, errors, strict=True):
                drift.status = f"failed: {err}" if err and err.errno != 17 else "repaired"

        # 2. lost namespaces (and the workloads stuck in the old ones), then links
        structural = [d for d in drifts if d.status == "planned" and "cmd" not in d.found]
        try:
            for node in lost:  # a workload may live on in the orphaned namespace
                self._stop_workload(node, effects)
            if lost:
                self._do_create_nodes([CreateNode(n) for n in lost])
            for made in broken:  # a surviving end of a half-gone pair is in the way
                if isinstance(made, MoveDevice):
                    continue  # a host device is never deleted: it is moved again
                for end in made_by(made):
                    nl = self.host if end.netns is None else self.namespaces[end.netns].nl
                    delete_links(nl, [end.name])
            veths = [m for m in broken if isinstance(m, CreateVeth)]
            devices = [m for m in broken if isinstance(m, CreateDevice)]
            moves = [m for m in broken if isinstance(m, MoveDevice)]
            if veths:
                self._do_create_veths(veths)
            if devices:
                self._do_create_devices(devices)
            if moves:
                self._do_move_devices(moves)
            remade = {e.name for made in broken for e in made_by(made) if e.netns is None}
            stitches = [a for a in self.plan.of_kind(Stitch) if isinstance(a, Stitch)
                        and (a.a in remade or a.b in remade)]
            if stitches:
                self._do_stitch(stitches)
            touched = {e.netns for made in broken for e in made_by(made)}
            touched |= {n.netns for n in lost}
            self._do_configure([c for c in self.plan.of_kind(Configure)
                                if isinstance(c, Configure) and c.netns in touched])
            settle(structural, None)
        except NetknitError as exc:
            settle(structural, exc)
        # 3. Docker workloads, now that their links are back: a stopped one starts again
        # (a gate's waits for its ready file); one left in the namespace of a replaced
        # sandbox restarts to join the sandbox's new, rewired namespace
        for w in wake:
            try:
                self._wake(w)
                w.drift.status = "repaired"
            except NetknitError as exc:
                w.drift.status = f"failed: {exc.message}"
            restarted.append(w.node)
        # 4. workloads: started again only once their node is wired
        if stale_cmd:
            cmd_drifts = [d for d in drifts if d.found == "cmd not running"]
            try:
                self._do_start_nodes([StartNode(n) for n in stale_cmd])
                settle(cmd_drifts, None)
            except NetknitError as exc:
                settle(cmd_drifts, exc)

        # 5. hooks the user marked `on-restart: true`, for nodes that came back
        for node in {n.name: n for n in restarted}.values():
            stages = self.topo.nodes[node.name].stages
            for stage in ("create-links", "configure"):
                spec = stages.get(stage)
                for hook in spec.exec if spec else ():
                    if not hook.on_restart:
                        continue
                    point = StagePoint(node, stage, hook.phase, (hook,))
                    ran = self._run_hook(point, hook)
                    drifts.append(Drift(node.name, "restarted", f"run {hook.command}",
                                        "repaired" if ran.returncode == 0 else
                                        f"failed: exit {ran.returncode}: {ran.output.strip()}"))


def _repair_words(made: LinkAction) -> str:
    if isinstance(made, CreateVeth):
        return (f"recreate link {made.main.node}:{made.main.name} <-> "
                f"{made.peer.node}:{made.peer.name}")
    if isinstance(made, CreateDevice):
        return f"recreate {made.kind} {made.iface.node}:{made.iface.name}"
    return f"move {made.wanted} in again as {made.iface.name}"


def reconcile(topo: Topology, lab_dir: LabDir, *, dry_run: bool = False,
              restart: str | None = None, max_workers: int = 8,
              reporter: Reporter | None = None) -> ReconcileResult:
    """Repair drift of a deployed lab (``dry_run``: only report it; ``restart``: take that
    node down first and bring it back through the same repair)."""
    return Reconciler(topo, lab_dir, max_workers=max_workers, reporter=reporter,
                      host=deployed_host(topo, lab_dir)).reconcile(dry_run=dry_run,
                                                                   restart=restart)


def deployed_host(topo: Topology, lab_dir: LabDir) -> str | None:
    """The host a lab that spans ``hosts:`` was deployed on here (its desired state says)."""
    if not topo.hosts:
        return None
    try:
        host = lab_dir.read_state().get("host")
    except (OSError, ValueError) as exc:
        raise StateError(f"lab {topo.name!r} has no readable desired state here: {exc}",
                         hint="deploy it first: `netknit deploy --host NAME`") from None
    return str(host) if host else None
