"""The link actions every link type plans with, and the engine executes: veth pairs,
devices born in place (VXLAN, macvlan, dummy), host devices moved into a node, tc
stitches, and the bridges their host-side ends join.

A leaf module (it imports only the interface and id helpers): link type modules build
these without importing the planner.

A device is created by one request sent from the host (underlay) namespace, straight into
its node's namespace under its final name: the node never sees another name, the host
never sees the device at all, and a VXLAN device keeps its tunnel socket in the host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any

from netknit import kinds
from netknit.topology._model import Endpoint, Link, Topology

from .._dataclass import dataclass
from .._digest import sha256
from . import _ids as ids
from ._iface import Iface

#: The kernel device kind (IFLA_INFO_KIND) a CreateDevice makes: one the kernel layer
#: can create (``kernel/_devices.py:KINDS``), chosen by the link type that plans it.
DeviceKind = str


def derive_mac(lab: str, node: str, interface: str) -> str:
    """A stable MAC for an interface: locally administered, unicast, from its identity.

    Same lab, node and interface names give the same MAC on every deploy, so a
    redeployed or repaired link comes back with the MAC the lab's ARP caches knew.
    """
    digest = sha256(f"{lab}\0{node}\0{interface}".encode()).digest()
    first = (digest[0] & 0xFC) | 0x02  # locally administered, not multicast
    return ":".join(f"{b:02x}" for b in (first, *digest[1:6]))


@dataclass(frozen=True, slots=True)
class EnsureBridge:
    """Make a host bridge, or adopt the one already there."""

    name: str
    mtu: int

    @property
    def id(self) -> str:
        return ids.bridge(self.name)


@dataclass(frozen=True, slots=True)
class CreateVeth:
    """Make one veth pair, each end in its node's namespace under its final name."""

    main: Iface  # created up (and enslaved) in the creating request
    peer: Iface  # brought up by Configure of its namespace
    where: str = ""
    # the peer's node does not exist yet (it waits, through ``wait-for``, for a stage of
    # the main end's node): the peer end is born in netknit's private parking namespace
    # under its final name and moved into its node by AttachEnd, name unchanged
    parked: bool = False
    #: the link type that planned it (its module describes and checks it)
    link_type: str = field(default="", compare=False, repr=False)

    @property
    def id(self) -> str:
        return ids.veth(self.main.where)


@dataclass(frozen=True, slots=True)
class AttachEnd:
    """Move a parked veth end into its node once the node exists."""

    veth: CreateVeth

    @property
    def id(self) -> str:
        return ids.attach(self.veth.peer.where)

    @property
    def link_type(self) -> str:
        return self.veth.link_type


@dataclass(frozen=True, slots=True)
class VxlanSpec:
    """A VXLAN tunnel, addresses as text (the kernel layer packs them)."""

    vni: int
    remote: str
    local: str | None = None
    dst_port: int = 14789
    src_ports: tuple[int, int] | None = None
    parent: str | None = None  # underlay interface name, looked up at deploy


@dataclass(frozen=True, slots=True)
class CreateDevice:
    """Create ``iface`` as a ``kind`` device (from the host namespace, in its node)."""

    iface: Iface
    kind: DeviceKind
    vxlan: VxlanSpec | None = None
    parent: str | None = None  # macvlan: the host interface it sits on
    mode: str = "bridge"  # macvlan mode
    where: str = ""
    link_type: str = field(default="", compare=False, repr=False)

    @property
    def id(self) -> str:
        return ids.device(self.iface.where)


@dataclass(frozen=True, slots=True)
class MoveDevice:
    """Move the host's ``source`` (or the interface with MAC ``hwaddr``) into the node as
    ``iface``; destroy brings it home under its old name, MAC, MTU and state."""

    iface: Iface
    source: str | None
    hwaddr: str | None = None
    where: str = ""
    link_type: str = field(default="", compare=False, repr=False)

    @property
    def id(self) -> str:
        return ids.move(self.iface.where)

    @property
    def wanted(self) -> str:
        return self.source or f"the interface with MAC {self.hwaddr}"

    def found_in(self, host_links: Mapping[str, Any]) -> Any | None:
        """The host interface to move (a kernel LinkInfo) among ``host_links`` by name,
        or by MAC; None when it is not there."""
        if self.source is not None:
            return host_links.get(self.source)
        return next((lk for lk in host_links.values() if lk.mac == self.hwaddr), None)


@dataclass(frozen=True, slots=True)
class Stitch:
    """Join two host-side devices both ways with tc (a stitched link's two halves)."""

    a: str
    b: str
    where: str = ""
    link_type: str = field(default="", compare=False, repr=False)

    @property
    def id(self) -> str:
        return ids.stitch(self.a)


@dataclass(frozen=True, slots=True)
class Planning:
    """What planning one link needs: the lab, this host, and the veth ends ("node:if")
    parked because a ``wait-for`` would otherwise close a cycle."""

    topo: Topology
    host: str | None = None
    parked: frozenset[str] = frozenset()

    def iface(self, end: Endpoint, link: Link, peer: str) -> Iface:
        """The interface of ``end`` as the plan fixes it (MAC derived when not written)."""
        node = self.topo.nodes[end.node]
        in_host = not kinds.get(node.kind).own_namespace
        return Iface(
            node=node.name,
            netns=None if in_host else self.topo.full_name(node.name),
            name=end.interface,
            mac=end.mac or derive_mac(self.topo.name, node.name, end.interface),
            mtu=link.mtu,
            addresses=(*end.ipv4, *end.ipv6),
            peer=peer,
            master=node.name if kinds.get(node.kind).ports else None,
            impairment=end.impairment,
        )

    def host_iface(self, name: str, mtu: int, peer: str, *, master: str | None = None,
                   mac: str | None = None) -> Iface:
        """A host-side end netknit creates (MAC derived from its name unless given)."""
        return Iface("host", None, name, mac or derive_mac(self.topo.name, "host", name), mtu,
                     peer=peer, master=master)


#: Actions that put interfaces in place (what reconcile recreates when they are lost).
LinkAction = CreateVeth | CreateDevice | MoveDevice
#: Every action a link type may plan.
PlannedAction = CreateVeth | AttachEnd | CreateDevice | MoveDevice | Stitch


def made_by(action: object) -> tuple[Iface, ...]:
    """The interfaces an action makes (none for actions that make no interface)."""
    if isinstance(action, CreateVeth):
        return (action.main, action.peer)
    if isinstance(action, CreateDevice | MoveDevice):
        return (action.iface,)
    return ()


def waits_for(ifaces: tuple[Iface, ...] | list[Iface]) -> list[str]:
    """What an action making ``ifaces`` waits for: the create-links stage of each node
    it puts an interface in, and each bridge an interface joins."""
    after = [ids.enter("create-links", i.node) for i in ifaces if i.netns is not None]
    return after + [ids.bridge(i.master) for i in ifaces if i.master]
