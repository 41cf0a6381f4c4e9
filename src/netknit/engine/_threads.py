"""A bounded set of threads over a list of items: what deploy, apply and destroy run
their per-object work on (a module of its own: destroy needs nothing else of the
executor); and the same contract in the calling thread, for work run one at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_threads(items: Sequence[T], fn: Callable[[T], R], workers: int,
                advance: Callable[[], None]) -> list[R]:
    """``fn`` over every item on ``workers`` threads; the results in item order. Every
    item runs, also after another failed, and the first error in item order is raised
    once all have finished; ``advance`` is called as each finishes. An interrupt
    (Ctrl-C) starts no more items, waits for those running (what they make is journaled
    and must be recorded), then is raised.

    What ``concurrent.futures.ThreadPoolExecutor`` would do here, without importing it
    (it imports ``logging``: ~6 ms of every deploy's start).
    """
    import threading

    results: list[Any] = [None] * len(items)
    errors: list[BaseException | None] = [None] * len(items)
    todo = iter(range(len(items)))
    # counted by the workers, under the condition's lock: an interrupt of the waiting
    # thread can never lose a count
    changed = threading.Condition()
    stop = False
    taken = done = 0

    def work() -> None:
        nonlocal taken, done
        while True:
            with changed:
                index = None if stop else next(todo, None)
                if index is None:
                    return
                taken += 1
            try:
                results[index] = fn(items[index])
            except BaseException as exc:  # the caller raises it once all have finished
                errors[index] = exc
            with changed:
                done += 1
                changed.notify()

    pool = [threading.Thread(target=work, name=f"netknit-worker-{i}", daemon=True)
            for i in range(workers)]
    interrupted: BaseException | None = None
    try:
        for thread in pool:
            thread.start()
        reported = 0
        while reported < len(items):
            with changed:
                while done == reported:
                    changed.wait()
                now = done
            for _ in range(now - reported):
                advance()
            reported = now
    except BaseException as exc:
        interrupted = exc
    if interrupted is not None:
        while True:
            try:
                with changed:
                    stop = True
                    while done < taken:
                        changed.wait()
                break
            except BaseException as exc:  # another interrupt: still wait for the work
                interrupted = interrupted or exc
        raise interrupted
    for thread in pool:  # all items are done: they are leaving (a clean exit needs none)
        thread.join()
    first = next((e for e in errors if e is not None), None)
    if first is not None:
        raise first
    return results


def run_in_turn(items: Sequence[T], fn: Callable[[T], R],
                advance: Callable[[], None]) -> list[R]:
    """``fn`` over every item in this thread, one after another, with the contract of
    :func:`run_threads`: every item runs, also after another failed, and the first error
    is raised once all have run; ``advance`` is called after each. So what a deploy makes
    and records does not depend on how many workers it was given. An interrupt (Ctrl-C)
    lands in the item running and ends the loop there."""
    results: list[R] = []
    first: Exception | None = None
    for item in items:
        try:
            results.append(fn(item))
        except Exception as exc:  # the others still run: what they make is recorded
            first = first or exc
        advance()
    if first is not None:
        raise first
    return results
