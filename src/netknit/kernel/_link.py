"""Links and addresses: veth pairs born in place, bridges, state, MTU, MAC, addresses.

veth pairs are created by ONE RTM_NEWLINK sent from any namespace: each end carries
IFLA_NET_NS_FD of its target namespace and its final IFLA_IFNAME, so neither end is ever
visible under a temporary name or in the wrong namespace, and nothing is renamed or moved.
MAC and MTU of both ends, the main end's up state and its bridge master are set in that
same request. The peer end cannot be brought up in it: the kernel opens the peer before it
is linked to its twin and refuses with ENOTCONN (veth_open), so the peer is set up in the
namespace's configuration batch right after.

Marks: an interface netknit makes carries its lab's mark in its alias (IFLA_IFALIAS),
which the kernel keeps across up/down, renames and namespace moves. The kernel ignores
IFLA_IFALIAS in a creating request (checked on 6.18), so an end born in the socket's own
namespace is marked by a second request, by name, sent only once its creation is acked
(sent blindly in the same buffer, it would mark a device of that name that someone else
owns whenever the creation fails with EEXIST). An end born in another namespace is marked
by that namespace's :func:`configure` batch, in the very request that brings it up: until
then it is inside a marked namespace (see :func:`netknit.kernel.netns.create`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Interface, IPv6Interface

from .._dataclass import dataclass
from .._errors import KernelError
from . import _msg
from ._msg import (
    IFF_UP,
    NLM_F_CREATE,
    NLM_F_EXCL,
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_NEWADDR,
    RTM_NEWLINK,
    LinkInfo,
    set_link_request,
)
from ._nl import Netlink, Request

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
    alias: str | None = None  # the mark; set at creation only when ns_fd is None


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
    """Create many veth pairs in pipelined batches; one result per pair. Ends born in the
    socket's namespace get their alias right after (see the module docstring)."""
    results = nl.batch([veth_request(main, peer) for main, peer in pairs])
    marks = [[(end.name, end.alias) for end in pair if end.ns_fd is None and end.alias]
             for pair in pairs]
    return mark_created(nl, results, marks)


def alias_request(name: str, alias: str) -> Request:
    """Set the alias of the interface called ``name`` in the socket's namespace."""
    body = _msg.ifinfo() + _msg.link_attrs(name, None, None, None, alias=alias)
    return Request(body, RTM_NEWLINK, 0, f"mark {name}")


def mark_created(nl: Netlink, results: list[KernelError | None],
                 marks: Sequence[Sequence[tuple[str, str]]]) -> list[KernelError | None]:
    """Give every object whose creation succeeded (``results[i]`` None) the aliases
    ``marks[i]`` lists, (name, alias) in the socket's namespace: one pipelined batch.
    A failure becomes that object's result."""
    requests: list[Request] = []
    owner: list[int] = []
    for i, (err, items) in enumerate(zip(results, marks, strict=True)):
        if err is None:
            requests += [alias_request(name, alias) for name, alias in items]
            owner += [i] * len(items)
    out = list(results)
    for i, err in zip(owner, nl.batch(requests) if requests else [], strict=True):
        out[i] = out[i] or err
    return out


def move_links(nl: Netlink, moves: Sequence[tuple[int, int, str]]) -> list[KernelError | None]:
    """Move devices (ifindex as ``nl`` sees it) into the namespaces behind the given fds,
    names unchanged: one RTM_NEWLINK each, so the target only ever sees the final name."""
    return nl.batch([
        Request(_msg.ifinfo(index) + _msg.link_attrs(None, ns_fd, None, None), RTM_NEWLINK, 0,
                what)
        for index, ns_fd, what in moves
    ])


def create_bridge(nl: Netlink, name: str, *, mtu: int | None = None,
                  alias: str | None = None) -> None:
    """Create a Linux bridge, up, with ``alias`` (the mark) if given. Raises
    KernelError(EEXIST) if the name is taken."""
    body = _msg.bridge_body(name, mtu, IFF_UP)
    nl.request(Request(body, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, f"create bridge {name}"))
    if alias:
        nl.request(alias_request(name, alias))


def delete_request(name: str) -> Request:
    return Request(_msg.ifinfo() + _msg.string(_msg.IFLA_IFNAME, name), RTM_DELLINK, 0,
                   f"delete link {name}")


def delete_by_index(nl: Netlink, items: Sequence[tuple[int, str]]) -> list[KernelError | None]:
    """Delete links by (ifindex, name for messages), each tried: one result per item
    (None: deleted, or gone already)."""
    requests = [Request(_msg.ifinfo(index), RTM_DELLINK, 0, f"delete link {name}")
                for index, name in items]
    return [None if err is None or err.errno == 19 else err  # ENODEV: gone is the goal
            for err in nl.batch(requests)]


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


def address_request(index: int, address: Address, what: str) -> Request:
    # lab addresses are validated unique: skip IPv6 duplicate address detection so the
    # address is usable the moment deploy returns instead of ~2 s later
    flags = IFA_F_NODAD if address.version == 6 else 0
    body = _msg.addr_body(index, address, flags)
    return Request(body, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, what)


def address_delete_request(index: int, address: Address, what: str) -> Request:
    return Request(_msg.addr_body(index, address, 0), RTM_DELADDR, 0, what)


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
    alias: str | None = None  # the mark, set in the request that brings it up


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
        if item.up or item.alias is not None:
            requests.append(set_link_request(ifindex, up=item.up or None, alias=item.alias,
                                             what=f"set {item.name} up in {nl.label}"))
        for address in item.addresses:
            requests.append(address_request(ifindex, address,
                                            f"add {address} to {item.name} in {nl.label}"))
    for err in nl.batch(requests):
        if err is not None and err.errno != 17:  # EEXIST: the address is there already
            raise err
