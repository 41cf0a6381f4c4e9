"""The immutable topology model: what the loader returns and the planner consumes.

Everything here is already validated and normalised: names are legal kernel names, MACs
are lower-case ``aa:bb:cc:dd:ee:ff``, addresses are ``ipaddress`` interface objects,
defaults and kinds are merged into each node. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPv6Network,
)
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from netknit._dataclass import dataclass
from netknit._impair import Impairment

#: A node kind's name: one registered in :mod:`netknit.kinds` (netns, bridge, host, linux).
Kind = str
#: A link type's name: a key of :func:`netknit.links.registry` (one module per type).
LinkType = str
MACVLAN_MODES = ("bridge", "vepa", "private", "passthru", "source")

#: containerlab's VXLAN UDP port (its ``VxLANDefaultPort``: 4789 is often filtered or
#: taken by other overlays).
VXLAN_DEFAULT_PORT = 14789
#: Bytes VXLAN adds per frame: outer IP + UDP + VXLAN header + inner Ethernet header.
VXLAN_OVERHEAD = {4: 50, 6: 70}
#: The underlay MTU assumed for a host that does not state one.
DEFAULT_UNDERLAY_MTU = 1500
VNI_MAX = 16777215

#: How a Docker node's workload is kept from running before its interfaces exist.
StartStrategy = Literal["sandbox", "gate", "none"]
START_STRATEGIES: tuple[StartStrategy, ...] = ("sandbox", "gate", "none")
#: Docker restart policies as containerlab writes them (lower-cased).
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
#: containerlab's image pull policies (types/types.go PullPolicyValue), read in any case.
PullPolicy = Literal["IfNotPresent", "Always", "Never"]
PULL_POLICIES: tuple[PullPolicy, ...] = ("IfNotPresent", "Always", "Never")

#: A netns node's own directories unless ``private-dirs`` says otherwise: what daemons
#: keep their pid files and sockets in (``/var/run`` is often a link to ``/run``).
DEFAULT_PRIVATE_DIRS = ("/run", "/var/run")

#: containerlab's default MTU for veth links (its ``DefaultLinkMTU``).
DEFAULT_LINK_MTU = 9500
#: containerlab's default name prefix.
DEFAULT_PREFIX = "clab"

_EMPTY: Mapping[str, str] = MappingProxyType({})


def full_name(prefix: str | None, lab: str, node: str) -> str:
    """A node's namespace and container name: see :meth:`Topology.full_name`."""
    prefix = DEFAULT_PREFIX if prefix is None else prefix
    if prefix == "":
        return node
    if prefix == "__lab-name":
        return f"{lab}-{node}"
    return f"{prefix}-{lab}-{node}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One end of a link: an interface of a node."""

    node: str
    interface: str
    mac: str | None = None
    ipv4: tuple[IPv4Interface, ...] = ()
    ipv6: tuple[IPv6Interface, ...] = ()
    # containerlab's endpoint ``vars`` (for its config engine, in topology-data.json); not
    # used for wiring, so not compared
    vars: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)
    # netknit's ``impairment:`` of the endpoint (or its link): what its egress suffers
    impairment: Impairment | None = None

    def __str__(self) -> str:
        return f"{self.node}:{self.interface}"


@dataclass(frozen=True, slots=True)
class Vxlan:
    """A link's VXLAN tunnel (``remote`` None: a link between hosts of ``hosts:``, each
    host takes the other's address from there)."""

    vni: int
    remote: IPv4Address | IPv6Address | None = None
    dst_port: int = VXLAN_DEFAULT_PORT  # containerlab's ``udp-port``
    src_ports: tuple[int, int] | None = None  # None: the kernel's range
    parent: str | None = None  # underlay interface (``parent-interface``); None: routing


@dataclass(frozen=True, slots=True)
class Host:
    """A machine of a lab that spans hosts (top-level ``hosts:``)."""

    name: str
    address: IPv4Address | IPv6Address  # its underlay (VTEP) address
    vni_range: tuple[int, int] = (1, VNI_MAX)
    mtu: int = DEFAULT_UNDERLAY_MTU  # the underlay's MTU
    where: str = ""


@dataclass(frozen=True, slots=True)
class Link:
    """A link between endpoints, as its type (a module of :mod:`netknit.links`) read it.

    What every type has: its ``type`` name, its endpoints (the nodes' sides), ``mtu``
    (0: not written and no default applies, the kernel picks), labels and where it is
    written. The other fields are set by the types that have them (see each module):

    - ``host_interface``: the host-side interface it makes, joins or moves;
    - ``vxlan``: its tunnel (a veth link whose ends are on different hosts gets one too:
      then ``remote`` is None, each host takes the other's address from ``hosts:``);
    - ``mode``: a macvlan mode; ``hwaddr``: a host device chosen by MAC;
    - ``bridge``: the bridge its host side joins; ``stitch_device``: the host-side device
      its host interface is stitched to.
    """

    type: LinkType
    endpoints: tuple[Endpoint, ...]
    mtu: int = DEFAULT_LINK_MTU
    host_interface: str | None = None
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    vars: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)  # link vars
    where: str = ""  # YAML path, for messages: "topology.links[3]"
    vxlan: Vxlan | None = None
    mode: str | None = None
    hwaddr: str | None = None
    bridge: str | None = None
    stitch_device: str | None = None

    def __str__(self) -> str:
        ends = " <-> ".join(str(e) for e in self.endpoints)
        if self.host_interface:
            ends += f" <-> host:{self.host_interface}"
        return ends


#: containerlab's node lifecycle stages, in order.
STAGES = ("create", "create-links", "configure", "healthy", "exit")
Stage = Literal["create", "create-links", "configure", "healthy", "exit"]


@dataclass(frozen=True, slots=True)
class WaitFor:
    """Enter a stage only after ``node`` has finished ``stage``."""

    node: str
    stage: Stage
    # where the entry is written, for messages (a cycle names the entries that close it)
    where: str = field(default="", compare=False)  # YAML path
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class StageExec:
    """A command run when a node enters or leaves a stage."""

    command: str
    target: Literal["container", "host"] = "container"
    phase: Literal["on-enter", "on-exit"] = "on-enter"
    # run again when the node restarts and its links are put back (netknit's own key;
    # only for the stages after links: create-links on-exit, configure)
    on_restart: bool = False


@dataclass(frozen=True, slots=True)
class StageSpec:
    """containerlab's ``stages`` entry of a node: what it waits for, what it runs."""

    wait_for: tuple[WaitFor, ...] = ()
    exec: tuple[StageExec, ...] = ()


@dataclass(frozen=True, slots=True)
class Healthcheck:
    """containerlab's ``healthcheck``: durations in whole seconds (0: Docker's default)."""

    test: tuple[str, ...]
    start_period: int = 0
    interval: int = 0
    timeout: int = 0
    retries: int = 0


@dataclass(frozen=True, slots=True)
class ContainerOptions:
    """containerlab's node fields that Docker applies to a container (types/node_definition.go),
    merged as containerlab merges them. Sizes in bytes; ``cpu`` in CPUs."""

    privileged: bool = True  # containerlab's PrivilegedByDefault
    hostname: str | None = None  # None: the node name
    ports: tuple[str, ...] = ()  # Docker's port specs ([ip:]host:container[/proto])
    cpu: float = 0.0
    cpu_set: str = ""
    memory: int = 0
    shm_size: int = 0
    dns_servers: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    sysctls: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    devices: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()  # named volumes, Docker's ``[name:]path[:ro|nocopy]``
    tmpfs: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    pid_mode: str = ""
    cgroupns_mode: str = ""
    security_opts: tuple[str, ...] = ()
    image_pull_policy: PullPolicy = "IfNotPresent"  # containerlab's default


#: The bridge of a Docker management network whose name Docker picks (``br-<id12>``):
#: ``mgmt-net`` links name it so; deploy puts them in the bridge the network has then.
AUTO_BRIDGE = "<auto>"


@dataclass(frozen=True, slots=True)
class Mgmt:
    """The lab's management network: a Docker bridge network (containerlab's ``mgmt:``)."""

    network: str
    ipv4_subnet: IPv4Network | None = None
    ipv6_subnet: IPv6Network | None = None
    mtu: int = 0  # 0: containerlab's rule at deploy (``clab``: the ``bridge`` network's)
    bridge: str = ""  # ``mgmt: bridge:``; "" lets Docker name it (``br-<id12>``)
    # containerlab's further keys, kept as written (None: not written)
    ipv4_gw: IPv4Address | None = None
    ipv6_gw: IPv6Address | None = None
    ipv4_range: IPv4Network | None = None
    ipv6_range: IPv6Network | None = None
    external_access: bool | None = None
    skip_when_unused: bool = False
    driver_opts: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class Node:
    """A node with defaults and its kind's settings already merged in.

    Container settings (``entrypoint`` ... ``sandbox_image``) are only set on ``linux``
    nodes, which run on Docker.
    """

    name: str
    kind: Kind
    image: str | None = None
    cmd: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    exec: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    startup_delay: int = 0
    where: str = ""  # YAML path: "topology.nodes.h1"
    entrypoint: str | None = None
    binds: tuple[str, ...] = ()  # host paths already absolute
    user: str | None = None
    healthcheck: Healthcheck | None = None
    restart_policy: str | None = None
    network_mode: str = "none"  # none | host | container:<node>
    # ``network-mode`` written (``none`` too): the node stays off the management network
    network_mode_written: bool = False
    mgmt_ipv4: IPv4Address | None = None
    mgmt_ipv6: IPv6Address | None = None
    start_strategy: StartStrategy = "sandbox"
    sandbox_image: str | None = None
    options: ContainerOptions = field(default_factory=ContainerOptions)
    stages: Mapping[str, StageSpec] = field(default_factory=lambda: MappingProxyType({}))
    host: str | None = None  # the machine it runs on, in a lab that spans ``hosts:``
    group: str | None = None  # containerlab's ``group`` (inventories group nodes by it)
    # netns nodes: directories the node has of its own (backed in the lab directory)
    private_dirs: tuple[str, ...] = DEFAULT_PRIVATE_DIRS



def joins_mgmt(node: Node) -> bool:
    """A Docker node that joins the management network: one without ``network-mode``."""
    from netknit import kinds  # the kinds registry: not needed to import the model

    return kinds.get(node.kind).container and not node.network_mode_written


@dataclass(frozen=True, slots=True)
class Topology:
    """A whole lab, validated. ``nodes`` keeps file order."""

    name: str
    nodes: Mapping[str, Node]
    links: tuple[Link, ...]
    prefix: str | None = None  # as written; None means containerlab's default
    path: Path | None = None  # the file it came from
    notices: tuple[str, ...] = ()  # one-line notes for the user (ignored fields, ...)
    mgmt: Mgmt | None = None  # set when the lab has Docker nodes (containerlab's network)
    hosts: Mapping[str, Host] = field(default_factory=lambda: MappingProxyType({}))
    file: str = field(default="", compare=False)  # the file as named, for messages
    # sha256 of the file's bytes as read, if they alone give the lab's name (written in
    # it literally): destroy knows the deployed lab by it without parsing the file again
    source_sha256: str | None = field(default=None, compare=False)

    def full_name(self, node: str) -> str:
        """The runtime name of a node, following containerlab's ``prefix`` rules.

        No prefix key: ``clab-<lab>-<node>``; ``prefix: ""``: ``<node>``;
        ``prefix: __lab-name``: ``<lab>-<node>``; otherwise ``<prefix>-<lab>-<node>``.
        """
        return full_name(self.prefix, self.name, node)
