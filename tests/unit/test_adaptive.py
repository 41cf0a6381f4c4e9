"""The engine-call limit: settles where a saturated engine's throughput is (not a fixed
number), grows to its ceiling where the engine keeps up, and runs every item."""

from __future__ import annotations

import threading
import time

import pytest

from netknit.engine._adaptive import AdaptiveLimit, run_adaptive


def _settle(cores: int, *, calls: int = 300, ceiling: int = 64) -> AdaptiveLimit:
    """An engine of ``cores`` that a call keeps busy 0.2 s: with more calls in flight than
    cores, each waits its turn (latency grows, throughput does not)."""
    limit = AdaptiveLimit(ceiling)
    for _ in range(calls):
        limit.completed(0.2 * max(1.0, limit.limit / cores))
    return limit


@pytest.mark.parametrize("cores", [1, 2, 4, 16, 40])
def test_limit_settles_just_above_a_saturated_engines_cores(cores: int) -> None:
    limit = _settle(cores)
    assert cores + 1 <= limit.limit <= cores + 4


def test_limit_grows_to_the_ceiling_when_the_engine_keeps_up() -> None:
    limit = AdaptiveLimit(ceiling=24)
    for _ in range(100):
        limit.completed(0.05)
    assert limit.limit == 24
    assert _settle(16, ceiling=6).limit == 6  # a given bound is never passed


def test_limit_follows_an_engine_that_gets_slower() -> None:
    limit = _settle(16)
    for _ in range(300):  # another load takes 14 of its cores
        limit.completed(0.2 * max(1.0, limit.limit / 2) * 1.5)
    assert limit.limit <= 2 + 4


def test_run_adaptive_keeps_order_bounds_concurrency_and_stops_at_an_error() -> None:
    limit = AdaptiveLimit(ceiling=3)
    lock = threading.Lock()
    running = [0, 0]  # now, most at once
    done: list[int] = []

    def work(i: int) -> int:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.005)
        with lock:
            running[0] -= 1
            done.append(i)
        if i in (3, 7):
            raise ValueError(f"item {i}")
        return i * i

    with pytest.raises(ValueError, match=r"item 3"):
        run_adaptive(list(range(20)), work, limit, lambda: None)
    # the calls in flight finished; none started after the error
    assert 3 in done and len(done) < 20 and running[0] == 0
    assert running[1] <= 3
    assert run_adaptive([1, 2, 3], lambda i: i * 10, AdaptiveLimit(), lambda: None) == \
        [10, 20, 30]
