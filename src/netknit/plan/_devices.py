"""Actions for links that are not a plain veth pair: devices born in place (VXLAN,
macvlan, dummy), host devices moved into a node, and tc stitches.

A device is created by one request sent from the host (underlay) namespace, straight into
its node's namespace under its final name: the node never sees another name, the host
never sees the device at all, and a VXLAN device keeps its tunnel socket in the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ._iface import Iface

DeviceKind = Literal["vxlan", "macvlan", "dummy"]


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

    @property
    def id(self) -> str:
        return f"device:{self.iface.where}"


@dataclass(frozen=True, slots=True)
class MoveDevice:
    """Move the host's ``source`` (or the interface with MAC ``hwaddr``) into the node as
    ``iface``; destroy brings it home under its old name, MAC, MTU and state."""

    iface: Iface
    source: str | None
    hwaddr: str | None = None
    where: str = ""

    @property
    def id(self) -> str:
        return f"move:{self.iface.where}"

    @property
    def wanted(self) -> str:
        return self.source or f"the interface with MAC {self.hwaddr}"


@dataclass(frozen=True, slots=True)
class Stitch:
    """Join two host-side devices both ways with tc (``vxlan-stitch``)."""

    a: str
    b: str
    where: str = ""

    @property
    def id(self) -> str:
        return f"stitch:{self.a}"
