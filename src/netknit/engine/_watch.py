"""Watch: repair drift as it happens.

Listens to netlink link and address events in the host and in every node namespace
(a socket per namespace, bound to the multicast groups), coalesces a burst of events
into one reconcile, and re-checks on a timer as well: deleting a namespace sends no event
in the namespaces that remain, unless a link to them dies with it. A failed repair is
retried with backoff and reported; a single failure never stops the watcher.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable

from .._errors import NetknitError
from ..state import LabDir
from ..topology import Topology
from ._reconcile import ReconcileResult, reconcile
from ._repairlog import watching
from ._sources import LabSources

log = logging.getLogger("netknit.watch")

#: events closer together than this are handled by one reconcile
COALESCE = 0.05
#: re-check this often even without events
PERIOD = 2.0
#: longest pause between failed repairs
MAX_BACKOFF = 5.0


class Watcher:
    def __init__(self, topo: Topology, lab_dir: LabDir,
                 on_result: Callable[[ReconcileResult], None] | None = None) -> None:
        self.topo = topo
        self.lab_dir = lab_dir
        self.on_result = on_result or (lambda _r: None)
        # the same listeners and runtime streams `netknit events` reports from
        self.sources = LabSources(topo.name, lab_dir)
        self.stop = self.sources.stop
        self._in_sync = False

    def wake(self) -> None:
        """Make the loop check now (from another thread or a signal handler)."""
        self.sources.wake()

    def _drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for events; True if any came (all are read)."""
        return bool(self.sources.wait(timeout))

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
                due = time.monotonic() >= next_check
                # a namespace recreated by a repair is a new one: listen to the new one
                self.sources.refresh(deep=due)
                if due or backoff:
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
                    self.sources.settle(COALESCE)
                    next_check = 0.0
            except Exception as exc:  # a runtime engine away (restarting), ...: go on
                backoff = min(max(backoff * 2, 0.2), MAX_BACKOFF)
                log.warning("%s; retrying in %.1fs",
                            exc.message if isinstance(exc, NetknitError) else exc, backoff)
                self._drain(backoff)  # events (the engine back) cut the pause short
        return 0

    def close(self) -> None:
        self.sources.close()


def watch(topo: Topology, lab_dir: LabDir, *, once: bool = False) -> int:
    """Run a watcher in the foreground; SIGINT/SIGTERM stop it cleanly."""
    watcher = Watcher(topo, lab_dir)

    def stop(_signum: int, _frame: object) -> None:
        watcher.stop.set()
        watcher.wake()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with watching(lab_dir):  # `netknit events` leaves finding drift to us meanwhile
            log.info("watching lab %s (%d nodes)", topo.name, len(topo.nodes))
            return watcher.run(once=once)
    finally:
        watcher.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("stopped")
