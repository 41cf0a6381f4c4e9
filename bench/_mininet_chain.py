"""Mininet half of the chain benchmark (run by ``bench/chain.py``).

Runs under Debian's ``/usr/bin/python3`` because that is the interpreter the
Debian ``mininet`` package is built for.  Usage::

    /usr/bin/python3 bench/_mininet_chain.py N PREFIX [--pid-file FILE]

Builds N Mininet hosts (one shell process in its own network namespace each)
joined host-to-host in a chain -- no switches, no controller -- with a /30 per
link, checks that h1 can ping h2, stops the network and checks that every host
process is gone.  Progress goes to stderr, the result is one JSON object on
stdout.

Deliberate differences from plain ``Mininet()``:

* ``Mininet.init()`` is skipped: it calls ``fixLimits()``, which raises *host
  wide* sysctls (ARP-cache thresholds, socket buffers, ``kernel.pty.max`` ...).
  This machine is shared, so we only raise this process's own rlimits.  None of
  those sysctls matter for building 500 hosts.
* Cleanup never uses ``mn -c`` (it kills processes by name pattern).  If
  anything goes wrong, the host shells this script started are killed by pid.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import resource
import signal
import sys
import time
from collections.abc import Iterable
from typing import Any, NoReturn

MAX_IFNAME = 15


def chain_addresses(n: int, base: str = "10.64.0.0") -> list[tuple[str, str]]:
    """Return the two /30 interface addresses of each of the n - 1 chain links."""
    start = ipaddress.IPv4Address(base)
    return [(f"{start + 4 * k + 1}/30", f"{start + 4 * k + 2}/30") for k in range(n - 1)]


def progress(msg: str) -> None:
    print(f"  [mininet] {msg}", file=sys.stderr, flush=True)


def raise_own_rlimits() -> None:
    """Each host costs a pty pair plus pipes: lift our own fd/process limits."""
    for res, want in ((resource.RLIMIT_NOFILE, 16384), (resource.RLIMIT_NPROC, 8192)):
        soft, hard = resource.getrlimit(res)
        if soft != resource.RLIM_INFINITY and soft < want:
            new = want if hard == resource.RLIM_INFINITY else min(want, hard)
            resource.setrlimit(res, (new, hard))


def is_our_shell(pid: int, tag: str) -> bool:
    """True if pid is still a live (non-zombie) process whose argv carries tag."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return tag.encode() in cmdline and state != "Z"


def kill_shells(pids: Iterable[int], tag: str) -> None:
    """SIGKILL the host shells we started (each leads its own session) and reap them."""
    for pid in pids:
        if is_our_shell(pid, tag):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _on_sigterm(signum: int, _frame: object) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


class PidLog:
    """Pids of the host shells, also appended to a file the parent can clean up from."""

    def __init__(self, path: str | None) -> None:
        self.pids: list[int] = []
        self._file = open(path, "a") if path else None  # noqa: SIM115 - kept open, appended to

    def add(self, pid: int) -> None:
        self.pids.append(pid)
        if self._file:
            self._file.write(f"{pid}\n")
            self._file.flush()

    def close(self) -> None:
        if self._file:
            self._file.close()


def tracked_host_class(pidlog: PidLog) -> type:
    """A Mininet Host that logs its shell's pid the moment it is spawned.

    (Recording host.pid after addHost() returns would miss a shell whose startup
    was interrupted.)
    """
    from mininet.node import Host

    class TrackedHost(Host):  # type: ignore[misc]
        def _popen(self, cmd: list[str], **params: Any) -> Any:
            popen = super()._popen(cmd, **params)
            pidlog.add(popen.pid)
            return popen

    return TrackedHost


def run(n: int, prefix: str, pidlog: PidLog) -> dict[str, Any]:
    from mininet.log import setLogLevel
    from mininet.net import Mininet

    setLogLevel("warning")
    raise_own_rlimits()
    Mininet.inited = True  # skip Mininet.init() -> fixLimits(): host-wide sysctls

    tag = f"mininet:{prefix}h"  # Mininet runs each shell as `bash ... -is mininet:NAME`
    names = [f"{prefix}h{i}" for i in range(1, n + 1)]
    if len(f"{names[-1]}-eth1") > MAX_IFNAME:
        raise SystemExit(f"prefix {prefix!r} too long: interface names exceed {MAX_IFNAME}")
    addrs = chain_addresses(n)
    every = max(1, n // 5)
    result: dict[str, Any] = {"n": n, "prefix": prefix}
    stopped = False
    try:
        t0 = time.perf_counter()
        net = Mininet(topo=None, controller=None, build=False, host=tracked_host_class(pidlog))
        hosts = []
        for i, name in enumerate(names, 1):
            # ip=None: no address on the "default" interface; every link end gets its own.
            hosts.append(net.addHost(name, ip=None))
            if i % every == 0:
                progress(f"N={n}: hosts {i}/{n} ({time.perf_counter() - t0:.1f} s)")
        t1 = time.perf_counter()
        for k, (a, b) in enumerate(addrs):
            net.addLink(hosts[k], hosts[k + 1], params1={"ip": a}, params2={"ip": b})
            if (k + 1) % every == 0:
                progress(f"N={n}: links {k + 1}/{n - 1} ({time.perf_counter() - t0:.1f} s)")
        t2 = time.perf_counter()
        net.build()  # configHosts(): `ifconfig lo up` in every host
        t3 = time.perf_counter()
        result["deploy"] = t3 - t0
        result["phases"] = {"hosts": t1 - t0, "links": t2 - t1, "config": t3 - t2}
        progress(f"N={n}: built in {t3 - t0:.2f} s, verifying")

        checks = {"h1->h2": (hosts[0], addrs[0][1]), "last link": (hosts[-2], addrs[-1][1])}
        failed = []
        for label, (host, addr) in checks.items():
            out = host.cmd(f"ping -c1 -W1 {addr.split('/')[0]} >/dev/null 2>&1; echo rc=$?")
            if "rc=0" not in out:
                failed.append(f"{label}: ping {addr} failed")
        result["verify_errors"] = failed

        progress(f"N={n}: stopping")
        t4 = time.perf_counter()
        net.stop()
        stopped = True
        t5 = time.perf_counter()
        result["destroy"] = t5 - t4
        result["total"] = result["deploy"] + result["destroy"]
        result["leftover_pids"] = [pid for pid in pidlog.pids if is_our_shell(pid, tag)]
        result["host_pids"] = len(pidlog.pids)
        progress(f"N={n}: stopped in {t5 - t4:.2f} s")
        return result
    finally:
        if not stopped:
            progress("aborted: killing host shells by pid")
        for sig in (signal.SIGINT, signal.SIGTERM):  # don't let a 2nd signal cut cleanup short
            signal.signal(sig, signal.SIG_IGN)
        kill_shells(pidlog.pids, tag)  # no-op after a clean stop(): all reaped already


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("prefix")
    parser.add_argument("--pid-file", help="append each host shell pid here as it starts")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("must run as root", file=sys.stderr)
        return 2
    if args.n < 2:
        print("need at least 2 hosts", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
    pidlog = PidLog(args.pid_file)
    try:
        result = run(args.n, args.prefix, pidlog)
    except KeyboardInterrupt:
        progress("interrupted; host shells removed")
        return 130
    finally:
        pidlog.close()
    print(json.dumps(result))
    ok = not result["verify_errors"] and not result["leftover_pids"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
