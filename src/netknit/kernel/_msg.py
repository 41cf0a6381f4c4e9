"""Hand-packed rtnetlink bodies for the requests deploy sends by the hundred.

pyroute2's generic encoder costs ~0.8 ms per veth request; these few fixed layouts cost
~10 µs, and parsing a link dump here is ~3x faster than pyroute2's parser. Layouts are
those of <linux/rtnetlink.h> and <linux/if_link.h>.
"""

from __future__ import annotations

import struct
from _socket import AF_INET, AF_INET6, AF_UNSPEC

from .._record import Record
from ._nl import Request

TYPE_CHECKING = False  # no typing import at run time: the CNI plugin imports this module
if TYPE_CHECKING:
    from ipaddress import IPv4Interface, IPv6Interface

IFF_UP = 0x1
IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_MASTER = 10
IFLA_IFALIAS = 20
IFLA_LINKINFO = 18
IFLA_NET_NS_FD = 28
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
VETH_INFO_PEER = 1
IFA_ADDRESS = 1
IFA_LOCAL = 2

_IFINFO = struct.Struct("BxHiII")  # family, type, index, flags, change
_IFADDR = struct.Struct("BBBBI")  # family, prefixlen, flags, scope, index
_NLA = struct.Struct("HH")


def attr(kind: int, payload: bytes) -> bytes:
    """One rtattr, padded to 4 bytes."""
    raw = _NLA.pack(_NLA.size + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("I", value))


def string(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


def mac(kind: int, value: str) -> bytes:
    return attr(kind, bytes.fromhex(value.replace(":", "")))


def ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return _IFINFO.pack(AF_UNSPEC, 0, index, flags, change)


def link_attrs(name: str | None, ns_fd: int | None, address: str | None,
               mtu: int | None, master: int | None = None, alias: str | None = None) -> bytes:
    out = b""
    if name:
        out += string(IFLA_IFNAME, name)
    if ns_fd is not None:
        out += u32(IFLA_NET_NS_FD, ns_fd)
    if address:
        out += mac(IFLA_ADDRESS, address)
    if mtu:
        out += u32(IFLA_MTU, mtu)
    if master:
        out += u32(IFLA_MASTER, master)
    if alias is not None:  # "" clears it
        out += attr(IFLA_IFALIAS, alias.encode())
    return out


def veth_body(main: bytes, main_index: int, main_flags: int, peer: bytes, peer_index: int) -> bytes:
    """RTM_NEWLINK body for a veth pair: the main end's attrs plus the peer's in
    IFLA_LINKINFO/IFLA_INFO_DATA/VETH_INFO_PEER (an ifinfomsg followed by its attrs)."""
    peer_msg = attr(VETH_INFO_PEER, ifinfo(peer_index) + peer)
    linkinfo = attr(IFLA_LINKINFO, string(IFLA_INFO_KIND, "veth") +
                    attr(IFLA_INFO_DATA, peer_msg))
    return ifinfo(main_index, main_flags, main_flags) + main + linkinfo


def addr_body(index: int, address: IPv4Interface | IPv6Interface, flags: int) -> bytes:
    family = AF_INET if address.version == 4 else AF_INET6
    packed = address.ip.packed
    body = _IFADDR.pack(family, address.network.prefixlen, flags & 0xFF, 0, index)
    return body + attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed)


# -- parsing the two dumps deploy, destroy and inspect make ------------------------------

RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
IFLA_LINK = 5
IFLA_OPERSTATE = 16
#: IF_OPER_* (linux/if.h), in the words of `ip link` (lower case)
_OPERSTATES = ("unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up")
_HDR_LEN = 16


def messages(data: bytes) -> list[tuple[int, bytes]]:
    """(type, message) of every netlink message in one receive."""
    out = []
    offset = 0
    while offset + _HDR_LEN <= len(data):
        length, mtype = struct.unpack_from("IH", data, offset)
        if length < _HDR_LEN:
            break
        out.append((mtype, data[offset : offset + length]))
        offset += (length + 3) & ~3
    return out


def attrs(data: bytes, start: int, end: int) -> dict[int, bytes]:
    """The rtattrs between ``start`` and ``end``: type (flags masked) → payload."""
    out: dict[int, bytes] = {}
    while start + 4 <= end:
        length, kind = _NLA.unpack_from(data, start)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[start + 4 : start + length]
        start += (length + 3) & ~3
    return out


def _cstr(raw: bytes | None) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace") if raw else ""


def _u32(raw: bytes | None) -> int | None:
    return struct.unpack("I", raw[:4])[0] if raw and len(raw) >= 4 else None


class LinkInfo(Record):
    """What the kernel says about an interface."""

    __slots__ = ("carrier", "index", "kind", "mac", "master", "mtu", "name", "operstate",
                 "peer_index", "up")
    __match_args__ = ("index", "name", "kind", "mac", "mtu", "up", "master", "peer_index",
                      "carrier", "operstate")

    index: int
    name: str
    kind: str
    mac: str
    mtu: int
    up: bool
    master: int | None
    peer_index: int | None  # veth: the peer's ifindex (in its own namespace)
    carrier: bool  # IFF_LOWER_UP: a veth has it only while its peer is up
    operstate: str  # RFC 2863, as `ip link` words it: up, down, lowerlayerdown, unknown...

    def __init__(self, index: int, name: str, kind: str, mac: str, mtu: int, up: bool,
                 master: int | None, peer_index: int | None, carrier: bool = True,
                 operstate: str = "unknown") -> None:
        s = object.__setattr__
        s(self, "index", index)
        s(self, "name", name)
        s(self, "kind", kind)
        s(self, "mac", mac)
        s(self, "mtu", mtu)
        s(self, "up", up)
        s(self, "master", master)
        s(self, "peer_index", peer_index)
        s(self, "carrier", carrier)
        s(self, "operstate", operstate)


def parse_link(msg: bytes) -> LinkInfo:
    """An RTM_NEWLINK message (header included)."""
    _family, _type, index, flags, _change = _IFINFO.unpack_from(msg, _HDR_LEN)
    a = attrs(msg, _HDR_LEN + _IFINFO.size, len(msg))
    linkinfo = a.get(IFLA_LINKINFO)
    kind = _cstr(attrs(linkinfo, 0, len(linkinfo)).get(IFLA_INFO_KIND)) if linkinfo else ""
    address = a.get(IFLA_ADDRESS) or b""
    return LinkInfo(
        index=index,
        name=_cstr(a.get(IFLA_IFNAME)),
        kind=kind,
        mac=":".join(f"{b:02x}" for b in address),
        mtu=_u32(a.get(IFLA_MTU)) or 0,
        up=bool(flags & 0x1),
        carrier=bool(flags & 0x10000),
        master=_u32(a.get(IFLA_MASTER)),
        peer_index=_u32(a.get(IFLA_LINK)) if kind == "veth" else None,
        operstate=_OPERSTATES[state[0]] if (state := a.get(IFLA_OPERSTATE)) and
        state[0] < len(_OPERSTATES) else "unknown",
    )


def parse_alias(msg: bytes) -> str:
    """The alias (IFLA_IFALIAS) of an RTM_NEWLINK message (header included); "" if none."""
    return _cstr(attrs(msg, _HDR_LEN + _IFINFO.size, len(msg)).get(IFLA_IFALIAS))


def parse_addr(msg: bytes) -> tuple[int, IPv4Interface | IPv6Interface] | None:
    """(ifindex, address/prefix) of an RTM_NEWADDR message, or None without an address."""
    family, prefixlen, _flags, _scope, index = _IFADDR.unpack_from(msg, _HDR_LEN)
    a = attrs(msg, _HDR_LEN + _IFADDR.size, len(msg))
    raw = a.get(IFA_LOCAL) or a.get(IFA_ADDRESS)
    if raw is None:
        return None
    from ipaddress import IPv4Interface, IPv6Interface

    if family == AF_INET:
        return index, IPv4Interface((raw, prefixlen))
    return index, IPv6Interface((raw, prefixlen))


def set_link_request(
    index: int, *, up: bool | None = None, mtu: int | None = None, mac: str | None = None,
    master: int | None = None, name: str | None = None, alias: str | None = None,
    what: str = "",
) -> Request:
    """Change a link: up-state (None leaves it), name, MTU, MAC, master, alias."""
    flags = IFF_UP if up else 0
    change = IFF_UP if up is not None else 0
    body = ifinfo(index, flags, change) + link_attrs(name, None, mac, mtu, master, alias)
    return Request(body, RTM_NEWLINK, 0, what or f"set link #{index}")


def bridge_body(name: str, mtu: int | None, flags: int) -> bytes:
    linkinfo = attr(IFLA_LINKINFO, string(IFLA_INFO_KIND, "bridge"))
    return ifinfo(0, flags, flags) + link_attrs(name, None, None, mtu) + linkinfo


def getlink_body() -> bytes:
    return ifinfo()


def getlink_by_name_body(name: str) -> bytes:
    """RTM_GETLINK body asking for one interface by name (a request, not a dump)."""
    return ifinfo() + string(IFLA_IFNAME, name)


def getaddr_body() -> bytes:
    return _IFADDR.pack(AF_UNSPEC, 0, 0, 0, 0)
