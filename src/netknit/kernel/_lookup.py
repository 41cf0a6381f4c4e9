"""Finding devices by what identifies them outside their name, and their alias.

A CNI runtime names a host device by name, MAC or PCI bus id; a process that moved one
may have to find it again later without any state of its own. The interface alias
(IFLA_IFALIAS, up to 128 bytes, kept across namespace moves) is where such a process can
leave a note on the device itself. Routes for addresses an IPAM plugin hands out are
here too: one hand-packed RTM_NEWROUTE, like the other fixed layouts of :mod:`._msg`.
"""

from __future__ import annotations

import os
import struct
from _socket import AF_INET, AF_INET6, AF_UNSPEC

from .._record import Record
from . import _msg
from ._msg import IFLA_IFALIAS, NLM_F_CREATE, NLM_F_EXCL, RTM_GETLINK, RTM_NEWLINK, LinkInfo
from ._nl import Netlink, Request

TYPE_CHECKING = False  # imported by the CNI plugin: no typing/ipaddress at run time
if TYPE_CHECKING:
    from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IFALIASZ = 128
RTM_NEWROUTE = 24
RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253
RTN_UNICAST = 1
# rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTMSG = struct.Struct("BBBBBBBBI")
_SYS_PCI = "/sys/bus/pci/devices"


class AliasedLink(Record):
    """A link and its alias ("" when it has none)."""

    __slots__ = ("alias", "link")
    __match_args__ = ("link", "alias")

    link: LinkInfo
    alias: str

    def __init__(self, link: LinkInfo, alias: str) -> None:
        object.__setattr__(self, "link", link)
        object.__setattr__(self, "alias", alias)


def _aliased(raw: bytes) -> AliasedLink:
    return AliasedLink(_msg.parse_link(raw), _msg.parse_alias(raw))


def links_with_alias(nl: Netlink) -> list[AliasedLink]:
    """All interfaces of the socket's namespace with their aliases (one safe dump)."""
    what = f"list links in {nl.label}"
    return [_aliased(raw) for raw in nl.dump_raw(_msg.getlink_body(), RTM_GETLINK, what)]


def link_with_alias(nl: Netlink, name: str) -> AliasedLink | None:
    """The interface called ``name`` in the socket's namespace, with its alias, or None:
    one RTM_GETLINK by IFLA_IFNAME, not a dump."""
    raw = nl.get_raw(_msg.getlink_by_name_body(name), RTM_GETLINK,
                     f"look up {name} in {nl.label}")
    return None if raw is None else _aliased(raw)


def set_alias_request(index: int, alias: str, what: str = "") -> Request:
    """Set (or, with "", clear) the alias of interface ``index``."""
    raw = alias.encode()
    if len(raw) >= IFALIASZ:
        raise ValueError(f"alias longer than {IFALIASZ - 1} bytes: {alias!r}")
    body = _msg.ifinfo(index) + _msg.attr(IFLA_IFALIAS, raw)
    return Request(body, RTM_NEWLINK, 0, what or f"set alias of link #{index}")


def names_by_pci(bus_id: str) -> list[str]:
    """Names of the network interfaces of PCI device ``bus_id`` (e.g. "0000:00:04.0") in
    the namespace whose /sys this process sees; [] if there is no such device."""
    if "/" in bus_id or bus_id in ("", ".", ".."):
        return []
    try:
        return sorted(os.listdir(os.path.join(_SYS_PCI, bus_id, "net")))
    except (FileNotFoundError, NotADirectoryError):
        return []


def route_request(
    index: int,
    dst: IPv4Network | IPv6Network,
    gateway: IPv4Address | IPv6Address | None,
    what: str = "",
) -> Request:
    """Add a route to ``dst`` out of interface ``index`` (via ``gateway`` if given) to
    the main table; EEXIST if it is there already."""
    family = AF_INET if dst.version == 4 else AF_INET6
    scope = RT_SCOPE_UNIVERSE if gateway is not None else RT_SCOPE_LINK
    body = _RTMSG.pack(family, dst.prefixlen, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, scope,
                       RTN_UNICAST, 0)
    if dst.prefixlen:
        body += _msg.attr(RTA_DST, dst.network_address.packed)
    body += _msg.u32(RTA_OIF, index)
    if gateway is not None:
        body += _msg.attr(RTA_GATEWAY, gateway.packed)
    return Request(body, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
                   what or f"add route {dst} on link #{index}")


RTM_GETROUTE = 26
RTA_TABLE = 15


def main_routes(nl: Netlink) -> list[tuple[str, str | None, int]]:
    """(destination "addr/len", gateway or None, output ifindex) of every unicast route
    in the main table of the socket's namespace (one DUMP_INTR-safe dump), so that a
    CNI CHECK can confirm the routes its ADD installed."""
    from _socket import inet_ntop

    out = []
    body = _RTMSG.pack(AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0, 0)
    for raw in nl.dump_raw(body, RTM_GETROUTE, f"list routes in {nl.label}"):
        family, dst_len, _, _, table, _, _, kind, _ = _RTMSG.unpack_from(raw, 16)
        a = _msg.attrs(raw, 16 + _RTMSG.size, len(raw))
        if RTA_TABLE in a:
            table = struct.unpack("I", a[RTA_TABLE][:4])[0]
        if table != RT_TABLE_MAIN or kind != RTN_UNICAST or family not in (AF_INET, AF_INET6):
            continue
        zero = bytes(4 if family == AF_INET else 16)
        dst = f"{inet_ntop(family, a.get(RTA_DST, zero))}/{dst_len}"
        gw = inet_ntop(family, a[RTA_GATEWAY]) if RTA_GATEWAY in a else None
        oif = struct.unpack("I", a[RTA_OIF][:4])[0] if RTA_OIF in a else 0
        out.append((dst, gw, oif))
    return out


def link_by_index(nl: Netlink, index: int) -> AliasedLink | None:
    """The interface with ``index`` in the socket's namespace, with its alias, or None:
    one RTM_GETLINK, not a dump."""
    raw = nl.get_raw(_msg.ifinfo(index), RTM_GETLINK, f"look up link #{index} in {nl.label}")
    return None if raw is None else _aliased(raw)


RTM_DELQDISC = 37
RTM_GETQDISC = 38
TC_H_ROOT = 0xFFFFFFFF
TC_H_INGRESS = 0xFFFFFFF1
_TCMSG = struct.Struct("BxxxiIII")  # family, ifindex, handle, parent, info


def qdiscs(nl: Netlink, index: int) -> list[tuple[int, str]]:
    """(parent, kind) of the qdiscs of interface ``index``: parent TC_H_ROOT,
    TC_H_INGRESS or a class; a new veth has [(TC_H_ROOT, "noqueue")]. One DUMP_INTR-safe
    dump (the kernel dumps every interface's; a plain request for a built-in qdisc gets
    no answer at all)."""
    out = []
    for raw in nl.dump_raw(_TCMSG.pack(AF_UNSPEC, 0, 0, 0, 0), RTM_GETQDISC,
                           f"list the qdiscs of link #{index}"):
        _, ifindex, _, parent, _ = _TCMSG.unpack_from(raw, 16)
        if ifindex == index:
            kind = _msg.attrs(raw, 16 + _TCMSG.size, len(raw)).get(1, b"")  # TCA_KIND
            out.append((parent, kind.split(b"\0", 1)[0].decode()))
    return out


def del_qdisc_request(index: int, *, ingress: bool, what: str = "") -> Request:
    """Delete interface ``index``'s root (back to its default) or ingress qdisc."""
    parent = TC_H_INGRESS if ingress else TC_H_ROOT
    return Request(_TCMSG.pack(AF_UNSPEC, index, 0, parent, 0), RTM_DELQDISC, 0,
                   what or f"delete a qdisc of link #{index}")


def set_mac_request(index: int, mac: str, what: str = "") -> Request:
    """Set the MAC address of interface ``index``."""
    return Request(_msg.ifinfo(index) + _msg.mac(1, mac), RTM_NEWLINK, 0,  # IFLA_ADDRESS
                   what or f"set the MAC of link #{index} to {mac}")
