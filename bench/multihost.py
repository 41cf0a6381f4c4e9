#!/usr/bin/env python3
"""One topology across two hosts, at scale: 2 x N netns nodes, N cross-host links.

    sudo python3 bench/multihost.py [--nodes 100] [--pings 200]

Two simulated hosts (network namespaces ``nkb-<pid>-hA``/``-hB`` joined by a veth
underlay, 192.0.2.1/24 and 192.0.2.2/24). ``netknit`` runs inside each under
``ip netns exec`` with its own lab directory and deploys its half of one topology:
``a0..a{N-1}`` on A, ``b0..b{N-1}`` on B, ``ai:eth1 <-> bi:eth1`` for every i (each
becomes a VXLAN pair with a VNI derived from the link), plus one local veth link on A
(``a0:eth2 <-> a1:eth2``) as the baseline for the encapsulation cost.

Prints: deploy and destroy wall time per host (one ``netknit`` process each, interpreter
start-up included), and the ping round-trip time (``ping -c K -i 0.002 -q``, avg and mdev)
across a cross-host link vs the local veth link, and their ratio. Both pings run in the
same run, between namespaces of the same machine, so the ratio is the cost of VXLAN
encapsulation plus the underlay veth hop.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def topology(name: str, n: int) -> str:
    lines = [f"name: {name}", "hosts:", "  A: {address: 192.0.2.1}",
             "  B: {address: 192.0.2.2}", "topology:", "  defaults: {kind: netns}", "  nodes:"]
    lines += [f"    a{i}: {{host: A}}" for i in range(n)]
    lines += [f"    b{i}: {{host: B}}" for i in range(n)]
    lines.append("  links:")
    for i in range(n):
        lines.append(f"    - endpoints: [a{i}:eth1, b{i}:eth1]")
        lines.append(f"      ipv4: [10.{100 + i // 250}.{i % 250}.1/24, "
                     f"10.{100 + i // 250}.{i % 250}.2/24]")
    lines.append("    - endpoints: [a0:eth2, a1:eth2]")
    lines.append("      ipv4: [10.99.0.1/24, 10.99.0.2/24]")
    return "\n".join(lines) + "\n"


def ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


def netknit(host: str, labdir: Path, *args: str) -> float:
    env = {**os.environ, "CLAB_LABDIR_BASE": str(labdir)}
    started = time.perf_counter()
    done = subprocess.run(["ip", "netns", "exec", host, sys.executable, "-m", "netknit",
                           *args], env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"netknit {' '.join(args)} on {host} failed:\n{done.stderr}")
    return took


def rtt(ns: str, address: str, count: int) -> tuple[float, float]:
    subprocess.run(["ip", "netns", "exec", ns, "ping", "-c3", "-W2", address],
                   capture_output=True, check=False)  # warm up: neighbour resolution
    out = subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", str(count), "-i", "0.002",
                          "-q", address], capture_output=True, text=True, check=False).stdout
    found = re.search(r"= [\d.]+/([\d.]+)/[\d.]+/([\d.]+) ms", out)
    if not found:
        raise SystemExit(f"ping {address} from {ns} failed:\n{out}")
    return float(found.group(1)) * 1000, float(found.group(2)) * 1000  # µs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=100, help="nodes per host (default 100)")
    parser.add_argument("--pings", type=int, default=200, help="pings per RTT (default 200)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (network namespaces)")
    tag = f"nkb-{os.getpid()}"
    lab = f"mh{os.getpid()}"
    hosts = {"A": (f"{tag}-hA", "192.0.2.1"), "B": (f"{tag}-hB", "192.0.2.2")}
    work = Path(tempfile.mkdtemp(prefix="netknit-multihost-"))
    topo = work / "lab.clab.yml"
    topo.write_text(topology(lab, args.nodes))
    figures: dict[str, float] = {}
    try:
        for ns, _address in hosts.values():
            ip("netns", "add", ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("link", "add", "ul0", "netns", hosts["A"][0], "type", "veth", "peer", "name", "ul0",
           "netns", hosts["B"][0])
        for ns, address in hosts.values():
            ip("-n", ns, "addr", "add", f"{address}/24", "dev", "ul0")
            ip("-n", ns, "link", "set", "ul0", "up")
        for name, (ns, _address) in hosts.items():
            (work / name).mkdir()
            figures[f"deploy {name}"] = netknit(ns, work / name, "deploy", "-t", str(topo),
                                                "--host", name, "--quiet")
        cross = rtt(f"clab-{lab}-a{args.nodes - 1}", f"10.{100 + (args.nodes - 1) // 250}."
                    f"{(args.nodes - 1) % 250}.2", args.pings)
        local = rtt(f"clab-{lab}-a0", "10.99.0.2", args.pings)
        for name, (ns, _address) in hosts.items():
            figures[f"destroy {name}"] = netknit(ns, work / name, "destroy", "-t", str(topo),
                                                 "--quiet")
    finally:
        for ns, _address in hosts.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)

    n = args.nodes
    print(f"two hosts, {n} netns nodes each, {n} cross-host (VXLAN) links + 1 local veth")
    for name in ("A", "B"):
        print(f"  host {name}: deploy {figures[f'deploy {name}']:.2f} s, "
              f"destroy {figures[f'destroy {name}']:.2f} s")
    print(f"  ping RTT cross-host (VXLAN over the underlay veth): avg {cross[0]:.0f} µs "
          f"(mdev {cross[1]:.0f})")
    print(f"  ping RTT local veth (baseline):                      avg {local[0]:.0f} µs "
          f"(mdev {local[1]:.0f})")
    print(f"  ratio cross-host / local veth: {cross[0] / local[0]:.2f}")


if __name__ == "__main__":
    main()
