"""The event sources of a deployed lab, shared by ``watch`` (which repairs) and ``events``
(which reports): a netlink listener in the host and in every node's namespace, and each
runtime's event stream (:meth:`Runtime.events`), all waited on by one ``select``.

Namespaces are found through the runtime interface (:meth:`Runtime.open`), so a
container's namespace is listened to as a namespace node's is. A namespace mounted under
/run/netns is checked for replacement on every pass (a ``stat``); the others (a
container's) are looked up again on a runtime event and on :meth:`LabSources.refresh`
with ``deep`` (a runtime API call per node), which the callers do on their timer.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import field

from .._dataclass import dataclass
from .._errors import NetknitError
from ..kernel import (
    Address,
    AliasedLink,
    Namespace,
    Netlink,
    addresses,
    entered,
    links_with_alias,
)
from ..kernel import netns as kernel_netns
from ..kernel._nl import NETLINK_ROUTE
from ..runtimes import Runtime, RuntimeEvent, Runtimes
from ..state import LabDir, NodeState

log = logging.getLogger("netknit.watch")

#: rtnetlink multicast groups: links, IPv4 and IPv6 addresses
GROUPS = 0x1 | 0x10 | 0x100
#: the host namespace's key among the listeners
HOST = "host"
_WAKE = "wake"


def listener(ns_fd: int | None) -> socket.socket:
    """A non-blocking netlink socket bound to the link and address groups, in the
    namespace behind ``ns_fd`` (None: this one)."""
    def make() -> socket.socket:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                             NETLINK_ROUTE)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((0, GROUPS))
        sock.setblocking(False)
        return sock

    if ns_fd is None:
        return make()
    with entered(ns_fd):
        return make()


@dataclass(frozen=True, slots=True)
class NsChange:
    """A node's namespace appeared (``old`` 0), was replaced, or went (``new`` 0); the
    host's (``node`` "host", both 0) when it is first listened to.
    With ``keep``: what the new one held once listened to (its interfaces and their
    addresses), so that nothing made before the listener is missed."""

    node: str
    old: int
    new: int
    links: tuple[AliasedLink, ...] = ()
    addresses: Mapping[int, Sequence[Address]] = field(default_factory=dict)


@dataclass
class Batch:
    """What one wait brought: raw netlink messages by node ("host" for the host),
    runtime events, and namespaces that changed."""

    messages: list[tuple[str, bytes]] = field(default_factory=list)
    runtime: list[RuntimeEvent] = field(default_factory=list)
    changes: list[NsChange] = field(default_factory=list)
    woken: bool = False
    overrun: bool = False  # a socket overflowed (ENOBUFS): events were lost

    def __bool__(self) -> bool:
        return bool(self.messages or self.runtime or self.changes or self.woken
                    or self.overrun)


class LabSources:
    """Listeners in the host and every node namespace of a lab, plus its runtimes'
    event streams (on threads that wake the ``select`` through a socket pair).

    ``keep``: keep the messages (``events`` parses them); without it they are only read
    away (``watch`` looks at the whole lab anyway)."""

    def __init__(self, lab: str, lab_dir: LabDir, *, keep: bool = False) -> None:
        self.lab = lab
        self.lab_dir = lab_dir
        self.keep = keep
        self.stop = threading.Event()
        self.runtimes = Runtimes(lab_dir.path)
        self.sockets: dict[str, socket.socket] = {}  # node name (or "host") -> listener
        self.inodes: dict[str, int] = {}  # node name -> namespace listened to
        self.named: set[str] = set()  # nodes whose namespace is mounted under /run/netns
        self.nodes: dict[str, NodeState] = {}
        self.pending: list[NsChange] = []
        self._events: queue.SimpleQueue[RuntimeEvent] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)  # a full pipe already means "check now"
        self.sockets[_WAKE] = self._wake_r
        self._read_state()
        for name in sorted({n.runtime for n in self.nodes.values()}):
            runtime = self.runtimes[name]
            threading.Thread(target=self._runtime_events, args=(runtime,), daemon=True,
                             name=f"netknit-{runtime.name}-events").start()

    def _read_state(self) -> None:
        # not deployed (yet, or any more): keep what was known
        with contextlib.suppress(OSError, ValueError):
            self.nodes = dict(self.lab_dir.read_state().nodes)

    # -- runtime events ----------------------------------------------------------------

    def _runtime_events(self, runtime: Runtime) -> None:
        """A runtime's events for this lab. Its engine may go away (restarted):
        reconnect; the ``connected`` event that follows says anything may have happened."""
        backoff = 0.2
        while not self.stop.is_set():
            try:
                events = runtime.events(self.lab)
                if events is None:
                    return
                for event in events:
                    if self.stop.is_set():
                        return
                    self._events.put(event)
                    self.wake()
                    backoff = 0.2
            except Exception as exc:  # engine restarts, API errors: keep listening
                log.warning("%s events: %s; retrying in %.1fs", runtime.name, exc, backoff)
            # a stream that ends (the engine stopped) is reconnected too
            self.stop.wait(backoff)
            backoff = min(backoff * 2, 2.0)

    def wake(self) -> None:
        """Make the wait return now (from another thread or a signal handler)."""
        with contextlib.suppress(OSError):  # closed: stopping
            self._wake_w.send(b"!")

    # -- namespaces ----------------------------------------------------------------------

    def refresh(self, *, deep: bool = False) -> list[NsChange]:
        """Listen in the host and in every node namespace there is now (a namespace
        replaced by a new one is listened to anew). ``deep``: also ask the runtimes for
        the namespaces not mounted under /run/netns, and read the desired state again.
        The changes found are also kept for the next :meth:`wait`'s batch."""
        changes = []
        if HOST not in self.sockets:
            self.sockets[HOST] = listener(None)
            if self.keep:  # what the host holds, as for a node's namespace
                with Netlink.here() as host:
                    changes.append(NsChange(HOST, 0, 0, tuple(links_with_alias(host)),
                                            addresses(host)))
        if deep:
            self._read_state()
        for node in self.nodes.values():
            if node.netns is None:
                continue
            inode = kernel_netns.inode_of(node.netns)
            known = self.inodes.get(node.name, 0)
            if inode is not None:
                if inode != known:
                    changes.append(self._listen(node, known))
                continue
            if node.name in self.named:  # its mount went: the namespace is gone
                changes.append(self._forget(node.name, known))
            elif deep:
                change = self._look(node, known)
                if change is not None:
                    changes.append(change)
        changes = [c for c in changes if c.old != c.new or c.node == HOST]
        self.pending += changes
        return changes

    def _look(self, node: NodeState, known: int) -> NsChange | None:
        """A namespace the runtime knows (a container's), if it changed."""
        try:
            ns = self.runtimes[node.runtime].open(node, workload=True)
        except Exception as exc:  # an engine away: the next pass looks again
            log.debug("cannot open the namespace of %s: %s", node.name, exc)
            return None
        if ns is None:
            return self._forget(node.name, known) if known else None
        if ns.inode == known:
            ns.close()
            return None
        return self._subscribe(node.name, ns, known, named=False)

    def _listen(self, node: NodeState, known: int) -> NsChange:
        """A namespace mounted under /run/netns, replaced (or new)."""
        try:
            ns = kernel_netns.open_existing(str(node.netns))
        except NetknitError:  # gone between the stat and the open
            return self._forget(node.name, known)
        return self._subscribe(node.name, ns, known, named=True)

    def _subscribe(self, name: str, ns: Namespace, known: int, *, named: bool) -> NsChange:
        old = self.sockets.pop(name, None)
        if old is not None:
            old.close()
        try:
            self.sockets[name] = listener(ns.fd)
        except OSError:
            ns.close()
            return self._forget(name, known)
        self.inodes[name] = ns.inode
        if named:
            self.named.add(name)
        else:
            self.named.discard(name)
        try:
            if not self.keep:
                return NsChange(name, known, ns.inode)
            try:  # after the listener is bound: what changes later is heard too
                return NsChange(name, known, ns.inode, tuple(links_with_alias(ns.nl)),
                                addresses(ns.nl))
            except NetknitError:  # gone meanwhile: its end is heard next
                return NsChange(name, known, ns.inode)
        finally:
            ns.close()

    def _forget(self, name: str, known: int) -> NsChange:
        old = self.sockets.pop(name, None)
        if old is not None:
            old.close()
        self.inodes.pop(name, None)
        self.named.discard(name)
        return NsChange(name, known, 0)

    # -- waiting ------------------------------------------------------------------------

    def wait(self, timeout: float) -> Batch:
        """Wait up to ``timeout`` for events; everything that arrived is read."""
        batch = Batch(changes=self.pending)
        self.pending = []
        if batch.changes:
            timeout = 0.0
        by_socket = {id(sock): name for name, sock in self.sockets.items()}
        ready, _, _ = select.select(list(self.sockets.values()), [], [], max(0.0, timeout))
        for sock in ready:
            name = by_socket[id(sock)]
            while True:
                try:
                    data = sock.recv(1 << 20)
                except BlockingIOError:
                    break
                except OSError:  # ENOBUFS: events were lost; a full look finds the rest
                    batch.overrun = True
                    break
                if name == _WAKE:
                    batch.woken = True
                elif self.keep:
                    batch.messages.append((name, data))
                else:
                    batch.messages.append((name, b""))
        while True:
            try:
                batch.runtime.append(self._events.get_nowait())
            except queue.Empty:
                break
        return batch

    def settle(self, window: float) -> Batch:
        """Wait for a burst to end (nothing more for ``window`` seconds), all of it in
        one batch (a node with 50 links going away: one repair)."""
        batch = Batch()
        while True:
            more = self.wait(window)
            if not more:
                return batch
            batch.messages += more.messages
            batch.runtime += more.runtime
            batch.changes += more.changes
            batch.woken |= more.woken
            batch.overrun |= more.overrun

    def close(self) -> None:
        self.stop.set()
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()
        self._wake_w.close()
