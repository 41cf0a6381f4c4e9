"""The race containerlab users hit: an entrypoint that touches its lab interfaces at once,
while its peer starts late (``startup-delay: 3``, containerlab's stages-race scenario).

netknit's default strategy must win 20 out of 20; ``start-strategy: none`` (containerlab's
start-then-wire) shows the failure, and the test records how often.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import netknit

from .conftest import IMAGE, DockerLab

RACE = """
name: {name}
topology:
  defaults: {{kind: linux, image: "{image}"}}
  nodes:
    a:
      {strategy}
      entrypoint: /bin/sh
      cmd: >-
        -c "if ip link show eth1 && ip link show uplink0; then echo RACE-OK; sleep 3600;
        else echo RACE-FAIL; exit 1; fi"
    b: {{startup-delay: 3, cmd: "sleep 3600"}}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
    - endpoints: ["a:uplink0", "b:eth2"]
"""
RUNS = 20


def _one(workdir: Path, strategy: str, api: Any) -> bool:
    """Deploy one race lab, report whether a's entrypoint saw both interfaces, destroy."""
    name = f"r{secrets.token_hex(4)}"
    path = workdir / name / "lab.clab.yml"
    path.parent.mkdir()
    line = f"start-strategy: {strategy}" if strategy else ""
    path.write_text(RACE.format(name=name, image=IMAGE, strategy=line))
    topo = netknit.load(path)
    try:
        try:
            netknit.deploy(topo)
        except netknit.NetknitError:
            return False  # a's container died before its links existed: the race lost
        for _ in range(100):  # the entrypoint's first lines, written at once
            logs = bytes(api.logs(f"clab-{name}-a")).decode()
            if "RACE-" in logs:
                break
            __import__("time").sleep(0.05)
        return "RACE-OK" in logs and "RACE-FAIL" not in logs
    finally:
        netknit.destroy(topo, cleanup=True)
        assert api.containers(all=True, filters={"label": f"containerlab={name}"}) == []


def _runs(dlab: DockerLab, strategy: str) -> int:
    # five labs at a time: each waits 3 s for its late peer
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda _: _one(dlab.dir, strategy, dlab.api), range(RUNS)))
    return sum(results)


def test_default_strategy_wins_the_race_every_time(dlab: DockerLab) -> None:
    passed = _runs(dlab, "")
    print(f"\nrace, default (sandbox) strategy: {passed}/{RUNS} passed")
    assert passed == RUNS


def test_gate_strategy_wins_the_race_too(dlab: DockerLab) -> None:
    passed = _runs(dlab, "gate")
    print(f"\nrace, gate strategy: {passed}/{RUNS} passed")
    assert passed == RUNS


def test_start_strategy_none_shows_containerlabs_race(dlab: DockerLab) -> None:
    passed = _runs(dlab, "none")
    print(f"\nrace, start-strategy none (containerlab's order): {passed}/{RUNS} passed, "
          f"{RUNS - passed} failed with a missing interface")
    assert passed < RUNS  # start-then-wire loses when the peer is late
