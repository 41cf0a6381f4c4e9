#!/usr/bin/env python3
"""Start-up benchmark: what a user waits for on a small lab, against the interpreter floor.

    sudo .venv/bin/python bench/startup.py [--repeat 20] [--netknit "CMD"] [--format json]
                                           [--compare "LABEL=CMD" ...]

Timed, each as one process, interleaved per repetition (so load hits all alike):

* ``python -c pass`` -- the floor: the interpreter netknit runs in, doing nothing
  (``python -S -c pass``, without ``site``, shown too);
* ``netknit --version``;
* ``netknit deploy -t two.clab.yml --quiet`` -- two netns nodes, one veth link with a /30
  on both ends;
* ``netknit destroy -t two.clab.yml --cleanup --quiet``.

Each netknit command is timed twice: as its own process (``NETKNIT_RESIDENT=0``), and
through a resident process (``netknit resident start``) that the bench starts on a socket
of its own and stops at the end (``resident:`` rows; ``--no-resident`` leaves them out).

Wall time and CPU time (user + system, from ``os.wait4``), median and spread over
``--repeat``, and the ratio against the floor measured in the same run. ``--compare``
adds another netknit (an older checkout: ``before=env PYTHONPATH=/old/src python -m
netknit``), timed in the same loop, with the ratio of each command against it. Targets (issue
18): ``--version`` ≤ 40 ms, deploy ≤ 120 ms, destroy ≤ 80 ms wall. On a busy machine wall
times stretch; CPU times and the ratios stay meaningful.

The lab is ``su<random>``: namespaces ``clab-su<id>-a``/``-b``, removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stats import Stat, line
from chain import find_netknit  # the same netknit chain.py runs

TARGETS_MS = {"version": 40.0, "deploy": 120.0, "destroy": 80.0}

# A user's netknit runs from compiled bytecode (pip compiles it at install; a checkout
# writes it on first run). PYTHONDONTWRITEBYTECODE in the bench's environment would time
# a compile of every module on every run instead, so the children run without it, and one
# round that is not counted comes first.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
CHILD_ENV["NETKNIT_RESIDENT"] = "0"


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one run (the resident's work is not in the CPU time: only
    the caller's); raises if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env or CHILD_ENV)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"failed: {shlex.join(argv)}\n{err}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--netknit", help="command that runs netknit (default: beside python)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--compare", action="append", default=[], metavar="LABEL=CMD",
                   help="another netknit to time in the same run (repeatable)")
    p.add_argument("--no-resident", action="store_true",
                   help="leave out the runs through a resident process")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("run as root: deploy creates network namespaces", file=sys.stderr)
        return 2
    nk = find_netknit(args.netknit)
    lab = f"su{secrets.token_hex(3)}"
    tmp = Path(tempfile.mkdtemp(prefix="nkbench-"))
    topo = tmp / "two.clab.yml"
    topo.write_text(f"""name: {lab}
topology:
  nodes:
    a: {{kind: netns}}
    b: {{kind: netns}}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.99.0.1/30", "10.99.0.2/30"]
""")
    runs: dict[str, list[list[str]]] = {
        "floor": [[sys.executable, "-c", "pass"]],
        "floor -S": [[sys.executable, "-S", "-c", "pass"]],
    }
    others = dict(c.split("=", 1) for c in args.compare)
    for label, cmd in [("", nk), *((f"{k}:", shlex.split(v)) for k, v in others.items())]:
        runs[f"{label}version"] = [[*cmd, "--version"]]
        runs[f"{label}deploy"] = [[*cmd, "deploy", "-t", str(topo), "--quiet"]]
        runs[f"{label}destroy"] = [[*cmd, "destroy", "-t", str(topo), "--cleanup", "--quiet"]]
    envs: dict[str, dict[str, str]] = {}
    resident = None
    if not args.no_resident:
        sock = str(tmp / "resident.sock")
        resident = subprocess.Popen(
            [*nk, "resident", "start", "--idle", "120"],
            env={**CHILD_ENV, "NETKNIT_RESIDENT_SOCKET": sock},
            stdout=subprocess.DEVNULL)
        resident.wait()
        for name in ("version", "deploy", "destroy"):
            runs[f"resident:{name}"] = runs[name]
            envs[f"resident:{name}"] = {**CHILD_ENV, "NETKNIT_RESIDENT": "1",
                                        "NETKNIT_RESIDENT_SOCKET": sock}
    wall: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    try:
        for name, argvs in runs.items():  # the uncounted round: bytecode, caches warm
            timed(argvs[0], envs.get(name))
        for _ in range(args.repeat):
            for name, argvs in runs.items():
                w, c = timed(argvs[0], envs.get(name))
                wall[name].append(w)
                cpu[name].append(c)
    finally:
        subprocess.run([*nk, "destroy", "-t", str(topo), "--cleanup", "--quiet"],
                       capture_output=True, check=False, env=CHILD_ENV)
        if resident is not None:
            subprocess.run([*nk, "resident", "stop"], capture_output=True, check=False,
                           env=envs["resident:deploy"])
        shutil.rmtree(tmp, ignore_errors=True)
    stats = {k: (Stat.of(wall[k]), Stat.of(cpu[k])) for k in runs}
    if args.format == "json":
        print(json.dumps({k: {"wall": list(w.values), "cpu": list(c.values)}
                          for k, (w, c) in stats.items()}, indent=2))
        return 0
    load = os.getloadavg()
    print(f"start-up, {args.repeat} repetitions after one uncounted, interleaved; "
          f"load {load[0]:.1f}; bytecode caching on")
    print(f"netknit: {shlex.join(nk)}")
    floor_w, floor_c = stats["floor"]
    for name in runs:
        w, c = stats[name]
        target = TARGETS_MS.get(name.removeprefix("resident:"))
        extra = ""
        if target is not None and w.median is not None:
            extra = (f"  [target ≤ {target:.0f} ms wall: "
                     f"{'met' if w.median * 1000 <= target else 'MISSED'}]")
        print(line(f"{name:16s} wall", w, "floor", floor_w, unit="ms", scale=1000,
                   digits=1) + extra)
        print(line(f"{name:16s} cpu ", c, "floor", floor_c, unit="ms", scale=1000, digits=1))
    for label in others:
        for name in TARGETS_MS:
            (w, c), (bw, bc) = stats[name], stats[f"{label}:{name}"]
            print(line(f"{name:9s} wall", w, label, bw, unit="ms", scale=1000, digits=1))
            print(line(f"{name:9s} cpu ", c, label, bc, unit="ms", scale=1000, digits=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
