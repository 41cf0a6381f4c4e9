"""How many calls to a container engine are in flight at once: as many as its throughput
allows, learned from the calls' own latencies (TCP Vegas' rule).

A fixed number is wrong both ways: on a 2-core machine the engine is saturated by 3 or 4
concurrent container starts (more only lengthens each call: measured, 4 to 32 workers give
the same 7 starts/s), while a 32-core machine or a remote engine could take many more.

The rule: ``base`` is the latency of a call that did not queue (the lowest seen, allowed to
creep up slowly, as an engine with hundreds of containers gets slower per call). With
``limit`` calls in flight and a latest latency ``rtt``, about ``limit * (1 - base / rtt)``
of them are queued inside the engine. Fewer than ALPHA queued: the engine has room, one
more call. More than BETA: one fewer. The limit settles where the engine is just
saturated: its throughput, without queues that only make every call slower.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: queued calls below which the limit grows, above which it shrinks
ALPHA = 1.0
BETA = 3.0
#: the first limit: two calls give the latency of an unqueued call on any machine
START = 2
#: how fast ``base`` may creep up per completed call (a relative factor: slow, as a
#: saturated engine never shows an unqueued call again, only a slower one)
DRIFT = 0.0002
#: the most calls in flight when the caller sets no bound
CEILING = 64


class AdaptiveLimit:
    """The number of calls to keep in flight, updated on each completion."""

    def __init__(self, ceiling: int = CEILING, start: int = START) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = min(self.ceiling, max(1, start))
        self.base = float("inf")
        self.peak = self.limit  # the highest limit reached (for reports and tests)
        self._lock = threading.Lock()

    def completed(self, latency: float) -> None:
        with self._lock:
            latency = max(latency, 1e-6)
            self.base = min(latency, self.base * (1 + DRIFT))
            queued = self.limit * (1 - self.base / latency)
            if queued < ALPHA:
                self.limit = min(self.ceiling, self.limit + 1)
            elif queued > BETA:
                self.limit = max(1, self.limit - 1)
            self.peak = max(self.peak, self.limit)


def run_adaptive(items: Sequence[T], fn: Callable[[T], R], limit: AdaptiveLimit,
                 advance: Callable[[], None]) -> list[R]:
    """``fn`` over ``items``, at most ``limit.limit`` at once (read again as each call
    completes), results in the order of ``items``. After the first error no further
    item starts (an engine that fails or hangs is not handed the rest of a lab, one
    timeout after the other); it is raised once every started call has finished."""

    def timed(item: T) -> R:
        began = time.monotonic()
        try:
            return fn(item)
        finally:
            limit.completed(time.monotonic() - began)

    results: dict[int, R] = {}
    error: BaseException | None = None
    pending: dict[Future[R], int] = {}
    todo = iter(enumerate(items))
    with ThreadPoolExecutor(max_workers=min(limit.ceiling, len(items))) as pool:
        while True:
            while error is None and len(pending) < limit.limit and \
                    (nxt := next(todo, None)) is not None:
                pending[pool.submit(timed, nxt[1])] = nxt[0]
            if not pending:
                break
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                index = pending.pop(fut)
                try:
                    results[index] = fut.result()
                except BaseException as exc:  # the started ones still finish
                    error = error or exc
                advance()
    if error is not None:
        raise error
    return [results[i] for i in range(len(items))]
