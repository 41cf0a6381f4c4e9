"""ADD/DEL cycles of netknit-cni's host-device vs the reference host-device plugin.

Both plugins move a veth end (a stand-in NIC) into a namespace as net1 and back, in the
same run, alternating per cycle so that machine noise hits both alike. Prints p50/p95 of
the wall time per call (the whole process, as a runtime sees it: fork/exec, interpreter
start, the kernel work, exit; measured the same way for both plugins) and the ratio, and
the load average before and after, since other work on the machine moves every figure
(each namespace move waits for an RCU grace period, which a busy machine stretches).

    sudo python bench/cni.py [--cycles 200] [--repeat 3]

``--repeat`` runs the cycles that many times: each run's p50 per call and the ratio of
the p50s, then the median and spread (min-max) over the runs. Also measured in the same
run, for the arithmetic of what is left: the interpreter's start alone (the launcher's
``python -IS`` running nothing), the launcher with every import of the ADD/DEL path but
no call (leaving as a call does, with ``os._exit``), the reference plugin's start alone
(its VERSION call) and the bench's own cost per call (``/bin/true``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
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


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def floors(launcher: Path, cycles: int) -> dict[str, float]:
    """p50 wall times (ms) of processes that do no CNI work: what every call pays."""
    text = launcher.read_text()
    interpreter = text.splitlines()[0][2:].split()  # the launcher's #!
    # the launcher up to its call, with the ADD/DEL path's imports, and its way out
    imports = text.removesuffix("launch()\n") + (
        "import os\nimport netknit.cni._hostdev\nos._exit(0)\n")
    runs = {"bench overhead (/bin/true)": ["/bin/true"],
            "interpreter start (python -IS, nothing)": [*interpreter, "-c", "pass"],
            "launcher with the plugin's imports, no call": [*interpreter, "-c", imports],
            "reference start (VERSION)": [str(REFERENCE)]}
    out = {}
    for what, argv in runs.items():
        took = []
        for _ in range(cycles):
            start = time.perf_counter()
            subprocess.run(argv, input=b"", env={"CNI_COMMAND": "VERSION"},
                           capture_output=True, check=False)
            took.append((time.perf_counter() - start) * 1000)
        out[what] = statistics.median(took)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cycles", type=int, default=200)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--gap", type=float, default=0.0, metavar="MS",
                   help="untimed pause before each call, the same for both plugins")
    p.add_argument("--down", action="store_true",
                   help="stand-in NICs start down: netknit's DEL then has no up-state to "
                   "restore (the reference never restores it), so both do the same work")
    args = p.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root")
    tag = "nkcb" + secrets.token_hex(2)
    bins = Path(tempfile.mkdtemp(prefix="nkcbench"))
    install_binaries(bins)
    plugins = {"netknit": (bins / "netknit-host-device", "netknit-host-device", f"{tag}n"),
               "reference": (REFERENCE, "host-device", f"{tag}r")}
    subprocess.run(["ip", "netns", "add", tag], check=True)
    runs: list[dict[str, dict[str, list[float]]]] = []
    load_before = os.getloadavg()[0]
    try:
        for _, _, dev in plugins.values():
            subprocess.run(["ip", "link", "add", dev, "type", "veth", "peer", "name",
                            f"{dev}p"], check=True)
            if not args.down:
                subprocess.run(["ip", "link", "set", dev, "up"], check=True)
        env = {"CNI_CONTAINERID": tag, "CNI_NETNS": f"/run/netns/{tag}",
               "CNI_PATH": f"{bins}:/usr/lib/cni", "PATH": os.environ.get("PATH", "")}
        for _run in range(args.repeat):
            times: dict[str, dict[str, list[float]]] = {k: {"ADD": [], "DEL": []}
                                                         for k in plugins}
            runs.append(times)
            for _cycle in range(args.cycles):
                for key, (binary, kind, dev) in plugins.items():
                    conf = json.dumps({"cniVersion": "1.0.0", "name": "bench", "type": kind,
                                       "device": dev}).encode()
                    e = {**env, "CNI_IFNAME": "net1" if key == "netknit" else "net2"}
                    for command in ("ADD", "DEL"):
                        if args.gap:
                            time.sleep(args.gap / 1000)
                        times[key][command].append(call(binary, command, conf, e))
        fixed = floors(plugins["netknit"][0], min(args.cycles, 50))
    finally:
        subprocess.run(["ip", "netns", "del", tag], check=False)
        for _, _, dev in plugins.values():
            subprocess.run(["ip", "link", "del", dev], check=False, capture_output=True)
        shutil.rmtree(bins, ignore_errors=True)
    print(f"{args.cycles} ADD/DEL cycles each, {args.repeat} run(s), veth stand-in NICs, "
          "wall time per call (ms)")
    print(f"load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f}")
    last = runs[-1]
    print(f"{'plugin':<12}{'call':<6}{'p50':>8}{'p95':>8}   (run {len(runs)})")
    for key in plugins:
        for command in ("ADD", "DEL"):
            v = last[key][command]
            print(f"{key:<12}{command:<6}{pct(v, 50):8.1f}{pct(v, 95):8.1f}")
    print("per call, over the runs: p50 median (min-max); ratio netknit/reference of the "
          "p50s, same run; target <= 1.2")
    for command in ("ADD", "DEL"):
        mine = [pct(r["netknit"][command], 50) for r in runs]
        ref = [pct(r["reference"][command], 50) for r in runs]
        ratios = [m / r for m, r in zip(mine, ref, strict=True)]
        print(f"  {command}: netknit {statistics.median(mine):.1f} ({min(mine):.1f}-"
              f"{max(mine):.1f})  reference {statistics.median(ref):.1f} ({min(ref):.1f}-"
              f"{max(ref):.1f})  ratio {statistics.median(ratios):.2f} ({min(ratios):.2f}-"
              f"{max(ratios):.2f})  {'met' if statistics.median(ratios) <= 1.2 else 'MISSED'}")
    print("fixed costs, same run (p50 ms):")
    for what, ms in fixed.items():
        print(f"  {what:<42}{ms:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
