"""Inspect: desired state side by side with what the kernel has; exec into nodes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import NetknitError, StateError
from ..kernel import Netlink, addresses, links
from ..kernel import netns as kernel_netns
from ..plan import NodePlan
from ..runtimes import ExecResult, NetnsRuntime, Runtime, workload_status
from ..state import LabDir
from ..topology import Topology

if TYPE_CHECKING:
    from ..runtimes.docker import DockerRuntime


@dataclass
class IfaceView:
    name: str
    mac: str
    mtu: int
    addresses: list[str]
    peer: str
    state: str  # up | down | missing
    drift: list[str] = field(default_factory=list)  # how actual differs from desired


@dataclass
class NodeView:
    name: str
    kind: str
    netns: str | None
    state: str  # running | missing | host
    cmd: str  # status of the node's cmd: running | exited (N) | -
    interfaces: list[IfaceView]
    # why the node itself is not as deployed: "sandbox exited (137)", ...
    drift: list[str] = field(default_factory=list)


@dataclass
class LabView:
    lab: str
    lab_dir: str
    deployed: bool
    nodes: list[NodeView]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _observe(nl: Netlink, wanted: list[dict[str, Any]]) -> list[IfaceView]:
    present = {link.name: link for link in links(nl)}
    addrs = addresses(nl)
    out = []
    for want in wanted:
        link = present.get(want["name"])
        if link is None:
            out.append(IfaceView(want["name"], want["mac"], want["mtu"], want["addresses"],
                                 want["peer"], "missing", ["missing"]))
            continue
        have = {str(a) for a in addrs.get(link.index, [])}
        drift = []
        if want["mac"] and link.mac != want["mac"]:  # "" / 0: not netknit's to set
            drift.append(f"mac {link.mac}")
        if want["mtu"] and link.mtu != want["mtu"]:
            drift.append(f"mtu {link.mtu}")
        drift += [f"no {a}" for a in want["addresses"] if a not in have]
        if not link.up:
            drift.append("down")
        elif link.kind == "veth" and not link.carrier:
            drift.append("no carrier (peer down)")
        shown = [a for a in want["addresses"] if a in have]
        out.append(IfaceView(link.name, link.mac, link.mtu, shown, want["peer"],
                             "up" if link.up else "down", drift))
    return out


def inspect(lab: str, lab_dir: LabDir) -> LabView:
    """What the lab should be and what it is."""
    try:
        state = lab_dir.read_state()
    except FileNotFoundError:
        return LabView(lab, str(lab_dir.path), False, [])
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read {lab_dir.state_file}: {exc}") from exc
    deployed = "deployed" in lab_dir.journal.read().markers
    views = []
    docker: DockerRuntime | None = None
    with Netlink.here() as host:
        for name, node in state["nodes"].items():
            ns_name = node["netns"]
            if node.get("runtime") == "docker":
                if docker is None:
                    from ..runtimes.docker import DockerRuntime

                    docker = DockerRuntime(lab_dir.path)
                views.append(_docker_view(docker, name, node, host))
                continue
            cmd = workload_status(lab_dir.node_dir(name) / "cmd.pid.json")
            if ns_name is None:
                views.append(NodeView(name, node["kind"], None, "host", cmd,
                                      _observe(host, node["interfaces"])))
                continue
            if not kernel_netns.exists(ns_name):
                views.append(NodeView(name, node["kind"], ns_name, "missing", cmd,
                                      _missing(node["interfaces"]), ["namespace missing"]))
                continue
            ns = kernel_netns.open_existing(ns_name)
            try:
                views.append(NodeView(name, node["kind"], ns_name, "running", cmd,
                                      _observe(ns.nl, node["interfaces"])))
            finally:
                ns.close()
    return LabView(lab, str(lab_dir.path), deployed, views)


def _docker_view(docker: DockerRuntime, name: str, node: dict[str, Any],
                 host: Netlink) -> NodeView:
    """A Docker node: its containers' status, and its interfaces as its workload sees
    them: in the namespace the workload runs in (a workload left behind in the namespace
    of a dead sandbox sees the old links, not the sandbox's new ones)."""
    seen = docker.observe(node["container"], node["sandbox"])
    problems = seen.problems()
    state = ", ".join([seen.workload, *(p for p in problems if not p.startswith(
        ("workload ", "container ")))])
    if node["netns"] is None:  # shares the host's or another node's namespace
        return NodeView(name, node["kind"], None, state, "-", _observe(host, node["interfaces"])
                        if node["interfaces"] else [], problems)
    ns = docker.open_holder(node["container"], node["netns"]) or docker.open_holder(
        node["sandbox"], node["netns"])
    if ns is None:
        return NodeView(name, node["kind"], node["netns"], state, "-",
                        _missing(node["interfaces"]), problems)
    try:
        return NodeView(name, node["kind"], node["netns"], state, "-",
                        _observe(ns.nl, node["interfaces"]), problems)
    finally:
        ns.close()


def _missing(wanted: list[dict[str, Any]]) -> list[IfaceView]:
    return [IfaceView(i["name"], i["mac"], i["mtu"], i["addresses"], i["peer"], "missing",
                      ["missing"]) for i in wanted]


def _on_docker(topo: Topology, node: str) -> bool:
    """Whether the deployed lab runs ``node`` on Docker: a lab deployed with
    ``--runtime netns`` has its linux nodes as bare namespaces."""
    try:
        deployed = LabDir.for_lab(topo.name, topo.path).read_state()["nodes"]
    except (OSError, ValueError, KeyError):
        return True
    entry = deployed.get(node)
    return entry is None or entry.get("runtime") == "docker"


def exec_in(topo: Topology, nodes: Sequence[str], argv: Sequence[str], *,
            timeout: float | None = None, runtime: Runtime | None = None) -> list[ExecResult]:
    """Run ``argv`` in each named node (all namespace nodes when ``nodes`` is empty)."""
    runtime = runtime or NetnsRuntime()
    names = list(nodes) or [n.name for n in topo.nodes.values() if n.kind not in ("bridge", "host")]
    results = []
    for name in names:
        node = topo.nodes.get(name)
        if node is None:
            raise NetknitError(f"no node {name!r} in lab {topo.name!r}",
                               hint=f"nodes: {', '.join(topo.nodes)}")
        if node.kind in ("bridge", "host"):
            raise NetknitError(f"node {name!r} is a {node.kind}: it has no namespace to run in")
        if node.kind == "linux" and _on_docker(topo, name):  # through the Engine API
            from ..plan import container_spec
            from ..runtimes.docker import DockerRuntime

            lab_dir = LabDir.for_lab(topo.name, topo.path)
            spec = container_spec(topo, node)
            docker = DockerRuntime(lab_dir.path)
            results.append(docker.exec(NodePlan(name, node.kind, None, container=spec), argv))
            continue
        plan = NodePlan(name, node.kind, topo.full_name(name), env=dict(node.env))
        ns = runtime.open(plan)
        if ns is None:
            raise NetknitError(f"node {name!r} is not running",
                               hint="deploy the lab first: `netknit deploy`")
        try:
            results.append(runtime.exec(plan, ns, argv, timeout=timeout))
        finally:
            ns.close()
    return results
