"""The executor's thread pool (``run_threads``), its one-at-a-time twin (``run_in_turn``)
and the indented JSON writer: what the deploy's speed-ups replaced must behave exactly as
before, and a deploy must not depend on how many workers it was given."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from enum import IntEnum, StrEnum

import pytest

from netknit._json import dumps_indented
from netknit.engine._threads import run_in_turn, run_threads


def test_results_in_item_order_on_many_threads() -> None:
    seen: set[str] = set()

    def work(i: int) -> int:
        time.sleep(0.001 * (i % 3))  # finish out of order
        seen.add(threading.current_thread().name)
        return i * i

    ticks: list[None] = []
    assert run_threads(list(range(40)), work, 4, lambda: ticks.append(None)) == [
        i * i for i in range(40)]
    assert len(ticks) == 40
    assert 1 < len(seen) <= 4


@pytest.mark.parametrize("runner", ["threads", "in turn"])
def test_every_item_runs_and_the_first_error_in_item_order_is_raised(runner: str) -> None:
    ran: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> int:
        with lock:
            ran.append(i)
        if i in (7, 3):
            time.sleep(0.01 if i == 3 else 0)  # 7 fails first in time, 3 first in order
            raise ValueError(f"item {i}")
        return i

    ticks: list[None] = []
    with pytest.raises(ValueError, match="item 3"):
        if runner == "threads":
            run_threads(list(range(12)), work, 3, lambda: ticks.append(None))
        else:
            run_in_turn(list(range(12)), work, lambda: ticks.append(None))
    assert sorted(ran) == list(range(12))  # a failure stops nothing: what runs is recorded
    assert len(ticks) == 12  # the progress bar counts the failed items too


def test_in_turn_runs_in_this_thread_in_order() -> None:
    threads: set[str] = set()

    def work(i: int) -> int:
        threads.add(threading.current_thread().name)
        return -i

    assert run_in_turn([3, 1, 2], work, lambda: None) == [-3, -1, -2]
    assert threads == {threading.current_thread().name}


def test_in_turn_an_interrupt_ends_the_loop_at_its_item() -> None:
    ran: list[int] = []

    def work(i: int) -> None:
        ran.append(i)
        if i == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_in_turn(list(range(6)), work, lambda: None)
    assert ran == [0, 1, 2]


def test_an_interrupt_starts_nothing_more_and_waits_for_what_runs() -> None:
    started: list[int] = []
    finished: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        with lock:
            started.append(i)
        if i == 0:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the main thread waits
        time.sleep(0.05)
        with lock:
            finished.append(i)

    with pytest.raises(KeyboardInterrupt):
        run_threads(list(range(50)), work, 2, lambda: None)
    assert sorted(started) == sorted(finished)  # nothing left running
    assert len(started) < 50


class _Word(StrEnum):
    A = "a"


class _Number(IntEnum):
    TWO = 2


@pytest.mark.parametrize("value", [
    {}, [], (), "text", 0, -7, 10**30, 1.5, -0.0, float("nan"), float("inf"), -float("inf"),
    True, False, None,
    {"a": [], "b": {}, "c": [[], {}, [1, [2, {"d": None}]]], "é\n\"\\\u2028": "ü\x00"},
    {"nodes": {"n1": {"interfaces": [{"name": "e1", "mtu": 9500, "up": True}]}}},
    [(1, 2), {"t": (3,)}],
    {"enum": _Word.A, "int": _Number.TWO},  # subclasses: the standard library's output
    {_Word.A: 1}, {1: "int key"}, {None: 1, True: 2},  # keys json.dumps converts
])
def test_dumps_indented_is_json_dumps(value: object) -> None:
    for indent in (2, 4):
        assert dumps_indented(value, indent) == json.dumps(value, indent=indent)


def test_dumps_indented_raises_what_json_dumps_raises() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps_indented({"a": object()})
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps_indented(loop)
