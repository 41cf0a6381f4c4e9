"""An interface as the plan fixes it: where it lives, its name, MAC, MTU and addresses."""

from __future__ import annotations

from ipaddress import IPv4Interface, IPv6Interface

from .._dataclass import dataclass
from .._impair import Impairment
from . import _ids as ids

Address = IPv4Interface | IPv6Interface


@dataclass(frozen=True, slots=True)
class Iface:
    """One interface netknit creates, as it must be."""

    node: str  # the topology node it belongs to (a bridge or host node for host-side ends)
    netns: str | None  # namespace name; None: the host namespace
    name: str
    mac: str  # "" : not netknit's to set (a moved host device keeps its own)
    mtu: int  # 0: not netknit's to set (the kernel's default, or the device's own)
    addresses: tuple[Address, ...] = ()
    peer: str = ""  # "node:interface" of the other end
    master: str | None = None  # bridge the interface is a port of
    impairment: Impairment | None = None  # its egress's (a root netem or tbf qdisc)

    @property
    def where(self) -> str:
        return ids.where(self.netns, self.name)
