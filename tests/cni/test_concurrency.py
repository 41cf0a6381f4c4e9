"""20 parallel ADDs (different containers), then 20 parallel DELs: nothing left behind."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .conftest import CniCall, link_names

pytestmark = pytest.mark.root


def test_parallel_add_then_del(cni: CniCall, scratch: Any, tag: str) -> None:
    jobs = [(scratch.nic(f"d{i}"), scratch.netns(f"c{i}"), f"{tag}-{i}") for i in range(20)]

    def run(command: str, job: tuple[str, str, str]) -> tuple[int, Any]:
        dev, netns, cid = job
        conf = {"cniVersion": "1.0.0", "name": "n", "type": "netknit-host-device",
                "device": dev}
        return cni(command, conf, netns=netns, ifname="net1", cid=cid)

    with ThreadPoolExecutor(20) as pool:
        added = list(pool.map(lambda j: run("ADD", j), jobs))
    assert all(code == 0 for code, _ in added), added
    host = link_names()
    for dev, netns, _ in jobs:
        assert dev not in host and "net1" in link_names(netns)
    with ThreadPoolExecutor(20) as pool:
        deleted = list(pool.map(lambda j: run("DEL", j), jobs))
    assert all(code == 0 for code, _ in deleted), deleted
    host = link_names()
    for dev, netns, _ in jobs:
        assert dev in host and not host[dev].get("ifalias")
        assert set(link_names(netns)) == {"lo"}
    assert not [n for n in host if n.startswith(tag) and not n.startswith(
        tuple(j[0] for j in jobs))]
