#!/usr/bin/env python3
"""Docker lab benchmark: 20 Docker nodes in a ring, netknit vs the floor Docker imposes.

    sudo python3 bench/docker_lab.py [--nodes 20] [--repeat 5] [--max-workers 8]
                                     [--strategies sandbox,gate] [--format table|json]

The lab: N ``kind: linux`` nodes (a local busybox image, ``sleep``), node i linked to
node i+1 and the last to the first (N links), an IPv4 /30 on both ends of each link.
Measured in the same run, each the median of ``--repeat``:

* floor   -- the same N containers created and started with the Docker SDK
             (``network_mode: none``, same image and command), no links: what any tool
             pays Docker. Same parallelism as netknit (``--max-workers`` threads).
* netknit -- ``netknit.deploy`` (the Python API, in this process, so that interpreter
             start-up is not counted) for each start strategy: ``sandbox`` starts one
             extra container per node, ``gate`` starts the workload behind its wrapper.

After each netknit deploy the ring is checked (node 1 pings node 2 over eth1); everything
is removed after each run (netknit.destroy / the SDK). Targets: sandbox ≤ 2.0× the floor,
gate ≤ 1.2×. Exit status 0 if every run passed its check and the targets were met.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

IMAGE = "netknit-bench/busybox:latest"
TARGETS = {"sandbox": 2.0, "gate": 1.2}


def _api() -> Any:
    import docker
    from netknit.runtimes.docker import build_busybox_image

    api = docker.APIClient(version="auto", timeout=120)
    try:
        api.inspect_image(IMAGE)
    except docker.errors.NotFound:
        build_busybox_image(api, IMAGE, ["/bin/sleep", "3600"], ("sh", "sleep", "ip", "ping"))
    return api


def topology(name: str, n: int, strategy: str) -> str:
    nodes = "\n".join(f"    n{i}: {{}}" for i in range(1, n + 1))
    links = []
    for i in range(1, n + 1):  # link i: 10.60.<i>.0/30, .1 on node i, .2 on the next one
        links.append(f'    - endpoints: ["n{i}:eth1", "n{i % n + 1}:eth2"]\n'
                     f'      ipv4: ["10.60.{i}.1/30", "10.60.{i}.2/30"]')
    return (f"name: {name}\ntopology:\n  defaults: {{kind: linux, image: \"{IMAGE}\", "
            f"cmd: \"sleep 3600\", start-strategy: {strategy}}}\n  nodes:\n{nodes}\n"
            f"  links:\n" + "\n".join(links) + "\n")


def run_floor(api: Any, n: int, workers: int) -> float:
    names = [f"nkbench-{secrets.token_hex(3)}-{i}" for i in range(n)]

    def start(name: str) -> str:
        host = api.create_host_config(network_mode="none")
        cid = str(api.create_container(IMAGE, command=["sleep", "3600"], name=name,
                                       host_config=host, use_config_proxy=False)["Id"])
        api.start(cid)
        return cid

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ids = list(pool.map(start, names))
    took = time.monotonic() - began
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda c: api.remove_container(c, force=True), ids))
    return took


def run_netknit(workdir: Path, n: int, strategy: str, workers: int) -> tuple[float, bool]:
    import netknit

    name = f"nkb{secrets.token_hex(3)}"
    path = workdir / name / "lab.clab.yml"
    path.parent.mkdir(parents=True)
    path.write_text(topology(name, n, strategy))
    topo = netknit.load(path)
    try:
        began = time.monotonic()
        netknit.deploy(topo, max_workers=workers)
        took = time.monotonic() - began
        ping = netknit.exec(topo, "n1", ["ping", "-c1", "-W2", "10.60.1.2"])
        return took, ping.returncode == 0
    finally:
        netknit.destroy(topo, cleanup=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds of rest before each run (dockerd finishes removals)")
    parser.add_argument("--max-workers", type=int, default=8)
    parser.add_argument("--strategies", default="sandbox,gate")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    args = parser.parse_args()
    api = _api()
    strategies = [s for s in args.strategies.split(",") if s]
    floor: list[float] = []
    times: dict[str, list[float]] = {s: [] for s in strategies}
    ok = True
    with tempfile.TemporaryDirectory(prefix="nkbench") as tmp:
        run_floor(api, 2, args.max_workers)  # warm-up: the first start pays for caches
        impls = ["floor", *strategies]
        for k in range(args.repeat):
            # interleaved and rotated, so that drift and dockerd's clean-up of the previous
            # run (removed containers' layers) hit every implementation alike
            for impl in impls[k % len(impls):] + impls[:k % len(impls)]:
                time.sleep(args.settle)
                if impl == "floor":
                    floor.append(run_floor(api, args.nodes, args.max_workers))
                    continue
                took, passed = run_netknit(Path(tmp), args.nodes, impl, args.max_workers)
                times[impl].append(took)
                ok = ok and passed
    base = statistics.median(floor)
    rows = [{"impl": "floor (SDK, no links)", "seconds": round(base, 3), "ratio": 1.0}]
    for s in strategies:
        t = statistics.median(times[s])
        ratio = t / base
        met = ratio <= TARGETS.get(s, float("inf"))
        ok = ok and met
        rows.append({"impl": f"netknit {s}", "seconds": round(t, 3), "ratio": round(ratio, 2),
                     "target": TARGETS.get(s), "met": met})
    if args.format == "json":
        print(json.dumps({"nodes": args.nodes, "repeat": args.repeat, "rows": rows,
                          "checks_passed": ok}, indent=2))
    else:
        print(f"{args.nodes} Docker nodes in a ring ({args.nodes} links, IPv4 on both ends), "
              f"median of {args.repeat}, max-workers {args.max_workers}")
        for r in rows:
            target = f"  target ≤ {r['target']}× {'met' if r['met'] else 'MISSED'}" \
                if r.get("target") else ""
            print(f"  {r['impl']:<24} {r['seconds']:7.3f} s  {r['ratio']:5.2f}×{target}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
