"""Devices born in place: vxlan, macvlan, dummy.

One RTM_NEWLINK, sent from the *underlay* (requesting) namespace, carries
IFLA_NET_NS_FD of the target namespace and the device's final IFLA_IFNAME: the device
appears in the target under its final name only — no intermediate name, no move, no
rename — while everything it is attached to stays in the requesting namespace. The kernel
uses the requesting namespace as the device's ``src_net``: a vxlan device's UDP socket
(its underlay: local address, remote, IFLA_VXLAN_LINK) and a macvlan's IFLA_LINK parent
are looked up and live there.

Kernel facts (checked on 6.18, see tests/kernel/test_devices.py):

- IFF_UP in the creating request works for vxlan and macvlan born in another namespace
  (the vxlan socket is opened in the requesting namespace). ``Device.up`` asks for it.
- The name and ``index`` of the new device only have to be free in the *target*
  namespace: the underlay may hold a device of the same name or ifindex.
- ``master`` is an ifindex in the *target* namespace (the kernel enslaves the device
  after it is created there).
- A kind whose driver the kernel lacks is refused with EOPNOTSUPP ("Unknown device
  type"); :func:`create_devices` turns that into a KernelError that names the driver.

Bodies are packed by hand (see :mod:`._msg`): no pyroute2 on this path.
"""

from __future__ import annotations

import _socket as socket  # the C half: what is used here, without socket.py (~2 ms)
import errno
import os
import struct
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

from .._dataclass import dataclass
from .._errors import KernelError
from . import _msg
from ._link import mark_created
from ._msg import IFF_UP, IFLA_LINK, NLM_F_CREATE, NLM_F_EXCL, RTM_GETLINK, RTM_NEWLINK
from ._nl import Netlink, Request

# <linux/if_link.h>: IFLA_VXLAN_*
IFLA_VXLAN_ID = 1
IFLA_VXLAN_GROUP = 2
IFLA_VXLAN_LINK = 3
IFLA_VXLAN_LOCAL = 4
IFLA_VXLAN_LEARNING = 7
IFLA_VXLAN_PORT_RANGE = 10
IFLA_VXLAN_PORT = 15
IFLA_VXLAN_GROUP6 = 16
IFLA_VXLAN_LOCAL6 = 17

# <linux/if_link.h>: IFLA_MACVLAN_*
IFLA_MACVLAN_MODE = 1
MACVLAN_MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8, "source": 16}

KINDS = ("vxlan", "macvlan", "dummy")


@dataclass(frozen=True, slots=True)
class VxlanParams:
    """The underlay of a vxlan device, all of it in the requesting namespace."""

    vni: int
    remote: str  # IPv4 or IPv6 literal (IFLA_VXLAN_GROUP / GROUP6)
    local: str | None = None  # IFLA_VXLAN_LOCAL / LOCAL6
    dst_port: int = 14789  # IFLA_VXLAN_PORT (sent in network byte order)
    src_ports: tuple[int, int] | None = None  # IFLA_VXLAN_PORT_RANGE (low, high)
    parent_index: int | None = None  # IFLA_VXLAN_LINK, ifindex in the requesting namespace
    learning: bool = True


@dataclass(frozen=True, slots=True)
class Device:
    """A device created by one RTM_NEWLINK sent from the underlay (requesting) namespace,
    born in namespace ns_fd under its final name: no move, no rename, no intermediate name.
    """

    kind: str  # "vxlan" | "macvlan" | "dummy"
    name: str
    ns_fd: int | None = None  # target namespace fd; None: the socket's own namespace
    mac: str | None = None
    mtu: int | None = None
    index: int = 0  # ifindex to give it in the target (0: kernel picks)
    master: int | None = None  # bridge ifindex (in the target namespace)
    up: bool = False  # IFF_UP in the creating request
    vxlan: VxlanParams | None = None
    parent: int | None = None  # macvlan: IFLA_LINK parent ifindex (requesting namespace)
    macvlan_mode: str = "bridge"  # bridge|vepa|private|passthru|source
    alias: str | None = None  # the mark; set at creation only when ns_fd is None (see _link)


def _ip(value: str, what: str) -> IPv4Address | IPv6Address:
    try:
        return ip_address(value)
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not an IPv4 or IPv6 address") from None


def _vxlan_data(p: VxlanParams) -> bytes:
    if not 0 <= p.vni < 1 << 24:
        raise ValueError(f"vxlan VNI {p.vni} is outside 0..16777215")
    remote = _ip(p.remote, "vxlan remote")
    out = _msg.u32(IFLA_VXLAN_ID, p.vni)
    out += _msg.attr(IFLA_VXLAN_GROUP if remote.version == 4 else IFLA_VXLAN_GROUP6,
                     remote.packed)
    if p.local is not None:
        local = _ip(p.local, "vxlan local")
        if local.version != remote.version:
            raise ValueError(f"vxlan local {p.local} and remote {p.remote} differ in family")
        out += _msg.attr(IFLA_VXLAN_LOCAL if local.version == 4 else IFLA_VXLAN_LOCAL6,
                         local.packed)
    if p.parent_index:
        out += _msg.u32(IFLA_VXLAN_LINK, p.parent_index)
    out += _msg.attr(IFLA_VXLAN_LEARNING, struct.pack("B", 1 if p.learning else 0))
    if p.src_ports is not None:
        low, high = p.src_ports
        out += _msg.attr(IFLA_VXLAN_PORT_RANGE, struct.pack("!HH", low, high))
    out += _msg.attr(IFLA_VXLAN_PORT, struct.pack("!H", p.dst_port))
    return out


def _linkinfo(dev: Device) -> tuple[bytes, bytes]:
    """(IFLA_LINKINFO, extra top-level attrs) for the device's kind."""
    extra = b""
    if dev.kind == "vxlan":
        if dev.vxlan is None:
            raise ValueError(f"vxlan device {dev.name} needs VxlanParams")
        data = _vxlan_data(dev.vxlan)
    elif dev.kind == "macvlan":
        if dev.parent is None:
            raise ValueError(f"macvlan device {dev.name} needs a parent ifindex")
        mode = MACVLAN_MODES.get(dev.macvlan_mode)
        if mode is None:
            raise ValueError(f"macvlan mode {dev.macvlan_mode!r} is not one of "
                             f"{', '.join(MACVLAN_MODES)}")
        data = _msg.u32(IFLA_MACVLAN_MODE, mode)
        extra = _msg.u32(IFLA_LINK, dev.parent)
    else:
        data = b""
    info = _msg.string(_msg.IFLA_INFO_KIND, dev.kind)
    if data:
        info += _msg.attr(_msg.IFLA_INFO_DATA, data)
    return _msg.attr(_msg.IFLA_LINKINFO, info), extra


def device_request(dev: Device, what: str = "") -> Request:
    """The single RTM_NEWLINK (NLM_F_CREATE|NLM_F_EXCL) that creates ``dev`` in place."""
    linkinfo, extra = _linkinfo(dev)
    flags = IFF_UP if dev.up else 0
    body = (_msg.ifinfo(dev.index, flags, flags)
            + _msg.link_attrs(dev.name, dev.ns_fd, dev.mac, dev.mtu, dev.master)
            + extra + linkinfo)
    return Request(body, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
                   what or f"create {dev.kind} {dev.name}")


def _missing_driver(err: KernelError) -> bool:
    # rtnl_newlink: no rtnl_link_ops for the kind after request_module → EOPNOTSUPP with
    # extack "Unknown device type" (older kernels send no extack text)
    return err.errno == errno.EOPNOTSUPP and (
        "Unknown device type" in err.message or err.message.endswith(os.strerror(err.errno)))


def create_devices(nl: Netlink, devices: Sequence[Device]) -> list[KernelError | None]:
    """Create many devices in pipelined batches; one result (error or None) per device.
    Devices born in the socket's namespace get their alias right after (see ._link).

    A kind whose driver this kernel lacks comes back as a KernelError saying so."""
    results = mark_created(nl, nl.batch([device_request(dev) for dev in devices]),
                           [[(dev.name, dev.alias)] if dev.ns_fd is None and dev.alias else []
                            for dev in devices])
    out: list[KernelError | None] = []
    for dev, err in zip(devices, results, strict=True):
        if err is not None and _missing_driver(err):
            err = KernelError(
                err.operation, err.errno,
                detail=f"this kernel has no {dev.kind!r} driver (modprobe {dev.kind})",
                hint=f"load the {dev.kind} module, or use a kernel built with it",
            )
        out.append(err)
    return out


# -- reading vxlan devices back -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VxlanInfo:
    """What the kernel says about one vxlan device."""

    vni: int
    remote: str | None
    local: str | None
    dst_port: int
    parent_index: int | None


def _addr(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if len(raw) == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    return None


def _parse_vxlan(msg: bytes) -> tuple[int, VxlanInfo] | None:
    hdr = 16
    (index,) = struct.unpack_from("i", msg, hdr + 4)
    top = _msg.attrs(msg, hdr + 16, len(msg))  # after nlmsghdr + ifinfomsg
    linkinfo = top.get(_msg.IFLA_LINKINFO)
    if linkinfo is None:
        return None
    info = _msg.attrs(linkinfo, 0, len(linkinfo))
    if info.get(_msg.IFLA_INFO_KIND, b"").split(b"\0", 1)[0] != b"vxlan":
        return None
    raw = info.get(_msg.IFLA_INFO_DATA, b"")
    data = _msg.attrs(raw, 0, len(raw))
    vni = struct.unpack("I", data[IFLA_VXLAN_ID][:4])[0] if IFLA_VXLAN_ID in data else 0
    port_raw = data.get(IFLA_VXLAN_PORT)
    port = struct.unpack("!H", port_raw[:2])[0] if port_raw and len(port_raw) >= 2 else 0
    link_raw = data.get(IFLA_VXLAN_LINK)
    link = struct.unpack("I", link_raw[:4])[0] if link_raw and len(link_raw) >= 4 else 0
    return index, VxlanInfo(
        vni=vni,
        remote=_addr(data.get(IFLA_VXLAN_GROUP) or data.get(IFLA_VXLAN_GROUP6)),
        local=_addr(data.get(IFLA_VXLAN_LOCAL) or data.get(IFLA_VXLAN_LOCAL6)),
        dst_port=port,
        parent_index=link or None,
    )


def vxlan_info(nl: Netlink) -> dict[int, VxlanInfo]:
    """ifindex → parameters of every vxlan device in ``nl``'s namespace (one
    DUMP_INTR-safe dump, filtered by kind in the kernel where it can)."""
    body = _msg.ifinfo() + _msg.attr(_msg.IFLA_LINKINFO,
                                     _msg.string(_msg.IFLA_INFO_KIND, "vxlan"))
    out: dict[int, VxlanInfo] = {}
    for raw in nl.dump_raw(body, RTM_GETLINK, f"list vxlan devices in {nl.label}"):
        parsed = _parse_vxlan(raw)
        if parsed is not None:
            out[parsed[0]] = parsed[1]
    return out
