#!/usr/bin/env python3
"""Docker lab benchmark: N Docker nodes in a ring, netknit vs the floor Docker imposes.

    sudo python3 bench/docker_lab.py [--nodes 20,100] [--repeat 3] [--network none|mgmt]
                                     [--strategies gate,sandbox] [--format table|json]

The lab: N ``kind: linux`` nodes (a local busybox image, ``sleep``), node i linked to
node i+1 and the last to the first (N links), an IPv4 /30 on both ends of each link.
Measured in the same run, interleaved, each as median and spread over ``--repeat``:

* floor   -- the same N containers created and started with the Docker SDK (same image
             and command), no links: what any tool pays Docker, with ``--floor-workers``
             threads (the engine's throughput is flat from 4 to 32 on the 2-core VM).
* netknit -- ``netknit.deploy`` (the Python API, in this process, so that interpreter
             start-up is not counted) for each start strategy: ``sandbox`` starts one
             extra container per node, ``gate`` starts the workload behind its wrapper.
             Parallelism: netknit's own (adapts to the engine) unless ``--max-workers``.

``--network`` makes both sides alike: ``none`` (default) -- every node has
``network-mode: none`` and the floor's containers too; ``mgmt`` -- the nodes join a
management network (a Docker bridge network, IPv4 and IPv6, as containerlab's ``clab``)
and the floor's containers join a network made the same way.

After each netknit deploy the ring is checked (node 1 pings node 2 over eth1); everything
is removed after each run (netknit.destroy / the SDK; also on errors and Ctrl-C). Targets:
sandbox ≤ 1.5× the floor, gate ≤ 1.2×. Exit status 0 if every run passed its check and
the targets were met.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

IMAGE = "netknit-bench/busybox:latest"
TARGETS = {"sandbox": 1.5, "gate": 1.2}
LABEL = "netknit-bench"  # on every container and network the floor makes


def _api() -> Any:
    import docker
    from netknit.runtimes.docker import build_busybox_image

    api = docker.APIClient(version="auto", timeout=300)
    try:
        api.inspect_image(IMAGE)
    except docker.errors.NotFound:
        build_busybox_image(api, IMAGE, ["/bin/sleep", "3600"], ("sh", "sleep", "ip", "ping"))
    return api


def _subnets() -> tuple[str, str]:
    """A random IPv4 /20 (room for 4000 nodes) and IPv6 ULA /64."""
    tag = secrets.randbelow(1 << 16)
    return f"10.{244 + secrets.randbelow(8)}.{(tag % 16) * 16}.0/20", \
        f"fd6b:{tag:x}:{secrets.randbelow(1 << 16):x}::/64"


def topology(name: str, n: int, strategy: str, network: str) -> str:
    nodes = "\n".join(f"    n{i}: {{}}" for i in range(1, n + 1))
    links = []
    for i in range(1, n + 1):  # link i: 10.<hi>.<lo>.0/30, .1 on node i, .2 on the next one
        net = f"10.{60 + i // 64}.{(i % 64) * 4}"
        links.append(f'    - endpoints: ["n{i}:eth1", "n{i % n + 1}:eth2"]\n'
                     f'      ipv4: ["{net}.1/30", "{net}.2/30"]')
    mode = ", network-mode: none" if network == "none" else ""
    mgmt = ""
    if network == "mgmt":
        v4, v6 = _subnets()
        mgmt = f"mgmt: {{network: {name}, ipv4-subnet: {v4}, ipv6-subnet: \"{v6}\"}}\n"
    return (f"name: {name}\n{mgmt}topology:\n  defaults: {{kind: linux, image: \"{IMAGE}\", "
            f"cmd: \"sleep 3600\", start-strategy: {strategy}{mode}}}\n  nodes:\n{nodes}\n"
            f"  links:\n" + "\n".join(links) + "\n")


def run_floor(api: Any, n: int, workers: int, network: str) -> float:
    from docker.types import IPAMConfig, IPAMPool

    run = secrets.token_hex(3)
    names = [f"nkbench-{run}-{i}" for i in range(n)]
    net = ""
    if network == "mgmt":  # a bridge network as netknit (and containerlab) make it
        net = f"nkbench-{run}"
        v4, v6 = _subnets()
        api.create_network(net, driver="bridge", enable_ipv6=True, labels={LABEL: run},
                           options={"com.docker.network.driver.mtu": "1500"},
                           ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=v4),
                                                         IPAMPool(subnet=v6)]))

    def start(name: str) -> str:
        host = api.create_host_config(network_mode=net or "none")
        networking = api.create_networking_config({net: api.create_endpoint_config()}) \
            if net else None
        cid = str(api.create_container(IMAGE, command=["sleep", "3600"], name=name,
                                       host_config=host, networking_config=networking,
                                       labels={LABEL: run}, use_config_proxy=False)["Id"])
        api.start(cid)
        return cid

    try:
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(start, names))
        return time.monotonic() - began
    finally:  # by the run's label: also what a failed start left
        made = api.containers(all=True, filters={"label": f"{LABEL}={run}"})
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda c: api.remove_container(c["Id"], force=True), made))
        if net:
            api.remove_network(net)


def run_netknit(workdir: Path, n: int, strategy: str, workers: int | None,
                network: str) -> tuple[float, bool]:
    import netknit

    name = f"nkb{secrets.token_hex(3)}"
    path = workdir / name / "lab.clab.yml"
    path.parent.mkdir(parents=True)
    path.write_text(topology(name, n, strategy, network))
    topo = netknit.load(path)
    try:
        began = time.monotonic()
        netknit.deploy(topo, max_workers=workers)
        took = time.monotonic() - began
        ping = netknit.exec(topo, "n1", ["ping", "-c1", "-W2", "10.60.4.2"])
        return took, ping.returncode == 0
    finally:
        netknit.destroy(topo, cleanup=True)


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def measure(api: Any, args: argparse.Namespace, n: int, workdir: Path
            ) -> tuple[list[dict[str, Any]], bool]:
    strategies = [s for s in args.strategies.split(",") if s]
    times: dict[str, list[float]] = {s: [] for s in ["floor", *strategies]}
    ok = True
    impls = list(times)
    for k in range(args.repeat):
        # interleaved and rotated, so that drift and dockerd's clean-up of the previous
        # run (removed containers' layers) hit every implementation alike
        for impl in impls[k % len(impls):] + impls[:k % len(impls)]:
            time.sleep(args.settle)
            if impl == "floor":
                times[impl].append(run_floor(api, n, args.floor_workers, args.network))
                continue
            took, passed = run_netknit(workdir, n, impl, args.max_workers, args.network)
            times[impl].append(took)
            ok = ok and passed
        print(f"  run {k + 1}/{args.repeat} of {n} nodes: " + ", ".join(
            f"{impl} {times[impl][-1]:.2f} s" for impl in impls), file=sys.stderr, flush=True)
    base = statistics.median(times["floor"])
    rows: list[dict[str, Any]] = [{"impl": "floor (SDK, no links)", **_spread(times["floor"]),
                                   "ratio": 1.0, "runs": times["floor"]}]
    for s in strategies:
        ratio = statistics.median(times[s]) / base
        met = ratio <= TARGETS.get(s, float("inf"))
        ok = ok and met
        rows.append({"impl": f"netknit {s}", **_spread(times[s]), "ratio": round(ratio, 2),
                     "ratio_min": round(min(times[s]) / max(times["floor"]), 2),
                     "ratio_max": round(max(times[s]) / min(times["floor"]), 2),
                     "target": TARGETS.get(s), "met": met, "runs": times[s]})
    return rows, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="20", help="lab sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds of rest before each run (dockerd finishes removals)")
    parser.add_argument("--max-workers", type=int, default=None,
                        help="netknit's bound (default: its own, adapting to the engine)")
    parser.add_argument("--floor-workers", type=int, default=8)
    parser.add_argument("--network", choices=["none", "mgmt"], default="none")
    parser.add_argument("--strategies", default="sandbox,gate")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root (netknit wires namespaces)", file=sys.stderr)
        return 2
    api = _api()
    ok = True
    report = []
    with tempfile.TemporaryDirectory(prefix="nkbench") as tmp:
        run_floor(api, 2, args.floor_workers, "none")  # warm-up: the first start pays caches
        for n in (int(x) for x in args.nodes.split(",")):
            load = os.getloadavg()[0]
            rows, passed = measure(api, args, n, Path(tmp))
            ok = ok and passed
            report.append({"nodes": n, "rows": rows, "load_before": round(load, 2)})
            if args.format == "table":
                print(f"{n} Docker nodes in a ring ({n} links, IPv4 on both ends), "
                      f"network {args.network}, {args.repeat} runs each (median, min-max), "
                      f"floor workers {args.floor_workers}, netknit workers "
                      f"{args.max_workers or 'adaptive'}, load average before {load:.1f}")
                for r in rows:
                    target = f"  target ≤ {r['target']}× {'met' if r['met'] else 'MISSED'}" \
                        if r.get("target") else ""
                    spread = f" ({r['ratio_min']:.2f}-{r['ratio_max']:.2f})" \
                        if "ratio_min" in r else " " * 12
                    print(f"  {r['impl']:<24} {r['median']:8.2f} s ({r['min']:.2f}-"
                          f"{r['max']:.2f})  {r['ratio']:5.2f}×{spread}{target}", flush=True)
    if args.format == "json":
        print(json.dumps({"repeat": args.repeat, "network": args.network, "sizes": report,
                          "checks_passed": ok}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
