"""Move an existing device into another namespace under its final name, and back.

The goal: the device leaves its namespace under its old name and appears in the target
only under its final name, so nothing watching either namespace (udev, NetworkManager, a
container's entrypoint) ever sees it under a name it should not act on.

The obvious way is one RTM_NEWLINK carrying IFLA_NET_NS_FD and IFLA_IFNAME. Whether the
kernel honours that *atomically* is probed once per process (:func:`probe_move_strategy`).
Kernels up to at least 6.18 apply the new name during the move only when the old one is
taken in the target (``__dev_change_net_namespace``); otherwise they move the device
under its old name and rename it in the target afterwards, which is visible there.

Three strategies, best first:

- "atomic": the kernel renames during the move on its own.
- "altname": make the old name taken in the target, cheaply and invisibly to the device:
  give the target's loopback (ifindex 1) the old name as an *alternative name* for the
  duration of the one-message move, then take it off. The kernel sees the clash and gives
  the device its new name before listing it in the target. One move (~15 ms, an RCU
  grace period) instead of two. Used only where the destination is a namespace netknit
  may mark (a node's or a container's, never the one the device came from, since that is
  usually the host's and its ``lo`` is not netknit's to touch); if that loopback is up,
  its two altname changes are announced there as changes of ``lo``.
- "via-temp-ns": a private temporary namespace (held by a file descriptor only, never
  in /run/netns): move there, rename there, move on. Two moves; used for the way home.

A plain move (no rename) is clean on every kernel, so only renames ever need more. A
caller taking a device out of a namespace for good (CNI DEL) may let that namespace see
the rename instead (``move_back(..., rename_before_leaving=True)``): the device is set
down and renamed to its original name where it is, then moved home in one plain move,
so home still sees only its original name and one move is saved.

Every step is undone on failure: the device is found wherever it is (origin, temporary
namespace, target) and taken back under its original name and up-state. The kernel sets
a device down when it changes namespace, so nothing is set down beforehand (except for a
rename before leaving, which the kernel may refuse a running device); it is brought up
again on arrival if it was up.
"""

from __future__ import annotations

import errno
import os
from _thread import allocate_lock

from .._errors import KernelError, MoveError
from .._ifname import ifname_error
from .._record import Record
from . import _msg, _ns
from ._msg import RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK, LinkInfo, set_link_request
from ._nl import NETLINK_ROUTE, Netlink, Request
from ._ns import Namespace

# The CNI plugin imports this module in a process per call: no dataclasses, typing,
# threading, socket or secrets at import time (together ~60 ms on a small VM), and
# ._link (dataclasses, ipaddress) only for the probe.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Sequence
    from typing import Literal

    Strategy = Literal["auto", "atomic", "altname", "via-temp-ns"]
    Chosen = Literal["atomic", "altname", "via-temp-ns"]


def __getattr__(name: str) -> object:
    if name == "Strategy":  # a typing alias: built on first use, not at import
        from typing import Literal

        alias = Literal["auto", "atomic", "altname", "via-temp-ns"]
        globals()["Strategy"] = alias
        return alias
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: ioctl on any socket: a new fd of the socket's network namespace (Linux >= 4.9).
SIOCGSKNS = 0x894C
RTMGRP_LINK = 0x1
RTM_NEWLINKPROP = 108
RTM_DELLINKPROP = 109
IFLA_PROP_LIST = 52
IFLA_ALT_IFNAME = 53
NLA_F_NESTED = 0x8000
LOOPBACK_INDEX = 1  # the kernel registers lo first in every namespace
_TEMP_LABEL = "netknit's temporary namespace"


class DeviceState(Record):
    """A device as it was before netknit moved it (what ``move_back`` restores).

    Plain values only, so the journal can store it and a later process (CNI DEL) can
    rebuild it.
    """

    __slots__ = ("index", "kind", "mac", "mtu", "name", "netns", "netns_inode", "up")
    __match_args__ = ("name", "index", "kind", "mac", "mtu", "up", "netns", "netns_inode")

    name: str
    index: int
    kind: str  # "" for hardware devices
    mac: str
    mtu: int
    up: bool
    netns: str  # label of the namespace, for messages
    netns_inode: int

    def __init__(self, name: str, index: int, kind: str, mac: str, mtu: int, up: bool,
                 netns: str, netns_inode: int) -> None:
        s = object.__setattr__
        s(self, "name", name)
        s(self, "index", index)
        s(self, "kind", kind)
        s(self, "mac", mac)
        s(self, "mtu", mtu)
        s(self, "up", up)
        s(self, "netns", netns)
        s(self, "netns_inode", netns_inode)


class MoveResult(Record):
    """Where a moved device is now, and what it was before."""

    __slots__ = ("index", "mac", "mtu", "name", "original", "strategy", "target",
                 "target_inode", "up")
    __match_args__ = ("original", "target", "target_inode", "name", "index", "mac", "mtu",
                      "up", "strategy")

    original: DeviceState
    target: str
    target_inode: int
    name: str
    index: int
    mac: str
    mtu: int
    up: bool
    strategy: Chosen

    def __init__(self, original: DeviceState, target: str, target_inode: int, name: str,
                 index: int, mac: str, mtu: int, up: bool, strategy: Chosen) -> None:
        s = object.__setattr__
        s(self, "original", original)
        s(self, "target", target)
        s(self, "target_inode", target_inode)
        s(self, "name", name)
        s(self, "index", index)
        s(self, "mac", mac)
        s(self, "mtu", mtu)
        s(self, "up", up)
        s(self, "strategy", strategy)


def _link_named(nl: Netlink, name: str) -> LinkInfo | None:
    """The interface called ``name`` in the socket's namespace.

    One dump, filtered here, and deliberately not an RTM_GETLINK by IFLA_IFNAME (which
    would be cheaper): the kernel answers a lookup of one device by first delivering its
    pending linkwatch event (an operstate change, up to a second late otherwise), so a
    lookup would make a namespace announce a device while netknit merely looks at it —
    exactly what the monitors that check a move's cleanliness must never see.
    """
    what = f"list links in {nl.label}"
    for raw in nl.dump_raw(_msg.getlink_body(), RTM_GETLINK, what):
        link = _msg.parse_link(raw)
        if link.name == name:
            return link
    return None


def _link_by_name(nl: Netlink, name: str) -> LinkInfo | None:
    """The interface called ``name``: one RTM_GETLINK by IFLA_IFNAME, whatever the number
    of interfaces (a dump and its parsing cost ~4 ms with 200). For callers that accept
    the namespace announcing the device's pending operstate change early (see
    :func:`_link_named`)."""
    raw = nl.get_raw(_msg.getlink_by_name_body(name), RTM_GETLINK,
                     f"look up {name} in {nl.label}")
    return None if raw is None else _msg.parse_link(raw)


# -- capability probe ------------------------------------------------------------------

_probe_lock = allocate_lock()
_probe_result: Chosen | None = None


def probe_move_strategy() -> Chosen:
    """The best name-clean way this kernel offers to move *and* rename a device.

    Run once per process (thread-safe, cached) in a pair of scratch namespaces, with a
    monitor in the destination recording every name announced there: "atomic" if one
    message moves and renames cleanly on its own, else "altname" if it does so once the
    old name is taken in the destination by an altname of its loopback, else
    "via-temp-ns". Any failure of the probe itself counts against a strategy: the
    fallback is correct everywhere, just slower.
    """
    global _probe_result
    with _probe_lock:
        if _probe_result is None:
            _probe_result = _run_probe()
        return _probe_result


def probe_move_rename() -> bool:
    """Whether this kernel applies IFLA_IFNAME together with IFLA_NET_NS_FD atomically
    on its own (the "atomic" strategy)."""
    return probe_move_strategy() == "atomic"


def _run_probe() -> Chosen:
    from ._link import VethEnd, create_veths

    tag = f"nk-probe-{os.getpid()}-{os.urandom(3).hex()}"
    made: list[Namespace] = []

    def clean_move(src: Namespace, dst: Namespace, old: str, new: str, mark: bool) -> bool:
        err = create_veths(src.nl, [(VethEnd(old), VethEnd(old + "p"))])[0]
        dev = _link_named(src.nl, old) if err is None else None
        if dev is None:
            return False
        monitor = _open_link_monitor(dst.fd)
        try:
            if mark:  # the very steps a move with this strategy makes
                _Mover._transfer_by_altname(_Place(src.nl, src.fd, src.name), dev,
                                            _Place(dst.nl, dst.fd, dst.name, markable=True),
                                            new, up=False)
            else:
                src.nl.request(_move_request(dev.index, dst.fd, new,
                                             f"probe move {old} as {new}"))
            # events are queued on the monitor before the kernel acks the request
            seen = _drain_names(monitor)
        finally:
            monitor.close()
        return _link_named(dst.nl, new) is not None and old not in seen

    try:
        src = _ns.create(f"{tag}-a")
        made.append(src)
        dst = _ns.create(f"{tag}-b")
        made.append(dst)
        if clean_move(src, dst, "nkprobe0", "nkprobe1", mark=False):
            return "atomic"
        if clean_move(src, dst, "nkprobe2", "nkprobe3", mark=True):
            return "altname"
        return "via-temp-ns"
    except (KernelError, OSError):
        return "via-temp-ns"
    finally:
        for ns in made:
            ns.close()
            _ns.delete(ns.name, inode=ns.inode)


def _altname_request(kind: int, name: str) -> Request:
    """Add (RTM_NEWLINKPROP) or remove (RTM_DELLINKPROP) an altname of the loopback."""
    props = _msg.attr(IFLA_PROP_LIST | NLA_F_NESTED, _msg.string(IFLA_ALT_IFNAME, name))
    verb = "give" if kind == RTM_NEWLINKPROP else "take"
    return Request(_msg.ifinfo(LOOPBACK_INDEX) + props, kind, 0,
                   f"{verb} lo the altname {name} (for a clean move)")


def _open_link_monitor(ns_fd: int) -> socket.socket:
    import socket

    # a socket belongs to the namespace it was created in; bind may happen anywhere
    with _ns.entered(ns_fd):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                             NETLINK_ROUTE)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((0, RTMGRP_LINK))
    except BaseException:
        sock.close()
        raise
    return sock


def _drain_names(sock: socket.socket) -> list[str]:
    names: list[str] = []
    sock.setblocking(False)
    while True:
        try:
            data = sock.recv(1 << 20)
        except BlockingIOError:
            return names
        for mtype, msg in _msg.messages(data):
            if mtype in (RTM_NEWLINK, RTM_DELLINK):
                name = _msg.parse_link(msg).name
                if name:
                    names.append(name)


# -- places and the mover --------------------------------------------------------------


class _Place(Record):
    """A namespace a device can be in: a socket inside it and an fd naming it.

    ``markable``: netknit may give its loopback a passing altname (the "altname"
    strategy); true for the namespaces devices are moved *into*, never for their home.
    """

    __slots__ = ("fd", "label", "markable", "nl")
    __match_args__ = ("nl", "fd", "label", "markable")

    nl: Netlink
    fd: int
    label: str
    markable: bool

    def __init__(self, nl: Netlink, fd: int, label: str, markable: bool = False) -> None:
        object.__setattr__(self, "nl", nl)
        object.__setattr__(self, "fd", fd)
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "markable", markable)


class _NotFound(Exception):
    """The device is in none of the places searched."""


def _move_request(index: int, ns_fd: int, name: str | None, what: str,
                  up: bool | None = None) -> Request:
    # the kernel changes the namespace first, then applies the flags: a device can
    # arrive and come up in one request
    flags = 0x1 if up else 0
    change = 0x1 if up is not None else 0
    body = _msg.ifinfo(index, flags, change) + _msg.link_attrs(name, ns_fd, None, None)
    return Request(body, RTM_NEWLINK, 0, what)


def _netns_fd_of(nl: Netlink) -> int:
    """A new fd of the namespace ``nl`` lives in (SIOCGSKNS on its socket)."""
    fileno = getattr(getattr(nl, "_sock", None), "fileno", None)
    if fileno is None:
        raise KernelError(f"find the namespace of the socket for {nl.label}", errno.ENOTSOCK)
    # libc's ioctl through ._ns (fcntl is one more shared object to load per CNI call)
    fd = int(_ns._libc.ioctl(fileno(), SIOCGSKNS))
    if fd < 0:
        raise KernelError(f"find the namespace of the socket for {nl.label}",
                          _ns._get_errno())
    return fd


def _open_temp_namespace() -> _Place:
    """A fresh namespace held only by an fd (and a socket): never in /run/netns."""
    ns = _ns.anonymous(_TEMP_LABEL)
    return _Place(ns.nl, ns.fd, _TEMP_LABEL)


class _Mover:
    """Carries one device between places; knows how to find it wherever it is."""

    def __init__(self, dev: DeviceState, new_name: str, strategy: Chosen,
                 places: Sequence[_Place], *, rename_before_leaving: bool = False,
                 look_up_by_name: bool = False) -> None:
        self.dev = dev
        self.names = {dev.name, new_name}
        self.strategy = strategy
        self.places = list(places)
        self.temp: _Place | None = None
        self.rename_before_leaving = rename_before_leaving
        # how the device is checked where it arrived (by name: no dump of a busy host)
        self.look_up = _link_by_name if look_up_by_name else _link_named

    def close(self) -> None:
        if self.temp is not None:
            self.temp.nl.close()
            os.close(self.temp.fd)
            self.temp = None

    def temp_place(self) -> _Place:
        if self.temp is None:
            self.temp = _open_temp_namespace()
        return self.temp

    def _searched(self) -> list[_Place]:
        return [*self.places, *([self.temp] if self.temp is not None else [])]

    def find_in(self, place: _Place) -> LinkInfo | None:
        """The device in ``place``, known by kind, MAC and one of its two names.

        A MAC-less device (tun, wireguard) is also held to its ifindex, so a stranger
        with the same name and kind is never taken for it.
        """
        what = f"list links in {place.label}"
        for raw in place.nl.dump_raw(_msg.getlink_body(), RTM_GETLINK, what):
            link = _msg.parse_link(raw)
            if self.is_it(link):
                return link
        return None

    def is_it(self, link: LinkInfo) -> bool:
        """Whether ``link`` is the device: its kind, its MAC, one of its two names."""
        return (link.name in self.names and link.kind == self.dev.kind
                and link.mac == self.dev.mac
                and (bool(self.dev.mac) or link.index == self.dev.index))

    def locate(self, first: _Place) -> tuple[_Place, LinkInfo]:
        order = [first, *(p for p in self._searched() if p is not first)]
        problems = []
        for place in order:
            try:
                found = self.find_in(place)
            except KernelError as exc:
                problems.append(str(exc))
                continue
            if found is not None:
                return place, found
        raise _NotFound("; ".join(problems))

    def where(self) -> str:
        """Words for where the device is now (for a failed rollback)."""
        for place in self._searched():
            try:
                found = self.find_in(place)
            except KernelError:
                continue
            if found is not None:
                return f"in {place.label} as {found.name} (ifindex {found.index})"
        return "not found in any namespace netknit can see"

    def go(self, dst: _Place, name: str, up: bool, *,
           found: tuple[_Place, LinkInfo] | None = None) -> tuple[LinkInfo, bool]:
        """Make it so: the device in ``dst`` as ``name`` with the given up-state.

        ``found``: where the caller has just seen the device, if it has (the places
        are then not listed again: a host with many interfaces pays for each listing).
        Returns the device as it is then, and whether anything had to change. Raises
        _NotFound if the device is nowhere, KernelError if a step fails.
        """
        place, link = found if found is not None else self.locate(dst)
        changed = False
        if place is dst and link.name != name:
            # already there under the other name (a namespace died and gave it back):
            # rename in place; the kernel may refuse renaming a running device
            if link.up:
                dst.nl.request(set_link_request(link.index, up=False,
                                                what=f"set {link.name} down in {dst.label}"))
            dst.nl.request(set_link_request(link.index, name=name,
                                            what=f"rename {link.name} to {name} in {dst.label}"))
            changed = True
        elif place is not dst:
            self._transfer(place, link, dst, name, up)
            changed = True
        arrived = self.look_up(dst.nl, name)
        if arrived is None or arrived.mac != self.dev.mac or arrived.kind != self.dev.kind:
            raise KernelError(f"find {name} in {dst.label} after the move", errno.ENODEV)
        if arrived.up != up:
            dst.nl.request(set_link_request(
                arrived.index, up=up,
                what=f"set {name} {'up' if up else 'down'} in {dst.label}"))
            arrived = self.look_up(dst.nl, name)
            if arrived is None:
                raise KernelError(f"find {name} in {dst.label} after setting it up", errno.ENODEV)
            changed = True
        return arrived, changed

    def _transfer(self, src: _Place, link: LinkInfo, dst: _Place, name: str, up: bool) -> None:
        if link.name == name or self.strategy == "atomic":
            # a plain move keeps the name: clean on every kernel (EEXIST if it is taken)
            rename = name if link.name != name else None
            what = f"move {link.name} from {src.label} to {dst.label}"
            src.nl.request(_move_request(link.index, dst.fd, rename,
                                         what + (f" as {name}" if rename else ""), up))
            return
        if self.strategy == "altname" and dst.markable:
            self._transfer_by_altname(src, link, dst, name, up)
            return
        if self.rename_before_leaving and src is not self.temp \
                and self._rename_in(src, link, name):
            # renamed where it is, while down; one plain move, under the name dst is to
            # see (a move without a rename is clean on every kernel)
            src.nl.request(_move_request(link.index, dst.fd, None,
                                         f"move {name} from {src.label} to {dst.label}", up))
            return
        # two requests, each a move: into the private namespace, renamed there (only the
        # source's "gone" under the old name is seen outside), then into the target under
        # the final name, brought up on arrival. Moves cost a synchronize_net each; renames
        # and flag changes ride along for free.
        temp = self.temp_place()
        index = link.index
        if src is not temp:
            src.nl.request(_move_request(index, temp.fd, name,
                                         f"move {link.name} from {src.label} to {temp.label}"
                                         f" as {name}"))
            there = self.find_in(temp)
            if there is None:
                raise KernelError(f"find {link.name} in {temp.label}", errno.ENODEV)
            index = there.index
        else:
            temp.nl.request(set_link_request(index, name=name,
                                             what=f"rename {link.name} to {name} in {temp.label}"))
        temp.nl.request(_move_request(index, dst.fd, None,
                                      f"move {name} from {temp.label} to {dst.label}", up))

    @staticmethod
    def _rename_in(place: _Place, link: LinkInfo, name: str) -> bool:
        """Set the device down (the kernel may refuse renaming a running one, and the
        move would set it down anyway) and rename it where it is; False if ``name`` is
        taken there, by a device or an altname (not ours to take: the device keeps its
        name, and goes down all the same)."""
        steps = [set_link_request(link.index, up=False,
                                  what=f"set {link.name} down in {place.label}")] \
            if link.up else []
        steps.append(set_link_request(
            link.index, name=name, what=f"rename {link.name} to {name} in {place.label}"))
        # one send for both (the kernel handles them in order, the down first): a round
        # trip less on the CNI DEL path
        *down, renamed = place.nl.batch(steps)
        if down and down[0] is not None:
            raise down[0]
        if renamed is not None:
            if renamed.errno == errno.EEXIST:
                return False
            raise renamed
        return True

    @staticmethod
    def _transfer_by_altname(src: _Place, link: LinkInfo, dst: _Place, name: str,
                             up: bool) -> None:
        # While the old name is taken in dst, __dev_change_net_namespace names the device
        # from IFLA_IFNAME before it lists it there: the first and only name dst sees.
        # EEXIST: the old name is taken there already (by a device or an altname), which
        # has the same effect, and that holder is not ours to take the name from.
        marked = dst.nl.batch([_altname_request(RTM_NEWLINKPROP, link.name)])[0]
        if marked is not None and marked.errno != errno.EEXIST:
            raise marked
        try:
            src.nl.request(_move_request(link.index, dst.fd, name,
                                         f"move {link.name} from {src.label} to {dst.label}"
                                         f" as {name}", up))
        finally:
            if marked is None:
                dst.nl.request(_altname_request(RTM_DELLINKPROP, link.name))


# -- public API ------------------------------------------------------------------------


def _resolve(strategy: Strategy) -> Chosen:
    if strategy == "auto":
        return probe_move_strategy()
    if strategy not in ("atomic", "altname", "via-temp-ns"):
        raise ValueError(f"unknown move strategy {strategy!r}")
    return strategy


def _preflight(source_inode: int, dev: DeviceState, target: Namespace,
               new_name: str, check_mounted: bool) -> tuple[str, int] | None:
    """What makes the move impossible before anything is touched: (why, errno) or None.

    The kernel would catch most of these too, but only after a first step; catching them
    here leaves the device untouched. Races are still covered by the rollback.
    """
    why = ifname_error(new_name)
    if why:
        return why, errno.EINVAL
    if target.fd < 0:
        return f"namespace {target.name} is closed", errno.EBADF
    if check_mounted and _ns.inode_of(target.name) != target.inode:
        return (f"namespace {target.name} no longer exists ({_ns.netns_path(target.name)} "
                "is gone or holds another namespace)"), errno.ENOENT
    if os.fstat(target.fd).st_ino == source_inode:
        return f"{dev.name} is already in namespace {target.name}", errno.EINVAL
    if _link_named(target.nl, new_name) is not None:
        return f"{target.name} already has an interface named {new_name}", errno.EEXIST
    return None


def move_and_rename(
    nl: Netlink,
    ifname: str,
    target: Namespace,
    new_name: str,
    *,
    strategy: Strategy = "auto",
    check_mounted: bool = True,
    found: LinkInfo | None = None,
) -> MoveResult:
    """Move ``ifname`` from the namespace of ``nl`` into ``target`` as ``new_name``.

    The device is seen leaving under ``ifname`` and arriving only as ``new_name``; it is
    up in the target if it was up before. ``strategy``: "auto" uses the probe's answer,
    "atomic" forces one RTM_NEWLINK (only name-clean where the probe says so),
    "altname" one RTM_NEWLINK while the target's ``lo`` holds the old name as an altname,
    "via-temp-ns" the detour through a private namespace. ``check_mounted``
    requires ``target`` to still be mounted at /run/netns/<name> (true for netknit's own
    namespaces); pass False for a namespace held by a process instead. ``found``: the
    device as the caller has just looked it up in the namespace of ``nl`` (saves listing
    every interface there; ignored unless it is named ``ifname``).

    Raises :class:`MoveError` on any failure, after putting the device back where it was
    (name, namespace, up-state); the message says whether that rollback worked.
    """
    src_fd = _netns_fd_of(nl)
    try:
        source = _Place(nl, src_fd, nl.label)
        src_inode = os.fstat(src_fd).st_ino
        operation = f"move {ifname} from {nl.label} to {target.name} as {new_name}"
        link = found if found is not None and found.name == ifname else \
            _link_named(nl, ifname)
        if link is None:
            raise MoveError(operation, errno.ENODEV,
                            detail=f"no interface {ifname} in {nl.label}; nothing was changed")
        dev = DeviceState(name=link.name, index=link.index, kind=link.kind, mac=link.mac,
                          mtu=link.mtu, up=link.up, netns=nl.label, netns_inode=src_inode)
        problem = _preflight(src_inode, dev, target, new_name, check_mounted)
        if problem is not None:
            why, code = problem
            raise MoveError(operation, code,
                            detail=f"{why}; nothing was changed, {ifname} stays in {nl.label}")
        chosen = _resolve(strategy)
        dest = _Place(target.nl, target.fd, target.name, markable=True)
        mover = _Mover(dev, new_name, chosen, [source, dest])
        try:
            try:
                arrived, _changed = mover.go(dest, new_name, dev.up, found=(source, link))
            except BaseException as exc:
                failure = _rollback(mover, source, dev, operation, exc)
                if isinstance(exc, Exception):
                    raise failure from exc
                raise
        finally:
            mover.close()
        return MoveResult(original=dev, target=target.name, target_inode=target.inode,
                          name=arrived.name, index=arrived.index, mac=arrived.mac,
                          mtu=arrived.mtu, up=arrived.up, strategy=chosen)
    finally:
        os.close(src_fd)


def move_back(
    nl: Netlink, target: Namespace, moved: MoveResult, *, strategy: Strategy = "auto",
    rename_before_leaving: bool = False, found: LinkInfo | None = None,
    look_up_by_name: bool = False,
) -> bool:
    """Undo :func:`move_and_rename`: the device back in the namespace of ``nl`` under its
    original name and up-state, as cleanly as it went (no temporary names visible).

    ``nl`` must be a socket in the namespace the device came from. Idempotent: returns
    False when nothing had to change (already back) or the device is gone (its namespace
    died and took a virtual device with it); True when it was brought back. On failure
    the device is returned to ``target`` and :class:`MoveError` says so.

    ``rename_before_leaving``: for a caller taking the device out of ``target`` for good
    (CNI DEL), where ``target``'s view of it no longer matters. Instead of the detour
    through a temporary namespace (two moves), the device is set down and renamed to
    its original name in ``target``, then moved home in one plain move: home still sees
    only its original name, ``target`` sees it renamed, down, as it leaves. When that
    name is taken in ``target`` (a device or an altname), the detour all the same.

    ``found``: the device as the caller has just looked it up in ``target`` (saves
    listing every interface there; ignored unless it matches the device).
    ``look_up_by_name``: check the device at home by name rather than by listing every
    interface there (a host with many interfaces pays ms for each listing); home may
    then announce the device's operstate change as it is looked at (see
    :func:`_link_named`), under its original name.
    """
    dev = moved.original
    src_fd = _netns_fd_of(nl)
    try:
        operation = f"move {moved.name} from {target.name} back to {dev.netns} as {dev.name}"
        if os.fstat(src_fd).st_ino != dev.netns_inode:
            raise MoveError(operation, errno.EINVAL,
                            detail=f"the socket given is in {nl.label}, not in the namespace "
                            f"{dev.name} came from; nothing was changed")
        home = _Place(nl, src_fd, dev.netns)
        places = [home]
        away: _Place | None = None
        if target.fd >= 0:
            away = _Place(target.nl, target.fd, target.name, markable=True)
            places.append(away)
        mover = _Mover(dev, moved.name, _resolve(strategy), places,
                       rename_before_leaving=rename_before_leaving,
                       look_up_by_name=look_up_by_name)
        away_up = False
        try:
            try:
                # seen where it is to leave (the usual case), it is not home: a device is
                # in one namespace at a time, so home need not be listed to find it
                here = None
                if away is not None:
                    here = found if found is not None and mover.is_it(found) \
                        else mover.find_in(away)
                away_up = here is not None and here.up
                _link, changed = mover.go(home, dev.name, dev.up,
                                          found=None if here is None or away is None
                                          else (away, here))
                return changed
            except _NotFound:
                return False
            except BaseException as exc:
                if away is None:
                    raise
                failure = _rollback(mover, away, dev, operation, exc,
                                    name=moved.name, up=away_up)
                if isinstance(exc, Exception):
                    raise failure from exc
                raise
        finally:
            mover.close()
    finally:
        os.close(src_fd)


def _step_words(exc: BaseException, operation: str) -> str:
    """What failed, without repeating ``operation`` when the failing step is the whole
    move (the one-message path)."""
    if not isinstance(exc, KernelError):
        return f"failed: {exc!r}"
    if exc.operation != operation:
        return f"failed at: {exc.message}"
    reason = os.strerror(exc.errno) if exc.errno else "failed"
    rest = exc.message[len(f"{exc.operation}: {reason}"):].strip()
    return rest[1:-1] if rest.startswith("(") else "refused by the kernel"


def _rollback(mover: _Mover, home: _Place, dev: DeviceState, operation: str,
              exc: BaseException, *, name: str | None = None,
              up: bool | None = None) -> MoveError:
    """Put the device back in ``home``; return the MoveError describing both events."""
    name = dev.name if name is None else name
    up = dev.up if up is None else up
    code = exc.errno if isinstance(exc, KernelError | OSError) else None
    step = _step_words(exc, operation)
    try:
        mover.go(home, name, up)
    except Exception as again:  # whatever it was, the caller must hear where it is
        where = mover.where()
        temp_note = ""
        if _TEMP_LABEL in where:
            temp_note = (" (that namespace is released now: a hardware device returns to "
                         "the initial namespace, renamed devN if its name is taken there; "
                         "a virtual one is destroyed)")
        return MoveError(
            operation, code,
            detail=f"{step}; ROLLBACK FAILED ({again or 'device not found'}): the device "
            f"(MAC {dev.mac or 'none'}) is now {where}{temp_note}",
            hint=f"put it back by hand: it belongs in {home.label} as {name}, "
            f"{'up' if up else 'down'}",
        )
    return MoveError(
        operation, code,
        detail=f"{step}; rolled back: {name} is in {home.label} again, "
        f"{'up' if up else 'down'}",
    )
