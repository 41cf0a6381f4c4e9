"""ADD/DEL cycles of netknit-cni's host-device vs the reference host-device plugin.

Both plugins move a veth end (a stand-in NIC) into a namespace as net1 and back, in the
same run, alternating per cycle so that machine noise hits both alike. Prints p50/p95 of
the wall time per call (the whole process, as a runtime sees it: fork/exec, interpreter
start, the kernel work, exit; measured the same way for both plugins) and the ratio, and
the load average before and after, since other work on the machine moves every figure
(each namespace move waits for an RCU grace period, which a busy machine stretches).

    sudo python bench/cni.py [--cycles 200]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from netknit.cni.install import install_binaries

REFERENCE = Path("/usr/lib/cni/host-device")


def call(binary: Path, command: str, conf: bytes, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([str(binary)], input=conf, env={**env, "CNI_COMMAND": command},
                          capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{binary.name} {command} failed: {proc.stdout!r} {proc.stderr!r}")
    return elapsed * 1000


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cycles", type=int, default=200)
    args = p.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root")
    tag = "nkcb" + secrets.token_hex(2)
    bins = Path(tempfile.mkdtemp(prefix="nkcbench"))
    install_binaries(bins)
    plugins = {"netknit": (bins / "netknit-host-device", "netknit-host-device", f"{tag}n"),
               "reference": (REFERENCE, "host-device", f"{tag}r")}
    subprocess.run(["ip", "netns", "add", tag], check=True)
    times: dict[str, dict[str, list[float]]] = {k: {"ADD": [], "DEL": []} for k in plugins}
    load_before = os.getloadavg()[0]
    try:
        for _, _, dev in plugins.values():
            subprocess.run(["ip", "link", "add", dev, "type", "veth", "peer", "name",
                            f"{dev}p"], check=True)
            subprocess.run(["ip", "link", "set", dev, "up"], check=True)
        env = {"CNI_CONTAINERID": tag, "CNI_NETNS": f"/run/netns/{tag}",
               "CNI_PATH": f"{bins}:/usr/lib/cni", "PATH": os.environ.get("PATH", "")}
        for _cycle in range(args.cycles):
            for key, (binary, kind, dev) in plugins.items():
                conf = json.dumps({"cniVersion": "1.0.0", "name": "bench", "type": kind,
                                   "device": dev}).encode()
                e = {**env, "CNI_IFNAME": "net1" if key == "netknit" else "net2"}
                times[key]["ADD"].append(call(binary, "ADD", conf, e))
                times[key]["DEL"].append(call(binary, "DEL", conf, e))
    finally:
        subprocess.run(["ip", "netns", "del", tag], check=False)
        for _, _, dev in plugins.values():
            subprocess.run(["ip", "link", "del", dev], check=False, capture_output=True)
    print(f"{args.cycles} ADD/DEL cycles each, veth stand-in NICs, wall time per call (ms)")
    print(f"load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"{'plugin':<12}{'call':<6}{'p50':>8}{'p95':>8}")
    p50s = {}
    for key in plugins:
        every = times[key]["ADD"] + times[key]["DEL"]
        for command in ("ADD", "DEL"):
            v = times[key][command]
            print(f"{key:<12}{command:<6}{pct(v, 50):8.1f}{pct(v, 95):8.1f}")
        p50s[key] = pct(every, 50)
        print(f"{key:<12}{'all':<6}{p50s[key]:8.1f}{pct(every, 95):8.1f}")
    print(f"ratio netknit/reference (p50, all calls): {p50s['netknit'] / p50s['reference']:.2f}")
    print(f"target p50 <= 60 ms: {'met' if p50s['netknit'] <= 60 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
