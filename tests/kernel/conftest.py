"""Fixtures for kernel tests: unique names, scratch namespaces that always go away, and a
netlink link-event monitor that can listen inside any namespace.

Everything a test creates lives in namespaces named ``nkt-<random6>-<suffix>``; the host
namespace is only ever *listened to* (and used as the origin of requests whose devices
are born elsewhere), never given a device.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from pyroute2.netlink.rtnl import RTM_DELLINK, RTM_NEWLINK
from pyroute2.netlink.rtnl.marshal import MarshalRtnl

from netknit.kernel import Namespace, Netlink, entered, netns

RTMGRP_LINK = 0x1
#: ifi_flags: the device is administratively up
IFF_UP = 0x1
_created: list[str] = []  # every namespace name made in this session (leak check)


@pytest.fixture(scope="session", autouse=True)
def _no_leaked_namespaces() -> Iterator[None]:
    yield
    leaked = [name for name in _created if netns.exists(name)]
    assert not leaked, f"kernel tests leaked namespaces: {leaked}"


@pytest.fixture
def tag() -> str:
    """Six random hex digits, unique to this test (use in every name it makes)."""
    return secrets.token_hex(3)


NsFactory = Callable[[str], Namespace]


@pytest.fixture
def make_ns(tag: str) -> Iterator[NsFactory]:
    """``make_ns("a")`` → a fresh namespace ``nkt-<tag>-a``; all removed at teardown,
    whatever happened (interfaces inside die with them)."""
    made: list[Namespace] = []

    def factory(suffix: str) -> Namespace:
        name = f"nkt-{tag}-{suffix}"
        _created.append(name)
        ns = netns.create(name)
        made.append(ns)
        return ns

    yield factory
    errors = []
    for ns in reversed(made):
        try:
            ns.close()
            netns.delete(ns.name, inode=ns.inode)
        except Exception as exc:  # keep cleaning the others
            errors.append(f"{ns.name}: {exc}")
    assert not errors, f"namespace cleanup failed: {errors}"


@pytest.fixture
def host_nl() -> Iterator[Netlink]:
    """A socket in the test process's own (host) namespace — for requests whose devices
    are created inside scratch namespaces, never for devices of the host."""
    with Netlink.here("host") as nl:
        yield nl


@dataclass(frozen=True, slots=True)
class LinkEvent:
    event: str  # "new" | "del"
    name: str
    index: int
    up: bool  # IFF_UP as announced


class LinkMonitor:
    """RTMGRP_LINK listener in one namespace.

    The kernel queues notifications on listeners synchronously while it handles a
    request, before it acks, so :meth:`drain` after a call returns sees every event that
    call caused.
    """

    def __init__(self, ns_fd: int | None, label: str) -> None:
        self.label = label
        if ns_fd is None:
            self._sock = self._open()
        else:
            with entered(ns_fd):  # a socket belongs to the namespace it is made in
                self._sock = self._open()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self._sock.bind((0, RTMGRP_LINK))
        self._sock.setblocking(False)
        self._marshal = MarshalRtnl()
        self.events: list[LinkEvent] = []

    @staticmethod
    def _open() -> socket.socket:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)

    def drain(self) -> list[LinkEvent]:
        """Read everything queued so far; append to and return ``events``.

        An overflowed listener (ENOBUFS) would make "never saw X" meaningless: fail."""
        while True:
            try:
                data = self._sock.recv(1 << 20)
            except BlockingIOError:
                return self.events
            for msg in self._marshal.parse(data):
                mtype = msg["header"]["type"]
                if mtype not in (RTM_NEWLINK, RTM_DELLINK):
                    continue
                self.events.append(LinkEvent("new" if mtype == RTM_NEWLINK else "del",
                                             msg.get_attr("IFLA_IFNAME") or "", msg["index"],
                                             bool(msg["flags"] & IFF_UP)))

    def names(self) -> set[str]:
        return {event.name for event in self.drain()}

    def close(self) -> None:
        self._sock.close()


MonitorFactory = Callable[[Namespace | None], LinkMonitor]


@pytest.fixture
def monitor() -> Iterator[MonitorFactory]:
    """``monitor(ns)`` → a LinkMonitor inside ``ns`` (``None``: the host namespace)."""
    opened: list[LinkMonitor] = []

    def factory(ns: Namespace | None) -> LinkMonitor:
        mon = LinkMonitor(None if ns is None else ns.fd, "host" if ns is None else ns.name)
        opened.append(mon)
        return mon

    yield factory
    for mon in opened:
        mon.close()
