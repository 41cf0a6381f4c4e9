"""The Docker runtime: ``kind: linux`` nodes through the Docker Engine API (the ``docker``
SDK, imported only when a lab has Docker nodes; never the ``docker`` CLI).

A node's workload never runs before its interfaces exist. Strategies:

- ``sandbox`` (default): a tiny container (``network_mode: none``) holds the namespace;
  netknit wires it; then the workload starts with ``network_mode: container:<sandbox>``.
- ``gate``: the workload starts at once, but under a POSIX-sh wrapper (bind-mounted
  read-only) that waits for netknit's ready file, then ``exec``s the image's own
  entrypoint + cmd with the arguments unchanged.
- ``none``: containerlab's behaviour (start, then wire): kept for comparison.

Every container carries ``netknit.lab-dir``; removal checks that label, so netknit never
removes a container another lab (or tool) owns. Only a node's workload carries
containerlab's labels: containerlab's tools see one container per node.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import io
import json
import os
import re
import resource
import shlex
import stat
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._dataclass import dataclass
from .._errors import NetknitError, RuntimeFailure
from ..kernel import Namespace, tx_checksum_off
from ..kernel import netns as kernel_netns
from ..plan import (
    DEFAULT_SANDBOX_IMAGE,
    LABEL_LAB_DIR,
    LABEL_NODE_LAB_DIR,
    LABEL_ROLE,
    ContainerSpec,
    MgmtAddress,
    NodePlan,
    label_env,
)
from ..state import Effect, EffectKind, LabDir, NodeState, SafeDir
from ..topology import Mgmt
from . import _pull as pulling
from ._base import (
    API_TIMEOUT,
    ExecResult,
    Fix,
    Observed,
    Preflight,
    Problem,
    Progress,
    RuntimeEvent,
    Trouble,
    namespaces_taken,
)

#: Where the gate's directory (wrapper script + ready file) appears in the container.
GATE_DIR = "/.netknit"
#: The FIFO in the gate's directory on which a waiting gate sleeps until it is written to.
GATE_WAKE = "wake"
#: Debian's busybox-static: the sandbox image (and the test images) are made from it.
BUSYBOX = "/bin/busybox"
_HINT_ENGINE = "start Docker (`scripts/docker.sh` starts a dockerd for tests) or check " \
    "DOCKER_HOST; `--runtime netns` wires linux nodes as bare namespaces instead"


def script(name: str) -> str:
    """A shell script shipped with netknit (``gate.sh``, ``wait.sh``)."""
    from importlib import resources  # here: a netns lab's destroy loads this module too

    return resources.files("netknit.data").joinpath(name).read_text(encoding="utf-8")


def build_busybox_image(api: Any, ref: str, cmd: Sequence[str],
                        applets: Sequence[str] = ("sh", "sleep")) -> None:
    """Import ``ref``: a root file system of Debian's static busybox and applet links.

    Takes well under a second and needs no registry.
    """
    if not os.path.exists(BUSYBOX):
        raise RuntimeFailure(f"cannot build {ref}: {BUSYBOX} is missing",
                             hint="apt-get install busybox-static")
    import tarfile  # here: a netns lab's destroy loads this module too

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "etc", "proc", "sys", "dev"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, "bin/busybox")
        for applet in applets:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    api.import_image_from_data(buf.getvalue(), repository=repo, tag=tag,
                               changes=[f"CMD {_json_list(cmd)}"])


def _json_list(items: Sequence[str]) -> str:

    return json.dumps(list(items))


def engine_client(timeout: float | None) -> Any:
    """An Engine API client (docker.APIClient) for the engine DOCKER_HOST names (the
    default socket without it): the one place that decides which engine netknit talks to.
    ``timeout`` None: no read timeout (an event stream)."""
    try:
        import docker
    except ImportError:
        raise RuntimeFailure("the docker SDK for Python is not installed",
                             hint="pip install 'docker>=7'") from None
    try:
        return docker.APIClient(
            base_url=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
            version="auto", timeout=timeout)
    except Exception as exc:  # "auto" asks the engine for its version
        raise engine_unreachable(exc) from None


def engine_unreachable(exc: BaseException) -> RuntimeFailure:
    return RuntimeFailure(f"cannot reach the Docker engine: {exc}", hint=_HINT_ENGINE)


@dataclass(frozen=True, slots=True)
class Seen:
    """A Docker node's containers as they are now: status and network namespace inode
    (0 when not running) of the workload and of its sandbox (``missing`` without one)."""

    workload: str
    workload_inode: int
    sandbox: str
    sandbox_inode: int

    @property
    def sandboxed(self) -> bool:
        return self.sandbox != "missing"

    def problems(self) -> list[str]:
        """Why the node is not running as deployed (empty: it is). A container that stops
        is drift: its workload no longer sees its links."""
        out = []
        if self.sandboxed and not _running(self.sandbox):
            out.append(f"sandbox {self.sandbox}")
        if not _running(self.workload):
            out.append(f"{'workload' if self.sandboxed else 'container'} {self.workload}")
        elif self.sandboxed and _running(self.sandbox) and \
                self.workload_inode != self.sandbox_inode:
            out.append("workload outside its sandbox's namespace")
        return out


def _running(status: str) -> bool:
    return status.startswith("running")


#: netknit's mark on a management network it made: only such a network is netknit's to
#: remove (besides containerlab's own label, ``containerlab: ""``, that it also carries)
LABEL_MGMT_MADE = "netknit.mgmt-net"
#: where the management networks' locks live (a tmpfs: none outlives a reboot)
LOCK_DIR = Path("/run/lock")
_LOCK_WAIT = 300.0  # seconds: a deploy holds it while its nodes start
#: the engine's own networks: never a lab's, and the default bridge takes no static address
_ENGINE_NETWORKS = ("bridge", "host", "none")


class _NetworkLock:
    """flock(2) on a file per management network: shared by deploys between making sure
    the network exists and their nodes joining it, exclusive for its removal."""

    def __init__(self, network: str, *, exclusive: bool, purpose: str = "") -> None:
        self.path = LOCK_DIR / f"netknit-mgmt-{network}{purpose}.lock"
        self.mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        self.fd = -1

    def __enter__(self) -> _NetworkLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + _LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, self.mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise RuntimeFailure(
                        f"the management network's lock {self.path} is held by another "
                        f"deploy or destroy for {_LOCK_WAIT:.0f}s", hint="try again when "
                        "it has finished") from None
                time.sleep(0.05)
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)  # closing drops the flock


def _bridge_name(network: dict[str, Any]) -> str:
    """The Linux bridge behind a Docker network (containerlab's bridgeNameFromInspect):
    its ``bridge.name`` option, else Docker's ``br-<id12>``; "" for another driver."""
    if network.get("Driver") != "bridge":
        return ""
    if network.get("Name") == "bridge":
        return "docker0"
    named = (network.get("Options") or {}).get("com.docker.network.bridge.name")
    return str(named) if named else "br-" + str(network["Id"])[:12]


def _lldp(bridge: str) -> None:
    """containerlab's postCreateNetActions: the bridge forwards LLDP frames (its host-wide
    rp_filter change is left out: netknit changes nothing of the host's but its objects)."""
    if bridge:
        with contextlib.suppress(OSError):
            Path(f"/sys/class/net/{bridge}/bridge/group_fwd_mask").write_text("16384")


def _version(text: str) -> tuple[int, ...]:
    """An engine version's numbers: ``28.0.1`` -> (28, 0, 1); ``20.10.24+dfsg1`` too."""
    return tuple(int(p) for p in re.findall(r"\d+", text.split("+")[0].split("-")[0])[:3])


class DockerRuntime:
    """Containers of Docker nodes. Thread-safe: the engine starts nodes in parallel."""

    name = "docker"
    noun = "containers"
    kinds = frozenset({EffectKind.CONTAINER, EffectKind.NETWORK})
    empty_namespaces = False
    self_restarting = True  # a restart policy brings a container back in a new namespace
    remote_engine = True

    def __init__(self, lab_dir: Path, *, sandbox_image: str | None = None) -> None:
        self.lab_dir = lab_dir
        self.sandbox_image = sandbox_image  # CLI flag: overrides the topology's
        self.strategy: dict[str, str] = {}  # node -> strategy after preflight (fallbacks)
        self._sandboxed: dict[str, bool] = {}  # node -> has a sandbox (as last observed)
        self._shared: tuple[str, Mgmt] | None = None  # lab and management network
        self._net_lock: _NetworkLock | None = None  # held shared from make_shared to release
        self._client: Any = None
        self._lock = threading.RLock()
        self._image_config: dict[str, dict[str, Any]] = {}

    # -- the engine connection ----------------------------------------------------------

    @property
    def api(self) -> Any:
        """The low-level Engine API client (docker.APIClient)."""
        if self._client is not None:  # the hot path: no lock for the worker threads
            return self._client
        with self._lock:
            if self._client is None:
                client = engine_client(timeout=API_TIMEOUT[0])
                try:
                    client.ping()
                except Exception as exc:
                    raise engine_unreachable(exc) from None
                self._client = client
            return self._client

    @staticmethod
    def _not_found(exc: BaseException) -> bool:
        from docker.errors import NotFound

        return isinstance(exc, NotFound)

    # -- before the first side effect ---------------------------------------------------

    def preflight(self, nodes: Sequence[NodePlan], report: Progress) -> Preflight:
        """Check names; have every image (pulled per ``image-pull-policy``); pick each
        node's strategy."""
        problems = namespaces_taken(nodes)
        notices: list[str] = []
        # one listing for all names (a lab of hundreds must not cost hundreds of calls)
        taken = {n.lstrip("/") for c in self.api.containers(all=True) for n in c["Names"]}
        for node in nodes:
            spec = _spec(node)
            for name in (spec.name, spec.sandbox_name):
                if name in taken:
                    problems.append(f"container {name} exists already (node {node.name})")
        if problems:
            return Preflight(problems)  # the deploy stops: pull nothing
        self._images(nodes, report, notices)
        for node in nodes:
            spec = _spec(node)
            strategy = spec.strategy
            if strategy == "sandbox":
                image = self._sandbox_image(spec)
                ok, note = self._sandbox_ready(image)
                if note:
                    notices.append(note)
                if not ok:
                    strategy = "gate"
                    notices.append(f"node {node.name}: no sandbox image ({image}); "
                                   "starting it with the gate strategy instead")
            self.strategy[node.name] = strategy
        privileged = [n.name for n in nodes if _spec(n).options.privileged]
        if privileged and bounded_caps():
            notices.append(
                f"this machine's capability bounding set lacks {', '.join(bounded_caps())}, "
                "so Docker cannot start privileged containers: nodes "
                f"{', '.join(privileged)} get every other capability, with seccomp, AppArmor "
                "and /proc's masked paths unconfined, instead")
        return Preflight(problems, notices)

    def _sandbox_image(self, spec: ContainerSpec) -> str:
        return self.sandbox_image or spec.sandbox_image or DEFAULT_SANDBOX_IMAGE

    def _images(self, nodes: Sequence[NodePlan], report: Progress, notices: list[str]
                ) -> None:
        """Every node image there, pulled as its ``image-pull-policy`` says (containerlab's
        PullImage), each distinct image once; an image that is not there after that is an
        ImageError. A sandbox image other than netknit's own (built here, in no registry)
        is pulled by the policy of its nodes too, but one that cannot be had only costs
        its nodes the sandbox (the gate needs no image of its own)."""
        found = pulling.wants((_spec(n).image, n.name, _spec(n).options.image_pull_policy)
                           for n in nodes)
        extra = pulling.wants(
            (image, n.name, _spec(n).options.image_pull_policy) for n in nodes
            if _spec(n).strategy == "sandbox" and (image := self._sandbox_image(_spec(n)))
            != DEFAULT_SANDBOX_IMAGE and image not in {w.image for w in found})
        to_pull, refused = pulling.decide(found, self._local_image)
        if refused:
            raise pulling.never_error(refused)
        sandbox_pull, _ = pulling.decide(extra, self._local_image)
        why = {w.image: f"image-pull-policy {w.policy}" if w.policy == "Always" else
               "not found locally" for w in to_pull + sandbox_pull}
        failed = pulling.pull_all(to_pull + sandbox_pull, self._fetch, report, why) \
            if to_pull or sandbox_pull else {}
        for image in {w.image for w in to_pull + sandbox_pull} - set(failed):
            self._image_config.pop(image, None)  # an Always pull may bring a new one
        errors = {w.image: failed[w.image] for w in to_pull if w.image in failed}
        if errors:
            raise pulling.pull_error(errors, to_pull, self._local_image)
        for want in sandbox_pull:
            if want.image in failed:
                notices.append(f"cannot pull the sandbox image {want.image}: "
                               f"{failed[want.image]}")

    def _local_image(self, image: str) -> bool:
        """Whether the engine has ``image`` (its configuration is kept for the gate)."""
        if image in self._image_config:
            return True
        try:
            self._image_config[image] = self.api.inspect_image(image)
            return True
        except Exception as exc:
            if not self._not_found(exc):
                raise RuntimeFailure(f"cannot inspect image {image}: {exc}") from None
        return False

    def _fetch(self, image: str, timeout: float) -> Iterator[Mapping[str, Any]]:
        """The Engine's progress messages of one pull. The SDK's ``pull()`` waits for the
        Engine without a timeout: this is its request with one (on each read)."""
        import requests

        from docker import auth, errors, utils

        api = self.api
        repo, tag = utils.parse_repository_tag(image)
        header = auth.get_config_header(api, auth.resolve_repository_name(repo)[0])
        silent = f"no answer within {timeout:.0f}s ({pulling.PULL_ENV})"
        try:
            response = api._post(api._url("/images/create"),
                                 params={"fromImage": repo, "tag": tag or "latest"},
                                 headers={"X-Registry-Auth": header} if header else {},
                                 stream=True, timeout=timeout)
            api._raise_for_status(response)
        except errors.APIError as exc:
            raise pulling.PullFailed(str(exc.explanation or exc)) from None
        except requests.exceptions.Timeout:
            raise pulling.PullFailed(silent) from None
        try:
            yield from api._stream_helper(response, decode=True)
        except Exception as exc:  # requests' or urllib3's, reading the stream
            raise pulling.PullFailed(silent if "timed out" in str(exc) else str(exc)) \
                from None
        finally:
            response.close()

    def _exists(self, name: str) -> bool:
        try:
            self.api.inspect_container(name)
            return True
        except Exception as exc:
            if self._not_found(exc):
                return False
            raise

    def _sandbox_ready(self, image: str) -> tuple[bool, str | None]:
        if self._local_image(image):
            return True, None
        if image != DEFAULT_SANDBOX_IMAGE or not os.path.exists(BUSYBOX):
            return False, None
        with self._lock:
            # network tools too: stage hooks before the workload starts run in the sandbox
            build_busybox_image(self.api, image, ["/bin/sleep", "2147483647"],
                                ("sh", "sleep", "ip", "ping", "cat", "ls", "echo", "ifconfig"))
        return True, f"built the sandbox image {image} from Debian's busybox-static"

    # -- networks -----------------------------------------------------------------------

    def ensure_network(self, mgmt: Mgmt) -> tuple[dict[str, Any], bool]:
        """The management network as Docker shows it (made now if missing, as
        containerlab's createMgmtBridge makes it), and whether netknit made it now."""
        found = self._inspect_network(mgmt.network)
        if found is not None:
            return found, False
        # one maker at a time: two deploys creating it at once, the second is refused
        # ("Pool overlaps") before the first one's network can be seen
        with _NetworkLock(mgmt.network, exclusive=True, purpose=".create"):
            return self._create_network(mgmt)

    def _create_network(self, mgmt: Mgmt) -> tuple[dict[str, Any], bool]:
        found = self._inspect_network(mgmt.network)
        if found is not None:
            return found, False
        from docker.types import IPAMConfig, IPAMPool

        pools = [IPAMPool(subnet=str(net), gateway=str(gw) if gw else None,
                          iprange=str(part) if part else None)
                 for net, gw, part in ((mgmt.ipv4_subnet, mgmt.ipv4_gw, mgmt.ipv4_range),
                                       (mgmt.ipv6_subnet, mgmt.ipv6_gw, mgmt.ipv6_range))
                 if net is not None]
        options = {"com.docker.network.driver.mtu": str(self._mgmt_mtu(mgmt))}
        if mgmt.bridge:
            options["com.docker.network.bridge.name"] = mgmt.bridge
        if _version(str(self.api.version().get("Version", "0"))) > (28, 0, 0):
            # containerlab: Docker 28 keeps unexposed ports closed without it
            options.update(dict.fromkeys(("com.docker.network.bridge.gateway_mode_ipv4",
                                          "com.docker.network.bridge.gateway_mode_ipv6"),
                                         "nat-unprotected"))
        options.update(mgmt.driver_opts)
        try:
            self.api.create_network(
                mgmt.network, driver="bridge", ipam=IPAMConfig(pool_configs=pools),
                enable_ipv6=mgmt.ipv6_subnet is not None, options=options,
                labels={"containerlab": "", LABEL_MGMT_MADE: "netknit"})
        except Exception as exc:
            again = self._inspect_network(mgmt.network)
            if again is not None:  # another deploy made it meanwhile: share it
                return again, False
            raise RuntimeFailure(
                f"cannot create the management network {mgmt.network}: {exc}",
                hint="another Docker network may use its subnet (`docker network ls`); "
                "set another `mgmt: ipv4-subnet` (or `network`) in the topology") from None
        made = self._inspect_network(mgmt.network)
        if made is None:
            raise RuntimeFailure(f"the management network {mgmt.network} vanished as it "
                                 "was made", hint="deploy again")
        _lldp(_bridge_name(made))
        return made, True

    def _inspect_network(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.api.inspect_network(name))
        except Exception as exc:
            if self._not_found(exc):
                return None
            raise

    def _mgmt_mtu(self, mgmt: Mgmt) -> int:
        """containerlab's WithMgmtNet: the file's MTU; for ``clab``, that of Docker's
        ``bridge`` network (1500 without one); else 0 (Docker's default)."""
        if mgmt.mtu or mgmt.network != "clab":
            return mgmt.mtu
        found = self._inspect_network("bridge")
        mtu = ((found or {}).get("Options") or {}).get("com.docker.network.driver.mtu", "")
        return int(mtu) if str(mtu).isdigit() and int(mtu) else 1500

    def remove_network(self, name: str, net_id: str | None) -> bool:
        """Remove the management network if netknit made it and no container uses it any
        more (stopped ones count: they would not start again). Under the network's lock,
        taken exclusively: no deploy is between making sure it exists and joining it."""
        with _NetworkLock(name, exclusive=True):
            found = self._inspect_network(name)
            if found is None:
                return False
            labels = found.get("Labels") or {}
            if LABEL_MGMT_MADE not in labels and labels.get(LABEL_LAB_DIR) != \
                    str(self.lab_dir):  # (a lab's own network, as netknit made them once)
                return False  # made by someone else (containerlab, the user): theirs
            return self._remove_unused_network(name, found["Id"])

    def _remove_unused_network(self, name: str, net_id: str) -> bool:
        """Remove the network unless a container is on it. Docker 20.10 can count an
        endpoint of a container removed at the same moment as another one's
        (moby/moby#42119): when it says "active endpoints" and lists no container, the
        count may settle, so retry for a few seconds, then say why the network stays."""
        deadline = time.monotonic() + 5.0
        while True:
            if self.api.containers(all=True, filters={"network": net_id}):
                return False  # another lab's nodes are on it: the last one removes it
            try:
                self.api.remove_network(net_id)
                return True
            except Exception as exc:
                if self._not_found(exc):
                    return False
                if "active endpoints" not in str(exc):
                    raise
            found = self._inspect_network(name)
            if found is None or found["Id"] != net_id or found.get("Containers"):
                return False  # gone, replaced, or joined by someone who takes no lock
            if time.monotonic() > deadline:
                import logging  # on stderr also where logging is not set up

                logging.getLogger("netknit.docker").warning(
                    "the management network %s stays: Docker counts an endpoint on it though "
                    "no container is attached (a Docker bug, moby/moby#42119); after "
                    "`systemctl restart docker` (or restarting dockerd), "
                    "`docker network rm %s` removes it", name, name)
                return False
            time.sleep(0.2)

    # -- containers ---------------------------------------------------------------------

    def holder_name(self, node: NodePlan) -> str:
        """The container that holds the node's namespace."""
        spec = _spec(node)
        strategy = self.strategy.get(node.name)
        if strategy is None:  # deployed by another process (inspect): its sandbox tells
            sandboxed = spec.strategy == "sandbox" and self.status(spec.sandbox_name) != "missing"
            strategy = "sandbox" if sandboxed else spec.strategy
        return spec.sandbox_name if strategy == "sandbox" else spec.name

    # -- the engine's journaled steps ---------------------------------------------------

    def names(self, node: NodePlan) -> tuple[str | None, str | None]:
        spec = _spec(node)
        return spec.name, spec.sandbox_name

    def shared(self, lab: str, mgmt: Mgmt | None, nodes: Sequence[NodePlan]) -> list[Effect]:
        if mgmt is None or not nodes:
            return []
        self._shared = (lab, mgmt)
        return [Effect(EffectKind.NETWORK, mgmt.network)]

    def make_shared(self, effect: Effect) -> str | None:
        """Join the management network (make it if missing), holding its lock shared until
        :meth:`release`: a destroy elsewhere cannot remove it before the nodes are on it."""
        assert self._shared is not None
        _lab, mgmt = self._shared
        if self._net_lock is None:
            self._net_lock = _NetworkLock(mgmt.network, exclusive=False)
            self._net_lock.__enter__()
        found, _created = self.ensure_network(mgmt)
        mtu = (found.get("Options") or {}).get("com.docker.network.driver.mtu", "")
        effect.info.update(id=str(found["Id"]), bridge=_bridge_name(found),
                           mtu=int(mtu) if str(mtu).isdigit() else 0)
        if LABEL_MGMT_MADE not in (found.get("Labels") or {}):
            return (f"using existing network {mgmt.network} (not made by netknit: it stays "
                    "after destroy)")
        return None

    def release(self) -> None:
        lock, self._net_lock = self._net_lock, None
        if lock is not None:
            lock.__exit__(None, None, None)

    def _record(self, name: str, node: NodePlan) -> Effect:
        return Effect(EffectKind.CONTAINER, name, None,
                      {"node": node.name, "lab_dir": str(self.lab_dir)})

    def intent_create(self, node: NodePlan) -> Effect:
        return self._record(self.holder_name(node), node)

    def create(self, node: NodePlan, mark: str, effect: Effect) -> Namespace | None:
        """Start the namespace holder; for ``gate``/``none`` that is the workload itself.
        Returns the open namespace (None for a node sharing another's)."""
        spec = _spec(node)
        strategy = self.strategy.get(node.name, spec.strategy)
        if strategy == "none" and node.startup_delay:
            time.sleep(node.startup_delay)  # containerlab's behaviour: links come after
        if strategy == "sandbox":
            image = self._sandbox_image(spec)
            # the namespace's owner: what Docker sets on a network namespace goes here
            ports, bindings = _ports(spec.options.ports)
            host = _host_config(
                self.api, network_mode=spec.mgmt_network or "none", init=False,
                port_bindings=bindings or None, extra_hosts=list(spec.extra_hosts) or None,
                **_privilege(spec.options.privileged, (), ()),
                **_netns_settings(spec, net=True))
            made = self.api.create_container(
                image, name=spec.sandbox_name, hostname=spec.hostname, ports=ports or None,
                labels=self._sandbox_labels(spec), host_config=host,
                networking_config=self._mgmt_config(spec), use_config_proxy=False)
        else:
            made = self._create_workload(node, spec, gate=strategy == "gate", hostname=True)
        cid = str(made["Id"])
        self.api.start(cid)
        effect.info["id"] = cid
        ns = self._open_ns(cid, node)
        if ns is not None and spec.mgmt_network:
            # containerlab's linux PostDeploy: no TX checksum offload on eth0 (a failure
            # is no error there either)
            with contextlib.suppress(OSError):
                tx_checksum_off(ns, "eth0")
        return ns

    def intent_start(self, node: NodePlan, node_dir: Path) -> Effect | None:
        """A new container (the workload of a sandboxed node or of one sharing another's
        namespace); None when the holder is the workload."""
        if self.strategy.get(node.name) == "sandbox" or node.netns is None:
            return self._record(_spec(node).name, node)
        return None

    def start(self, node: NodePlan, ns: Namespace | None, node_dir: Path,
              effect: Effect | None) -> None:
        """Let the workload run, its namespace wired (startup-delay first)."""
        spec = _spec(node)
        strategy = self.strategy.get(node.name, spec.strategy)
        if strategy != "none" and node.startup_delay:
            time.sleep(node.startup_delay)
        cid = self._start(node)
        if cid and effect is not None:
            effect.info["id"] = cid

    def identify(self, effect: Effect) -> bool:
        """Ids of containers whose creation failed half-way (made, not started)."""
        if "id" not in effect.info and effect.kind == EffectKind.CONTAINER:
            try:
                effect.info["id"] = str(self.api.inspect_container(effect.name)["Id"])
            except Exception:
                return False
        return "id" in effect.info

    def _start(self, node: NodePlan) -> str | None:
        """Let the workload run, its namespace wired. Returns a new container's id."""
        spec = _spec(node)
        strategy = self.strategy.get(node.name, spec.strategy)
        if strategy == "sandbox" or node.netns is None:
            made = self._create_workload(node, spec, gate=False, hostname=node.netns is None
                                         and spec.network_mode == "none")
            self.api.start(made["Id"])
            return str(made["Id"])
        if strategy == "gate":
            self._gate_dir(node)
            with LabDir(self.lab_dir).open(node.name, "gate") as gate:
                gate.write_atomic("ready", b"ready\n")  # the wrapper sees all or nothing
                _wake(gate)
        return None

    def _create_workload(self, node: NodePlan, spec: ContainerSpec, *, gate: bool,
                         hostname: bool) -> Any:
        binds = list(spec.binds)
        entrypoint: list[str] | str | None = spec.entrypoint
        command: list[str] | str | None = spec.cmd
        if gate:
            gate_dir = self._gate_dir(node)
            binds.append(f"{gate_dir}:{GATE_DIR}:ro")
            entrypoint = ["/bin/sh", f"{GATE_DIR}/gate.sh"]
            command = self._original_argv(spec)
        mode = spec.network_mode
        if mode.startswith("container:") and self._exists(f"{mode}-sandbox"[10:]):
            mode = f"{mode}-sandbox"  # join the namespace's holder, not a workload that may exit
        if self.strategy.get(node.name) == "sandbox" and mode == "none":
            mode = f"container:{spec.sandbox_name}"
        elif mode == "none" and spec.mgmt_network:
            mode = spec.mgmt_network
        restart = {"Name": spec.restart_policy, "MaximumRetryCount": 0} \
            if spec.restart_policy and spec.restart_policy != "no" else None
        own_netns = not mode.startswith("container:") and mode != "host"
        ports, bindings = _ports(spec.options.ports) if own_netns else ([], {})
        host = _host_config(
            self.api, binds=binds or None, network_mode=mode, restart_policy=restart,
            port_bindings=bindings or None, **_workload_settings(spec),
            extra_hosts=list(spec.extra_hosts) or None if not mode.startswith("container:")
            else None,
            **(_netns_settings(spec, net=True) if own_netns else {}),
            **_netns_settings(spec, net=False))
        networking = self._mgmt_config(spec) if mode == spec.mgmt_network else None
        health = None
        if spec.healthcheck is not None:
            hc = spec.healthcheck
            second = 1_000_000_000
            health = {"test": list(hc.test), "interval": hc.interval * second,
                      "timeout": hc.timeout * second, "retries": hc.retries,
                      "start_period": hc.start_period * second}
        labels = self._workload_labels(spec)
        return self.api.create_container(
            spec.image, command=command, entrypoint=entrypoint, name=spec.name,
            hostname=spec.hostname if hostname else None, user=spec.user or "",
            # containerlab's Tty and OpenStdin: a shell as cmd stays up
            tty=True, stdin_open=True, ports=ports or None,
            environment={**spec.env, **label_env(labels)}, labels=labels,
            host_config=host, networking_config=networking, healthcheck=health,
            use_config_proxy=False)

    def _original_argv(self, spec: ContainerSpec) -> list[str]:
        """The image's entrypoint + cmd as Docker would run them (node settings win)."""
        config = (self._image_config.get(spec.image) or self.api.inspect_image(spec.image))
        config = config.get("Config") or {}
        entry = shlex.split(spec.entrypoint) if spec.entrypoint else list(
            config.get("Entrypoint") or [])
        if spec.cmd:
            cmd = shlex.split(spec.cmd)
        elif spec.entrypoint:
            cmd = []  # as in Docker: a new entrypoint resets the image's cmd
        else:
            cmd = list(config.get("Cmd") or [])
        return [*entry, *cmd]

    def _gate_dir(self, node: NodePlan) -> Path:
        with LabDir(self.lab_dir).open(node.name, "gate", create=True) as gate:
            wrapper = script("gate.sh").encode()
            if not gate.exists("gate.sh") or gate.read_bytes("gate.sh") != wrapper:
                gate.write_atomic("gate.sh", wrapper)  # (an older netknit's polls)
            if not gate.exists(GATE_WAKE):
                # root's only: anyone else's line could only wake the gate to look again,
                # but its timer's "timeout" must not be forged
                os.mkfifo(GATE_WAKE, 0o600, dir_fd=gate.fd)
            return gate.path

    def _mgmt_config(self, spec: ContainerSpec) -> Any:
        if not spec.mgmt_network:
            return None
        endpoint = self.api.create_endpoint_config(
            ipv4_address=spec.mgmt_ipv4, ipv6_address=spec.mgmt_ipv6,
            aliases=list(spec.options.aliases) or None)
        return self.api.create_networking_config({spec.mgmt_network: endpoint})

    def _sandbox_labels(self, spec: ContainerSpec) -> dict[str, str]:
        """netknit's labels only: containerlab's tools count a node's workload, once."""
        return {LABEL_LAB_DIR: str(self.lab_dir), LABEL_ROLE: "sandbox"}

    def _workload_labels(self, spec: ContainerSpec) -> dict[str, str]:
        """containerlab's labels (its node directory absolute, as containerlab's) and
        netknit's."""
        node_dir = self.lab_dir / spec.labels.get("clab-node-name", "")
        return {**spec.labels, LABEL_NODE_LAB_DIR: str(node_dir),
                LABEL_LAB_DIR: str(self.lab_dir), LABEL_ROLE: "workload"}

    def _open_ns(self, cid: str, node: NodePlan) -> Namespace | None:
        if node.netns is None:
            return None
        pid = int(self.api.inspect_container(cid)["State"]["Pid"] or 0)
        if not pid:
            raise RuntimeFailure(f"node {node.name}: container {cid[:12]} exited at once",
                                 hint=f"see `docker logs {cid[:12]}`")
        return kernel_netns.open_path(f"/proc/{pid}/ns/net", node.netns)

    def _state(self, name: str) -> dict[str, Any] | None:
        """The container's ``State`` (None if it does not exist); an engine that does not
        answer is a RuntimeFailure, so that callers (watch) treat it as one."""
        found = self._inspect(name)
        return None if found is None else dict(found["State"])

    def _inspect(self, name: str) -> dict[str, Any] | None:
        """The container as the engine describes it; None and errors as :meth:`_state`."""
        try:
            return dict(self.api.inspect_container(name))
        except Exception as exc:
            if self._not_found(exc):
                return None
            if isinstance(exc, NetknitError):
                raise
            raise engine_unreachable(exc) from None

    def open_holder(self, holder: str, label: str) -> Namespace | None:
        """The namespace of a running container, or None."""
        state = self._state(holder)
        if state is None or not state.get("Running") or not state.get("Pid"):
            return None
        try:
            return kernel_netns.open_path(f"/proc/{state['Pid']}/ns/net", label)
        except NetknitError:
            return None

    def status(self, name: str) -> str:
        """``running``, ``exited (N)``, ``restarting``, ``created`` or ``missing``."""
        return _status(self._state(name))

    def _seen(self, workload: str, sandbox: str) -> Seen:
        """Both containers of a node, and the namespaces they run in."""
        seen = [self._state(workload), self._state(sandbox)]
        return Seen(_status(seen[0]), _netns_inode(seen[0]), _status(seen[1]),
                    _netns_inode(seen[1]))

    # -- the node as it is, and its repair ---------------------------------------------

    def open(self, node: NodeState, *, workload: bool = False) -> Namespace | None:
        """The holder's namespace (``workload``: the one the workload sees: a workload
        left behind by a dead sandbox sees the old links, not the sandbox's new ones)."""
        if node.netns is None:
            return None
        sandboxed = self._sandboxed.get(node.name, True)
        names = [node.workload, node.holder] if workload else \
            [node.holder if sandboxed else node.workload]
        for name in names:
            ns = self.open_holder(name or "", node.netns)
            if ns is not None:
                return ns
        return None

    def observe(self, node: NodeState, *, has_workload: bool | None = None) -> Observed:
        """Both containers of a node must run, the workload in its sandbox's namespace.
        A stopped holder (the sandbox, or the container itself) comes back in a new,
        empty namespace: its links are repaired next, then the workload resumes."""
        workload, holder = node.workload or "", node.holder or ""
        seen = self._seen(workload, holder)
        self._sandboxed[node.name] = seen.sandboxed
        words = seen.problems()
        state = ", ".join([seen.workload, *(p for p in words if not p.startswith(
            ("workload ", "container ")))])
        return Observed(state, "-", tuple(words), tuple(self._problems(node, seen)))

    def _problems(self, node: NodeState, seen: Seen) -> list[Problem]:
        workload = node.workload or ""
        out: list[Problem] = []
        revived = False
        if node.netns is not None:
            name, status = (node.holder or "", seen.sandbox) if seen.sandboxed \
                else (workload, seen.workload)
            if status.startswith("restarting"):
                # Docker's restart policy is bringing it back: its links follow the start
                return [Problem(Trouble.HOLDER_RESTARTING, Fix.WAIT,
                                f"container {name} restarting", "wait for Docker to start it")]
            if not _running(status):
                revived = True
                out.append(Problem(Trouble.HOLDER_STOPPED, Fix.REVIVE,
                                   f"container {name} {status}", f"start {name}",
                                   resume_after=name == workload))
            if not seen.sandboxed:
                return out
        if seen.workload.startswith("restarting"):
            out.append(Problem(Trouble.WORKLOAD_RESTARTING, Fix.WAIT,
                               f"container {workload} restarting", "wait for Docker to start it"))
        elif not _running(seen.workload):
            out.append(Problem(Trouble.WORKLOAD_STOPPED, Fix.RESUME,
                               f"container {workload} {seen.workload}", f"start {workload}"))
        elif node.netns is not None and (revived or seen.workload_inode != seen.sandbox_inode):
            # it runs in the old namespace of a sandbox that was (or is now) replaced
            out.append(Problem(Trouble.WORKLOAD_ELSEWHERE, Fix.RESUME,
                               f"{workload} outside its sandbox's namespace",
                               f"restart {workload}"))
        return out

    def _settle_strategy(self, node: NodePlan) -> str:
        """What deploy chose (a sandbox falls back to the gate without a sandbox image)."""
        spec = _spec(node)
        strategy = "sandbox" if self._sandboxed.get(node.name, True) else \
            spec.strategy if spec.strategy != "sandbox" else "gate"
        self.strategy[node.name] = strategy
        return strategy

    def revive(self, node: NodePlan, problem: Problem) -> None:
        spec = _spec(node)
        strategy = self._settle_strategy(node)
        self.start_again(node, spec.sandbox_name if strategy == "sandbox" else spec.name)

    def resume(self, node: NodePlan, problem: Problem) -> None:
        self._settle_strategy(node)
        if problem.what is Trouble.HOLDER_STOPPED:
            self._start(node)  # a gate's: its ready file lets it through
        else:  # ELSEWHERE: its links died with the old namespace: like a reboot, no grace
            self.start_again(node, _spec(node).name,
                             kill_first=problem.what is Trouble.WORKLOAD_ELSEWHERE)

    def management(self, node: NodePlan) -> MgmtAddress:
        """The workload's id and the addresses its namespace holder got on the management
        network (the holder is the container attached to it)."""
        spec = _spec(node)
        cid = str(self.api.inspect_container(spec.name)["Id"])
        if not spec.mgmt_network:
            return MgmtAddress(container_id=cid)
        networks = _networks(self.api.inspect_container(self.holder_name(node)))
        found = networks.get(spec.mgmt_network) or {}
        return MgmtAddress(
            container_id=cid, ipv4=found.get("IPAddress") or "",
            ipv4_prefix=int(found.get("IPPrefixLen") or 0),
            ipv6=found.get("GlobalIPv6Address") or "",
            ipv6_prefix=int(found.get("GlobalIPv6PrefixLen") or 0),
            mac=found.get("MacAddress") or "")

    def events(self, lab: str) -> Iterator[RuntimeEvent]:
        """Container events of this lab (a start brings a new namespace to wire, a die a
        container to start again), as containerlab's ``events`` shows them."""
        api = engine_client(timeout=None)
        # netknit's label: sandboxes carry only netknit's labels, and their events count
        stream = api.events(filters={"label": [f"{LABEL_LAB_DIR}={self.lab_dir}"],
                                     "type": ["container"]},
                            decode=True)

        def relevant() -> Iterator[RuntimeEvent]:
            yield RuntimeEvent("connected")  # anything may have happened meanwhile
            for event in stream:
                action = str(event.get("Action") or event.get("status") or "")
                if not action or action.startswith(("exec_", "health_status")):
                    continue  # a command run inside, a health probe: not the node's life
                actor = event.get("Actor") or {}
                attributes = {str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()}
                nanos = event.get("timeNano")
                yield RuntimeEvent(
                    action.split(":", 1)[0], str(event.get("Type") or "container"),
                    node=attributes.get("clab-node-name", ""),
                    name=attributes.get("name", ""), id=str(actor.get("ID") or ""),
                    time=int(nanos) / 1e9 if nanos else float(event.get("time") or 0),
                    attributes=attributes)

        return relevant()

    def start_again(self, node: NodePlan, name: str, *, kill_first: bool = False) -> None:
        """Start a stopped container of ``node`` again (``kill_first``: a running one):
        the same container, so the same name, image and settings. A gate workload waits
        for its links again: its ready file goes until they are wired (:meth:`start`
        writes it)."""
        if name == _spec(node).name and self.strategy.get(node.name) == "gate":
            (self._gate_dir(node) / "ready").unlink(missing_ok=True)
        try:
            if kill_first and self.status(name).startswith("running"):
                self.api.kill(name)
                self.api.wait(name, timeout=30)
            try:
                self.api.start(name)
            except Exception as exc:
                if "address already in use" not in str(exc).lower() or \
                        not self._unpin_addresses(node, name):
                    raise
                self.api.start(name)
        except Exception as exc:  # the engine API raises its own error types
            if isinstance(exc, NetknitError):
                raise
            raise RuntimeFailure(f"cannot start container {name}: {exc}",
                                 hint=f"see `docker logs {name}`") from None

    def wait_for(self, node: NodePlan, condition: str, timeout: float) -> None:
        """Block until the workload is ``healthy`` (its healthcheck passes; running, without
        one) or has ``exited``; RuntimeFailure after ``timeout`` seconds."""
        name = _spec(node).name
        deadline = time.monotonic() + timeout
        status = "missing"
        while time.monotonic() <= deadline:
            status = self.status(name)
            if condition == "exited" and status.startswith(("exited", "missing")):
                return
            if condition == "healthy" and status in ("running", "running (healthy)"):
                return
            time.sleep(0.1)
        raise RuntimeFailure(f"node {node.name} did not become {condition} within "
                             f"{timeout:.0f}s (container {name} is {status})",
                             hint=f"see `docker logs {name}`")

    def stop(self, effect: Effect, *, grace: float | None = None,
             keep_address: bool = False) -> None:
        """Stop a journaled container (killed at once, or Docker's stop: its stop signal,
        then ``grace`` seconds); it stays, to be started again (``keep_address``: with
        the management addresses it has now)."""
        target = effect.info.get("id") or effect.name
        found = self._inspect(target)
        if found is None or not (found.get("State") or {}).get("Running"):
            return
        try:
            if grace is None:
                self.api.kill(target)
            else:
                self.api.stop(target, timeout=max(0, round(grace)))
        except Exception as exc:
            if not self._not_found(exc):
                raise
            return
        if keep_address:
            self._pin_addresses(found)

    def _pin_addresses(self, found: Mapping[str, Any]) -> None:
        """Make a stopped container's dynamic management addresses its static ones.

        Docker frees a stopped container's address and gives the lowest free one at its
        next start: nodes started in another order than at deploy would swap addresses,
        and the lab's inventories, topology-data.json and /etc/hosts would lie. Where
        the engine refuses the address at connect, the container gets a dynamic one as
        before; should another container take the address before this one starts again,
        :meth:`_unpin_addresses` lets it start with a free one."""
        for net, where in _networks(found).items():
            ipam = where.get("IPAMConfig") or {}
            v4, v6 = where.get("IPAddress") or None, where.get("GlobalIPv6Address") or None
            if net in _ENGINE_NETWORKS or not (v4 or v6) or \
                    ipam.get("IPv4Address") or ipam.get("IPv6Address"):
                continue  # the default bridge takes no static address; a static one stays
            aliases = _aliases(found, where)
            try:
                self.api.disconnect_container_from_network(found["Id"], net)
            except Exception:  # still connected as it was: it starts as it would have
                continue
            try:
                self.api.connect_container_to_network(
                    found["Id"], net, ipv4_address=v4, ipv6_address=v6, aliases=aliases)
            except Exception:
                self.api.connect_container_to_network(found["Id"], net, aliases=aliases)

    def _unpin_addresses(self, node: NodePlan, name: str) -> bool:
        """Undo :meth:`_pin_addresses` when the engine refuses to start ``name`` because
        another container took its address: the node then gets a free one, as Docker
        would have given it without netknit, rather than not starting (and says so).
        Not for the addresses the topology sets (``mgmt-ipv4``/``mgmt-ipv6``): that
        conflict is the user's to see. True if something was changed."""
        spec = _spec(node)
        found = self._inspect(name)
        if found is None or spec.mgmt_ipv4 or spec.mgmt_ipv6:
            return False
        import logging  # on stderr also where logging is not set up (its last resort)

        changed = False
        for net, where in _networks(found).items():
            ipam = where.get("IPAMConfig") or {}
            pinned = [a for a in (ipam.get("IPv4Address"), ipam.get("IPv6Address")) if a]
            if net in _ENGINE_NETWORKS or not pinned:
                continue
            self.api.disconnect_container_from_network(found["Id"], net)
            self.api.connect_container_to_network(found["Id"], net,
                                                  aliases=_aliases(found, where))
            changed = True
            logging.getLogger("netknit.docker").warning(
                "node %s: its management address %s on %s was taken by another container "
                "while it was stopped; it starts with a new one (the lab's files still "
                "show the old)", node.name, ", ".join(pinned), net)
        return changed

    def remove(self, effect: Effect) -> bool:
        if effect.kind == EffectKind.NETWORK:
            return self.remove_network(effect.name, effect.info.get("id"))
        return self._remove_container(effect.name, effect.info.get("id"))

    def _remove_container(self, name: str, container_id: str | None) -> bool:
        """Remove a container netknit made for this lab. Idempotent."""
        try:
            found = self.api.inspect_container(container_id or name)
        except Exception as exc:
            if not self._not_found(exc):
                raise
            if container_id is None:
                return False
            try:  # the recorded id is gone: was the name reused by a container of ours?
                found = self.api.inspect_container(name)
            except Exception as again:
                if self._not_found(again):
                    return False
                raise
        labels = (found.get("Config") or {}).get("Labels") or {}
        if labels.get(LABEL_LAB_DIR) != str(self.lab_dir):
            return False  # not ours: never remove what another lab or tool made
        try:
            self.api.remove_container(found["Id"], force=True, v=True)
        except Exception as exc:
            if not self._not_found(exc):
                raise
        return True

    def leftovers(self, live: Iterable[Effect]) -> list[Effect]:
        """Containers and networks labelled as this lab's that ``live`` does not list (a
        journal that lost them), and the management network its containers are on (shared:
        it carries no lab's label; remove_network removes it only if netknit made it and
        nothing else is on it). Nothing when no engine answers here."""
        found: list[Effect] = []
        joined: dict[str, str] = {}  # network name -> id
        for kind, name, item in _labelled(f"{LABEL_LAB_DIR}={self.lab_dir}"):
            found.append(Effect(kind, name, None, {"id": item["Id"]}))
            for net, where in _networks(item).items():
                if net not in _ENGINE_NETWORKS and where.get("NetworkID"):
                    joined[net] = str(where["NetworkID"])
        ids = {str(e.info.get("id")) for e in found}
        found += [Effect(EffectKind.NETWORK, net, None, {"id": nid})
                  for net, nid in joined.items() if nid not in ids]
        listed = {str(e.info.get("id")) for e in live} | {e.key for e in live}
        return [e for e in found if e.info["id"] not in listed and e.key not in listed]

    def labs(self) -> list[tuple[str, Path, Path | None]]:
        """Every lab with a workload container on the local engine (none answering: none),
        found by netknit's label: its name, lab directory and topology file."""
        out = set()
        for _kind, _name, item in _labelled(f"{LABEL_ROLE}=workload"):
            labels = item.get("Labels") or {}
            if labels.get(LABEL_LAB_DIR) and labels.get("containerlab"):
                topo = labels.get("clab-topo-file")
                out.add((str(labels["containerlab"]), Path(labels[LABEL_LAB_DIR]),
                         Path(topo) if topo else None))
        return sorted(out, key=str)

    def exec(self, node: NodePlan, ns: Namespace | None, argv: Sequence[str],
             env: Mapping[str, str] | None = None, timeout: float | None = None,
             *, separate: bool = False) -> ExecResult:
        """Run ``argv`` in the node's workload container (Engine API exec).

        Before the workload runs (stage hooks of ``create``/``create-links`` under the
        sandbox strategy) the command runs in the sandbox: same network namespace,
        the sandbox image's tools.
        """
        spec = _spec(node)
        command = shlex.join(argv)
        target = spec.name
        if not self.status(spec.name).startswith("running") and \
                self.status(spec.sandbox_name).startswith("running"):
            target = spec.sandbox_name
        try:
            ex = self.api.exec_create(target, list(argv), environment=dict(env or {}))
            output = self.api.exec_start(ex["Id"], demux=separate)
            code = self.api.exec_inspect(ex["Id"]).get("ExitCode")
        except Exception as exc:
            message = f"cannot exec in {target}: {exc}\n"
            return ExecResult(node.name, command, 126, *(("", message) if separate
                                                         else (message,)))
        out, err = output if separate else (output, b"")
        rc = int(code if code is not None else 126)
        return ExecResult(node.name, command, rc, _text(out), _text(err))


def _wake(gate: SafeDir) -> None:
    """Tell a gate waiting on its FIFO to look at its ready file (written just before). No
    reader: no gate is waiting (it finds the file when it looks)."""
    try:
        fd = os.open(GATE_WAKE, os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC,
                     dir_fd=gate.fd)
    except OSError:  # ENXIO: no reader; ENOENT: a gate dir of an older netknit
        return
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            with contextlib.suppress(OSError):  # EAGAIN: a full pipe wakes the reader too
                os.write(fd, b"ready\n")
    finally:
        os.close(fd)


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else str(output or "")


def _labelled(label: str) -> list[tuple[EffectKind, str, dict[str, Any]]]:
    """Containers and networks carrying ``label`` (``key`` or ``key=value``) on the local
    engine: (kind, name, the engine's item). Nothing when no local engine answers.

    Asked over the engine's unix socket with the standard library: the SDK costs
    ~0.5 s to import, paid by every destroy after a crash of a lab without containers.
    """
    import http.client
    import socket
    from urllib.parse import quote

    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://") or not os.path.exists(host[len("unix://"):]):
        return []  # no local engine (a remote one is asked only when the lab has nodes)

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(10)
            self.sock.connect(host[len("unix://"):])

    filters = quote(json.dumps({"label": [label]}))
    found: list[tuple[EffectKind, str, dict[str, Any]]] = []
    try:
        for kind, path in ((EffectKind.CONTAINER, f"/containers/json?all=1&filters={filters}"),
                           (EffectKind.NETWORK, f"/networks?filters={filters}")):
            conn = Conn("localhost")
            try:
                conn.request("GET", path)
                reply = conn.getresponse()
                if reply.status != 200:
                    raise OSError(f"the engine answered {reply.status} {reply.reason}")
                for item in json.loads(reply.read()):
                    name = item["Names"][0].lstrip("/") if kind == EffectKind.CONTAINER \
                        else item["Name"]
                    found.append((kind, name, item))
            finally:
                conn.close()
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise RuntimeFailure(f"cannot look for labelled containers: {exc}") from None
    return found


#: Docker turns IPv6 off in a container's namespace; lab links carry IPv6 (containerlab
#: sets all.disable_ipv6=0 on its linux nodes, nodes/linux/linux.go Init; netknit also
#: default's, so that interfaces made later get IPv6 too)
_IPV6_ON = {"net.ipv6.conf.all.disable_ipv6": "0", "net.ipv6.conf.default.disable_ipv6": "0"}
#: containerlab's nofile ulimit: the host's hard limit, at most this (runtime/docker)
_NOFILE_MAX = 1048576


_CAPS = """CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE
SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME
SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG
WAKE_ALARM BLOCK_SUSPEND AUDIT_READ""".split()  # noqa: SIM905
# (Docker 20.10 knows no later capability: PERFMON, BPF, CHECKPOINT_RESTORE are refused)


@functools.cache
def bounded_caps() -> tuple[str, ...]:
    """The capabilities this machine's bounding set lacks (empty: all of them are there).
    Docker's ``privileged`` asks for every capability, and runc fails ("unable to apply
    caps") where one is missing, as in some nested containers."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            line = next(x for x in status if x.startswith("CapBnd:"))
    except (OSError, StopIteration):
        return ()
    mask = int(line.split()[1], 16)
    return tuple(name for bit, name in enumerate(_CAPS) if not mask >> bit & 1)


def _privilege(privileged: bool, cap_add: Sequence[str], security: Sequence[str]
               ) -> dict[str, Any]:
    """Docker's settings for containerlab's ``privileged``. Where the bounding set lacks a
    capability, the nearest Docker can start: every capability the machine has, seccomp,
    AppArmor and the masked /proc paths unconfined (preflight says so)."""
    security = list(security)
    if privileged and bounded_caps():
        missing = bounded_caps()
        cap_add = [*cap_add, *(c for c in _CAPS if c not in missing and c not in cap_add)]
        security += [o for o in ("seccomp=unconfined", "apparmor=unconfined")
                     if o not in security]
        return {"privileged": False, "cap_add": list(cap_add), "security_opt": security,
                _UNMASK: True}
    return {"privileged": privileged, "cap_add": list(cap_add) or None,
            "security_opt": security or None}


_UNMASK = "unmask"  # the CLI's systempaths=unconfined: no masked or read-only /proc paths


def _host_config(api: Any, **settings: Any) -> Any:
    unmask = settings.pop(_UNMASK, False)
    host = api.create_host_config(**settings)
    if unmask:
        host.update(MaskedPaths=[], ReadonlyPaths=[])
    return host


def _netns_settings(spec: ContainerSpec, *, net: bool) -> dict[str, Any]:
    """What Docker sets on the container owning the network namespace (``net``: the
    net.* sysctls, DNS), or on the workload (``not net``: its other sysctls). Docker
    refuses net.* sysctls and DNS on a container that joins another's namespace."""
    sysctls = {k: v for k, v in spec.options.sysctls.items() if k.startswith("net.") == net}
    if not net:
        return {"sysctls": sysctls} if sysctls else {}
    o = spec.options
    return {"sysctls": {**_IPV6_ON, **sysctls}, "dns": list(o.dns_servers) or None,
            "dns_search": list(o.dns_search) or None, "dns_opt": list(o.dns_options) or None}


def _workload_settings(spec: ContainerSpec) -> dict[str, Any]:
    """containerlab's CreateContainer settings of the workload itself (runtime/docker)."""
    from docker.types import Mount, Ulimit

    o = spec.options
    nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], _NOFILE_MAX)
    if nofile < 0:  # RLIM_INFINITY
        nofile = _NOFILE_MAX
    mounts = []
    for volume in o.volumes:
        parts = volume.split(":")
        source, target = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
        options = parts[2].split(",") if len(parts) > 2 else []
        mounts.append(Mount(target, source or None, type="volume", read_only="ro" in options,
                            no_copy="nocopy" in options))
    out: dict[str, Any] = {
        **_privilege(o.privileged, o.cap_add, o.security_opts),
        "ulimits": [Ulimit(name="nofile", soft=nofile, hard=nofile)],
        "devices": [f"{d}:{d}:rwm" for d in o.devices] or None,
        "mounts": mounts or None,
        "tmpfs": dict(o.tmpfs) or None,
        "pid_mode": o.pid_mode or None,
        "cgroupns": o.cgroupns_mode or None,
        "shm_size": o.shm_size or None,
        "mem_limit": o.memory or None,
        "cpuset_cpus": o.cpu_set or None,
    }
    if o.cpu:  # containerlab: a CPU quota over a 100 ms period
        out.update(cpu_quota=int(o.cpu * 100000), cpu_period=100000)
    return out


def _ports(specs: Sequence[str]) -> tuple[list[tuple[int, str]], dict[str, list[Any]]]:
    """Docker's exposed ports and port bindings of containerlab's ``ports`` (nat's
    ParsePortSpecs: ``[ip:][host-port:]container-port[/proto]``, ranges of equal length)."""
    exposed: list[tuple[int, str]] = []
    bindings: dict[str, list[Any]] = {}
    for text in specs:
        body, _, proto = text.partition("/")
        proto = proto or "tcp"
        head, _, inner = body.rpartition(":")
        ip, _, outer = head.rpartition(":") if head else ("", "", "")
        ip = ip.strip("[]")
        first, _, last = inner.partition("-")
        ports = range(int(first), int(last or first) + 1)
        hfirst, _, hlast = outer.partition("-")
        hosts = range(int(hfirst), int(hlast or hfirst) + 1) if outer else None
        for index, port in enumerate(ports):
            exposed.append((port, proto))
            host_port = (hosts[index] if hosts and len(hosts) == len(ports)
                         else hosts[0] if hosts else None)
            bindings.setdefault(f"{port}/{proto}", []).append(
                (ip, host_port) if ip else host_port)
    return exposed, bindings


def _status(state: dict[str, Any] | None) -> str:
    if state is None:
        return "missing"
    status = str(state.get("Status", "?"))
    if status == "exited":
        return f"exited ({state.get('ExitCode')})"
    health = (state.get("Health") or {}).get("Status")
    return f"{status} ({health})" if health else status


def _netns_inode(state: dict[str, Any] | None) -> int:
    """The inode of a running container's network namespace (0 if not running)."""
    pid = int((state or {}).get("Pid") or 0) if (state or {}).get("Running") else 0
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino if pid else 0
    except OSError:  # it exited just now
        return 0


def _networks(found: Mapping[str, Any]) -> dict[str, Any]:
    """An inspected container's networks, by name."""
    return dict((found.get("NetworkSettings") or {}).get("Networks") or {})


def _aliases(found: Mapping[str, Any], where: Mapping[str, Any]) -> list[str] | None:
    """A container's aliases on a network, but the short id the engine adds by itself."""
    short_id = str(found["Id"])[:12]
    return [a for a in where.get("Aliases") or [] if a != short_id] or None


def _spec(node: NodePlan) -> ContainerSpec:
    if node.container is None:
        raise RuntimeFailure(f"node {node.name} is not a Docker node")
    return node.container
