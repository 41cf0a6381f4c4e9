"""Watch: repair drift as it happens.

Listens to netlink link and address events in the host and in every node namespace
(a socket per namespace, bound to the multicast groups), coalesces a burst of events
into one reconcile, and re-checks on a timer as well: deleting a namespace sends no event
in the namespaces that remain, unless a link to them dies with it. A failed repair is
retried with backoff and reported; a single failure never stops the watcher.
"""

from __future__ import annotations

import contextlib
import logging
import select
import signal
import socket
import threading
import time
from collections.abc import Callable

from .. import kinds
from .._errors import NetknitError
from ..kernel import entered
from ..kernel import netns as kernel_netns
from ..kernel._nl import NETLINK_ROUTE
from ..runtimes import Runtime, Runtimes
from ..state import LabDir
from ..topology import Topology
from ._reconcile import ReconcileResult, reconcile

log = logging.getLogger("netknit.watch")

#: rtnetlink multicast groups: links, IPv4 and IPv6 addresses
_GROUPS = 0x1 | 0x10 | 0x100
#: events closer together than this are handled by one reconcile
COALESCE = 0.05
#: re-check this often even without events
PERIOD = 2.0
#: longest pause between failed repairs
MAX_BACKOFF = 5.0


def _listener(ns_fd: int | None) -> socket.socket:
    def make() -> socket.socket:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                             NETLINK_ROUTE)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((0, _GROUPS))
        sock.setblocking(False)
        return sock

    if ns_fd is None:
        return make()
    with entered(ns_fd):
        return make()


def _runtimes_of(lab_dir: LabDir) -> list[Runtime]:
    """The runtimes the deployed lab's nodes are on."""
    try:
        names = lab_dir.read_state().runtimes
    except (OSError, ValueError):
        return []
    known = Runtimes(lab_dir.path)
    return [known[name] for name in sorted(names)]


class Watcher:
    def __init__(self, topo: Topology, lab_dir: LabDir,
                 on_result: Callable[[ReconcileResult], None] | None = None) -> None:
        self.topo = topo
        self.lab_dir = lab_dir
        self.on_result = on_result or (lambda _r: None)
        self.stop = threading.Event()
        self.sockets: dict[str | None, socket.socket] = {}  # namespace (None: host)
        self.inodes: dict[str, int | None] = {}
        self._in_sync = False
        # runtime events arrive on threads; they wake the select loop through this pair
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)  # a full pipe already means "check now"
        self.sockets["runtime events"] = self._wake_r
        for runtime in _runtimes_of(lab_dir):
            threading.Thread(target=self._runtime_events, args=(runtime,), daemon=True,
                             name=f"netknit-{runtime.name}-events").start()

    def _runtime_events(self, runtime: Runtime) -> None:
        """A runtime's events for this lab (a holder started: a new namespace to wire; a
        workload died: to start again). Its engine may go away (restarted): reconnect,
        and ask for a repair at once, as anything may have happened meanwhile."""
        backoff = 0.2
        while not self.stop.is_set():
            try:
                events = runtime.events(self.topo.name)
                if events is None:
                    return
                for _event in events:
                    if self.stop.is_set():
                        return
                    self.wake()
                    backoff = 0.2
            except Exception as exc:  # engine restarts, API errors: keep listening
                log.warning("%s events: %s; retrying in %.1fs", runtime.name, exc, backoff)
            # a stream that ends (the engine stopped) is reconnected too
            self.stop.wait(backoff)
            backoff = min(backoff * 2, 2.0)

    def wake(self) -> None:
        """Make the loop check now (from another thread or a signal handler)."""
        with contextlib.suppress(OSError):  # closed: the watcher is stopping
            self._wake_w.send(b"!")

    def _subscribe(self) -> None:
        """A listener in the host and in every node namespace that exists now (a
        namespace recreated by a repair is a new namespace: listen to the new one)."""
        if None not in self.sockets:
            self.sockets[None] = _listener(None)
        for node in self.topo.nodes.values():
            if not kinds.get(node.kind).own_namespace:
                continue
            name = self.topo.full_name(node.name)
            inode = kernel_netns.inode_of(name)
            if inode is None or self.inodes.get(name) == inode:
                continue
            old = self.sockets.pop(name, None)
            if old is not None:
                old.close()
            ns = kernel_netns.open_existing(name)
            try:
                self.sockets[name] = _listener(ns.fd)
            finally:
                ns.close()
            self.inodes[name] = inode

    def _drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for events; True if any came (all are read)."""
        ready, _, _ = select.select(list(self.sockets.values()), [], [], timeout)
        for sock in ready:
            while True:
                try:
                    sock.recv(1 << 20)
                except BlockingIOError:
                    break
                except OSError:  # ENOBUFS: we missed events; reconcile looks at all anyway
                    break
        return bool(ready)

    def _repair(self) -> ReconcileResult:
        result = reconcile(self.topo, self.lab_dir)
        for d in result.drifts:
            log.info("%s: %s -> %s (%s)", d.node, d.found, d.action, d.status)
        if result.drifts:
            self._in_sync = False
        elif not self._in_sync:  # said once per heal, not every period
            log.info("lab %s in sync", self.topo.name)
            self._in_sync = True
        self.on_result(result)
        return result

    def run(self, *, once: bool = False) -> int:
        """Watch until stopped (SIGINT/SIGTERM). ``once``: repair until in sync, exit."""
        backoff = 0.0
        next_check = 0.0
        while not self.stop.is_set():
            try:
                self._subscribe()
                if time.monotonic() >= next_check or backoff:
                    result = self._repair()
                    next_check = time.monotonic() + PERIOD
                    if result.failed:
                        backoff = min(max(backoff * 2, 0.2), MAX_BACKOFF)
                        log.warning("repair incomplete, retrying in %.1fs", backoff)
                        self._drain(backoff)
                        continue
                    backoff = 0.0
                    acted = [d for d in result.drifts if d.status != "waiting"]
                    if once and not result.drifts:
                        return 0
                    if acted:
                        continue  # check again at once: repairs settle in one more pass
                if self._drain(max(0.0, next_check - time.monotonic())):
                    # let a burst (a node with 50 links going away) arrive, then one repair
                    while self._drain(COALESCE):
                        pass
                    next_check = 0.0
            except Exception as exc:  # a runtime engine away (restarting), ...: go on
                backoff = min(max(backoff * 2, 0.2), MAX_BACKOFF)
                log.warning("%s; retrying in %.1fs",
                            exc.message if isinstance(exc, NetknitError) else exc, backoff)
                self._drain(backoff)  # events (the engine back) cut the pause short
        return 0

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()
        self._wake_w.close()


def watch(topo: Topology, lab_dir: LabDir, *, once: bool = False) -> int:
    """Run a watcher in the foreground; SIGINT/SIGTERM stop it cleanly."""
    watcher = Watcher(topo, lab_dir)

    def stop(_signum: int, _frame: object) -> None:
        watcher.stop.set()
        watcher.wake()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        log.info("watching lab %s (%d nodes)", topo.name, len(topo.nodes))
        return watcher.run(once=once)
    finally:
        watcher.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("stopped")
