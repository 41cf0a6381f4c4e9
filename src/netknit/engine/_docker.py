"""The engine's Docker steps: journaled container and network effects of a deploy.

Kept apart from the namespace steps of :mod:`._deploy`, which call in here for the
actions of Docker nodes. Same discipline: an intent record (the exact container or network
name) is fsynced before the object is made, a done record with its id after; ``destroy``
removes by id (or by the exact journaled name, checking netknit's lab label), never by
name pattern.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import StateError
from ..plan import CreateNode, NodePlan, StartNode
from ..runtimes import ExecResult
from ..state import Effect

if TYPE_CHECKING:
    from ..kernel import Namespace
    from ..runtimes.docker import DockerRuntime
    from ._deploy import Deployer
    from ._report import Reporter


class DockerSteps:
    """Docker work of one deploy; ``deployer`` supplies journal, crash points, pool."""

    def __init__(self, deployer: Deployer, sandbox_image: str | None = None) -> None:
        from ..runtimes.docker import DockerRuntime

        self.d = deployer
        self.runtime: DockerRuntime = DockerRuntime(deployer.lab_dir.path,
                                                    sandbox_image=sandbox_image)
        self.nodes = [n for n in deployer.plan.nodes.values() if n.container is not None]
        self.foreign: set[str] = set()  # namespaces Docker made: no pinned ifindexes there
        self._network_done = False

    def preflight(self) -> list[str]:
        """Problems that stop the deploy before any side effect (notices are reported)."""
        problems, notices = self.runtime.preflight(self.nodes)
        for note in notices:
            self.d.report.note(note)
        return problems

    def _ensure_network(self) -> None:
        mgmt = self.d.topo.mgmt
        if self._network_done or mgmt is None:
            return
        self._network_done = True
        effect = Effect("network", mgmt.network)
        self.d._intend([effect])
        net_id, created = self.runtime.ensure_network(mgmt, self.d.topo.name)
        if created:
            effect.info["id"] = net_id
            self.d._done([effect])
        else:
            self.d.journal.removed([effect.key])  # someone else's: never ours to remove
            self.d.report.note(f"using existing network {mgmt.network} (it stays after destroy)")

    def create(self, actions: Sequence[CreateNode]) -> None:
        """Start each node's namespace holder and open its namespace."""
        self._ensure_network()
        effects = {
            a.node.name: Effect("container", self.runtime.holder_name(a.node), None,
                                {"node": a.node.name, "lab_dir": str(self.d.lab_dir.path)})
            for a in actions
        }
        self.d._intend(effects.values())

        def create(action: CreateNode) -> tuple[Namespace | None, str]:
            node = action.node
            if self.runtime.strategy.get(node.name) == "none" and node.startup_delay:
                time.sleep(node.startup_delay)  # containerlab's behaviour: links come after
            made = self.runtime.create(node)
            effects[node.name].info["id"] = made[1]
            self.d.crash()
            return made

        try:
            results = self.d._parallel(actions, create, "containers")
        finally:
            # ids of what was made, even if another node failed: destroy removes by id
            self._find_ids(effects.values())
            self.d._done([e for e in effects.values() if "id" in e.info])
        for ns, _cid in results:
            if ns is not None:
                self.d.namespaces[ns.name] = ns
                self.foreign.add(ns.name)

    def _find_ids(self, effects: Iterable[Effect]) -> None:
        """Ids of containers whose creation failed half-way (made, not started)."""
        for effect in effects:
            if "id" not in effect.info:
                cid = self._id_of(effect.name)
                if cid:
                    effect.info["id"] = cid

    def _id_of(self, name: str) -> str | None:
        try:
            return str(self.runtime.api.inspect_container(name)["Id"])
        except Exception:
            return None

    def start(self, actions: Sequence[StartNode]) -> None:
        """Let each workload run: its namespace is wired (startup-delay first)."""
        new = [a for a in actions if self.runtime.strategy.get(a.node.name) == "sandbox"
               or a.node.netns is None]
        effects = {a.node.name: Effect("container", a.node.container.name, None,
                                       {"node": a.node.name,
                                        "lab_dir": str(self.d.lab_dir.path)})
                   for a in new if a.node.container is not None}
        self.d._intend(effects.values())

        def start(action: StartNode) -> None:
            node = action.node
            if self.runtime.strategy.get(node.name) != "none" and node.startup_delay:
                time.sleep(node.startup_delay)
            cid = self.runtime.start(node)
            if cid and node.name in effects:
                effects[node.name].info["id"] = cid
            self.d.crash()

        try:
            self.d._parallel(actions, start, "start")
        finally:
            self._find_ids(effects.values())
            self.d._done([e for e in effects.values() if "id" in e.info])

    def exec(self, node: NodePlan, argv: Sequence[str]) -> ExecResult:
        return self.runtime.exec(node, argv)


def docker_leftovers(lab_dir: Path, live: Iterable[Effect], report: Reporter) -> list[Effect]:
    """Containers and networks labelled as this lab's that ``live`` does not list (a
    journal that lost them), as effects to undo. Nothing when no engine answers.

    Asked over the engine's unix socket with the standard library: the Docker SDK costs
    ~0.5 s to import, paid by every destroy after a crash of a lab without containers.
    """
    import http.client
    import json
    import socket
    from urllib.parse import quote

    from ..plan import LABEL_LAB_DIR

    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://") or not os.path.exists(host[len("unix://"):]):
        return []  # no local engine (a remote one is asked only when the lab has nodes)

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(10)
            self.sock.connect(host[len("unix://"):])

    label = quote(json.dumps({"label": [f"{LABEL_LAB_DIR}={lab_dir}"]}))
    found: list[Effect] = []
    try:
        for kind, path in (("container", f"/containers/json?all=1&filters={label}"),
                           ("network", f"/networks?filters={label}")):
            conn = Conn("localhost")
            try:
                conn.request("GET", path)
                reply = conn.getresponse()
                if reply.status != 200:
                    raise OSError(f"the engine answered {reply.status} {reply.reason}")
                for item in json.loads(reply.read()):
                    name = item["Names"][0].lstrip("/") if kind == "container" else item["Name"]
                    found.append(Effect(kind, name, None, {"id": item["Id"]}))
            finally:
                conn.close()
    except (OSError, ValueError, KeyError, IndexError) as exc:
        report.note(f"cannot look for the lab's containers: {exc}")
        return []
    listed = {str(e.info.get("id")) for e in live} | {e.key for e in live}
    return [e for e in found if e.info["id"] not in listed and e.key not in listed]


def undo_docker(lab_dir: Path, live: Iterable[Effect], report: Reporter,
                gone: Callable[[list[Effect]], None]) -> None:
    """Remove the lab's containers, then its management network (from the journal)."""
    containers = [e for e in live if e.kind == "container"]
    networks = [e for e in live if e.kind == "network"]
    if not containers and not networks:
        return
    from ..runtimes.docker import DockerRuntime

    runtime = DockerRuntime(lab_dir)
    if containers:
        report.step("containers", len(containers))

        def remove(e: Effect) -> Any:
            runtime.remove(e.name, e.info.get("id"))
            report.advance()

        with ThreadPoolExecutor(max_workers=8) as pool:
            errors = [f.exception() for f in [pool.submit(remove, e) for e in containers]]
        failed = [err for err in errors if err is not None]
        if failed:
            raise StateError(f"cannot remove containers: {failed[0]}",
                             hint="is the Docker engine running? run destroy again")
        gone(containers)
    for e in networks:
        runtime.remove_network(e.name, e.info.get("id"))
    gone(networks)
