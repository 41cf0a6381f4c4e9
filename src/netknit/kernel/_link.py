"""Links and addresses: veth pairs born in place, bridges, state, MTU, MAC, addresses.

veth pairs are created by ONE RTM_NEWLINK sent from any namespace: each end carries
IFLA_NET_NS_FD of its target namespace and its final IFLA_IFNAME, so neither end is ever
visible under a temporary name or in the wrong namespace, and nothing is renamed or moved.
MAC and MTU of both ends, the main end's up state and its bridge master are set in that
same request. The peer end cannot be brought up in it: the kernel opens the peer before it
is linked to its twin and refuses with ENOTCONN (veth_open), so the peer is set up in the
namespace's configuration batch right after.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv6Interface

from .._errors import KernelError
from . import _msg
from ._msg import (
    NLM_F_CREATE,
    NLM_F_EXCL,
    RTM_DELLINK,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_NEWADDR,
    RTM_NEWLINK,
    LinkInfo,
)
from ._nl import Netlink, Request

IFF_UP = 0x1
IFA_F_NODAD = 0x02

Address = IPv4Interface | IPv6Interface


@dataclass(frozen=True, slots=True)
class VethEnd:
    """One end of a veth pair to create. ``ns_fd`` None means the socket's namespace."""

    name: str
    ns_fd: int | None = None
    mac: str | None = None
    mtu: int | None = None
    master: int | None = None  # bridge ifindex; only honoured on the main end
    index: int = 0  # ifindex to give it (0: the kernel picks); see configure()


def veth_request(main: VethEnd, peer: VethEnd) -> Request:
    """The single RTM_NEWLINK that creates a veth pair with both ends in place.

    The main end comes up (and joins ``main.master``) in the same request; the peer
    stays down until :func:`configure` brings it up inside its namespace.
    """
    body = _msg.veth_body(
        _msg.link_attrs(main.name, main.ns_fd, main.mac, main.mtu, main.master),
        main.index,
        IFF_UP,
        _msg.link_attrs(peer.name, peer.ns_fd, peer.mac, peer.mtu),
        peer.index,
    )
    what = f"create veth {main.name} (peer {peer.name})"
    return Request(body, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, what)


def create_veths(nl: Netlink, pairs: Sequence[tuple[VethEnd, VethEnd]]) -> list[KernelError | None]:
    """Create many veth pairs in pipelined batches; one result per pair."""
    return nl.batch([veth_request(main, peer) for main, peer in pairs])


def move_links(nl: Netlink, moves: Sequence[tuple[int, int, str]]) -> list[KernelError | None]:
    """Move devices (ifindex as ``nl`` sees it) into the namespaces behind the given fds,
    names unchanged: one RTM_NEWLINK each, so the target only ever sees the final name."""
    return nl.batch([
        Request(_msg.ifinfo(index) + _msg.link_attrs(None, ns_fd, None, None), RTM_NEWLINK, 0,
                what)
        for index, ns_fd, what in moves
    ])


def create_bridge(nl: Netlink, name: str, *, mtu: int | None = None) -> None:
    """Create a Linux bridge, up. Raises KernelError(EEXIST) if the name is taken."""
    body = _msg.bridge_body(name, mtu, IFF_UP)
    nl.request(Request(body, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, f"create bridge {name}"))


def delete_request(name: str) -> Request:
    return Request(_msg.ifinfo() + _msg.string(_msg.IFLA_IFNAME, name), RTM_DELLINK, 0,
                   f"delete link {name}")


def delete_links(nl: Netlink, names: Iterable[str]) -> list[str]:
    """Delete links by name; names already gone are fine. Returns the names deleted."""
    names = list(names)
    results = nl.batch([delete_request(n) for n in names])
    deleted = []
    for name, err in zip(names, results, strict=True):
        if err is None:
            deleted.append(name)
        elif err.errno != 19:  # ENODEV: already gone — that is the goal
            raise err
    return deleted


def set_link_request(
    index: int, *, up: bool | None = None, mtu: int | None = None, mac: str | None = None,
    master: int | None = None, name: str | None = None, what: str = "",
) -> Request:
    flags = IFF_UP if up else 0
    change = IFF_UP if up is not None else 0
    body = _msg.ifinfo(index, flags, change) + _msg.link_attrs(name, None, mac, mtu, master)
    return Request(body, RTM_NEWLINK, 0, what or f"set link #{index}")


def address_request(index: int, address: Address, what: str) -> Request:
    # lab addresses are validated unique: skip IPv6 duplicate address detection so the
    # address is usable the moment deploy returns instead of ~2 s later
    flags = IFA_F_NODAD if address.version == 6 else 0
    body = _msg.addr_body(index, address, flags)
    return Request(body, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, what)


def links(nl: Netlink) -> list[LinkInfo]:
    """All interfaces of the socket's namespace (one dump, DUMP_INTR-safe)."""
    what = f"list links in {nl.label}"
    return [_msg.parse_link(raw) for raw in nl.dump_raw(_msg.getlink_body(), RTM_GETLINK, what)]


def addresses(nl: Netlink) -> dict[int, list[Address]]:
    """ifindex → addresses (global and link-local alike), one DUMP_INTR-safe dump."""
    out: dict[int, list[Address]] = {}
    for raw in nl.dump_raw(_msg.getaddr_body(), RTM_GETADDR, f"list addresses in {nl.label}"):
        parsed = _msg.parse_addr(raw)
        if parsed is not None:
            out.setdefault(parsed[0], []).append(parsed[1])
    return out


@dataclass(frozen=True, slots=True)
class IfConfig:
    """What an interface must carry after creation."""

    name: str
    up: bool = True
    addresses: tuple[Address, ...] = ()
    index: int = 0  # known ifindex (set at creation); 0: look it up by name


def configure(nl: Netlink, items: Sequence[IfConfig], *, loopback_up: bool = True) -> None:
    """Bring interfaces up and add their addresses in one pipelined batch.

    When every interface's ifindex is known (netknit gave it at creation in a namespace
    it just made) no lookup is needed: one send, one read. Otherwise one link dump.
    Existing addresses are not an error (deploy is idempotent). Everything that fails
    for another reason is raised, naming the interface and the namespace.
    """
    index: dict[str, int] = {}
    if any(not item.index for item in items):
        index = {link.name: link.index for link in links(nl)}
    requests: list[Request] = []
    if loopback_up:
        # setting lo up when it already is costs nothing and saves a lookup
        requests.append(set_link_request(1, up=True,  # lo is always ifindex 1
                                         what=f"set lo up in {nl.label}"))
    for item in items:
        ifindex = item.index or index.get(item.name, 0)
        if not ifindex:
            raise KernelError(f"configure {item.name} in {nl.label}", 19)
        if item.up:
            requests.append(set_link_request(ifindex, up=True,
                                             what=f"set {item.name} up in {nl.label}"))
        for address in item.addresses:
            requests.append(address_request(ifindex, address,
                                            f"add {address} to {item.name} in {nl.label}"))
    for err in nl.batch(requests):
        if err is not None and err.errno != 17:  # EEXIST: the address is there already
            raise err
