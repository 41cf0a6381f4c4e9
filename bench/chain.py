#!/usr/bin/env python3
"""Chain benchmark: N network namespaces in a line, deployed and destroyed three ways.

    sudo python3 bench/chain.py [--sizes 100,500] [--repeat K] [--skip-netknit]
                                [--skip-mininet] [--format table|json]

Each lab is a chain n1 - n2 - ... - nN: one veth link per consecutive pair,
a /30 on both ends (distinct subnet per link), ``lo`` and every link end up.
Implementations, measured in the same run:

* netknit  -- ``netknit deploy`` / ``netknit destroy --cleanup`` as subprocesses
              (wall time and peak RSS from ``os.wait4``), each its own process
              (``NETKNIT_RESIDENT=0``);
* netknit+resident -- the same commands through a resident process (``netknit resident
              start`` on a socket of the bench's own, stopped at the end): no interpreter
              start or imports per command (``--no-resident`` leaves it out; no peak
              RSS: the work is done in the resident's children, not in the caller timed);
* ip-batch -- what an expert does with iproute2: ``ip -batch`` per phase plus one
              ``ip -n NS -batch`` per namespace for addresses;
* Mininet  -- Debian's ``mininet`` under ``/usr/bin/python3`` (``_mininet_chain.py``),
              hosts linked host-to-host, no switches or controller.

Every object is named with a random suffix and removed afterwards, also on errors
and Ctrl-C.  Only pids this script started are ever signalled.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import platform
import resource
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stats import Stat  # the bench directory is not a package

HERE = Path(__file__).resolve().parent
MININET_CHILD = HERE / "_mininet_chain.py"
SYSTEM_PYTHON = "/usr/bin/python3"
MININET_DIR = Path("/usr/lib/python3/dist-packages/mininet")

# netknit total / ip-batch total must be <= this (issue 18): 1.0 below 500 nodes, 0.8 from
# 500 on; larger chains must also cost the same per node (shown as ms/node per size)
TARGET_VS_IP_BATCH = {2: 1.0, 500: 0.8}
TARGET_MININET_SPEEDUP = 10.0  # Mininet total / netknit total must be >= this
TARGET_RSS_MB = 150.0  # netknit peak RSS must be < this
TARGETS_TEXT = ("target: netknit/ip-batch ≤ 1.0 (N < 500), ≤ 0.8 (N ≥ 500), Mininet/netknit ≥ 10,"
                " netknit peak RSS < 150 MB")

IMPLS = ("netknit", "netknit+resident", "ip-batch", "mininet")


class BenchError(Exception):
    """A benchmark step failed; the message says which and why."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- topology


def chain_addresses(n: int, base: str = "10.64.0.0") -> list[tuple[str, str]]:
    """The two /30 interface addresses of each of the n - 1 links (n_k <-> n_k+1)."""
    start = ipaddress.IPv4Address(base)
    return [(f"{start + 4 * k + 1}/30", f"{start + 4 * k + 2}/30") for k in range(n - 1)]


def bare(addr: str) -> str:
    return addr.split("/", 1)[0]


def link_ifnames(k: int) -> tuple[str, str]:
    """Interface names of link k (0-based): 'e<i>' on n<i>, 'w<i+1>' on n<i+1>."""
    return f"e{k + 1}", f"w{k + 2}"


# --------------------------------------------------------------------------- processes


@dataclass
class ProcResult:
    argv: list[str]
    returncode: int
    wall: float
    maxrss_kib: int  # ru_maxrss from wait4; never below rss_floor_kib (see run_timed)
    rss_floor_kib: int
    stdout: str
    stderr: str
    timed_out: bool = False

    def check(self, what: str) -> ProcResult:
        if self.timed_out:
            raise BenchError(f"{what}: timed out after {self.wall:.0f} s")
        if self.returncode != 0:
            lines = (self.stderr.strip() or self.stdout.strip() or "(no output)").splitlines()
            output = "\n".join(lines[-15:])
            raise BenchError(
                f"{what}: exit status {self.returncode}: {output.splitlines()[-1]}\n"
                f"  command: {shlex.join(self.argv)}\n{output}"
            )
        return self


def _stop_child(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Stop a child we started after we were interrupted, and reap it.

    A Ctrl-C reaches the child too (same process group), so first give it time to
    clean up on its own; then SIGTERM, then SIGKILL.
    """
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def run_timed(
    argv: Sequence[str],
    *,
    timeout: float | None = None,
    stderr_passthrough: bool = False,
    env: dict[str, str] | None = None,
) -> ProcResult:
    """Run argv; return its wall time and peak RSS (``os.wait4``), killing it after timeout.

    Linux carries the forking process's RSS high-water mark into the child's ru_maxrss
    (exec records the old mm's peak), so figures up to our own peak RSS are only a floor.
    """
    argv = list(argv)
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=None if stderr_passthrough else err,
                env=env,
            )
        except OSError as exc:
            raise BenchError(f"cannot run {shlex.join(argv)}: {exc}") from exc
        timed_out = False
        try:
            pidfd = os.pidfd_open(proc.pid)
            try:
                poller = select.poll()
                poller.register(pidfd, select.POLLIN)
                if not poller.poll(None if timeout is None else timeout * 1000):
                    timed_out = True
                    log(f"    timeout after {timeout:.0f} s, stopping pid {proc.pid}")
                    proc.send_signal(signal.SIGTERM)
                    if not poller.poll(60_000):
                        proc.kill()
            finally:
                os.close(pidfd)
            _pid, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
        except BaseException:
            _stop_child(proc)
            raise
        out.seek(0)
        err.seek(0)
        return ProcResult(
            argv=argv,
            returncode=proc.returncode,
            wall=wall,
            maxrss_kib=usage.ru_maxrss,
            rss_floor_kib=floor,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            timed_out=timed_out,
        )


def run_quiet(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)


# --------------------------------------------------------------------------- kernel state


def list_netns(prefix: str) -> list[str]:
    """Names of network namespaces (as in `ip netns list`) starting with prefix."""
    out = run_quiet(["ip", "netns", "list"]).stdout
    names = (line.split()[0] for line in out.splitlines() if line.strip())
    return [name for name in names if name.startswith(prefix)]


def delete_netns(names: Sequence[str], workdir: Path) -> None:
    """Fallback cleanup: delete exactly these namespaces with one ip -batch."""
    if not names:
        return
    batch = workdir / "cleanup.batch"
    batch.write_text("".join(f"netns del {name}\n" for name in names))
    run_quiet(["ip", "-force", "-batch", str(batch)])


def ping(netns: str, addr: str) -> bool:
    res = run_quiet(["ip", "netns", "exec", netns, "ping", "-c1", "-W1", bare(addr)])
    return res.returncode == 0


def verify_chain(namespaces: Sequence[str], n: int) -> list[str]:
    """Ping across the first and the last link; namespaces[i] is node i + 1."""
    addrs = chain_addresses(n)
    problems = []
    if not ping(namespaces[0], addrs[0][1]):
        problems.append(f"ping {namespaces[0]} -> {bare(addrs[0][1])} failed")
    if n > 2 and not ping(namespaces[-2], addrs[-1][1]):
        problems.append(f"ping {namespaces[-2]} -> {bare(addrs[-1][1])} failed")
    return problems


def _cpu_busy_ticks() -> tuple[int, int]:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _netns_objects() -> int | None:
    """Allocated struct net objects (live + not yet freed), from /proc/slabinfo."""
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                if line.startswith("net_namespace "):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def settle(max_wait: float) -> None:
    """Let the kernel finish the previous run's async namespace teardown (cleanup_net).

    Deleted namespaces are freed by kernel workers for a second or more afterwards and
    slow down whatever runs next.  Wait (at most max_wait seconds) until the number of
    allocated namespaces stops falling and the CPUs are mostly idle.
    """
    if max_wait <= 0:
        return
    deadline = time.monotonic() + max_wait
    calm = 0
    busy0, total0 = _cpu_busy_ticks()
    objs0 = _netns_objects()
    while time.monotonic() < deadline and calm < 3:
        time.sleep(0.25)
        busy1, total1 = _cpu_busy_ticks()
        objs1 = _netns_objects()
        busy = (busy1 - busy0) / max(1, total1 - total0)
        falling = objs0 is not None and objs1 is not None and objs1 < objs0
        calm = calm + 1 if busy < 0.25 and not falling else 0
        busy0, total0, objs0 = busy1, total1, objs1


# --------------------------------------------------------------------------- results


@dataclass
class Run:
    impl: str
    n: int
    status: str = "ok"  # ok | failed | timeout | skipped
    deploy: float | None = None
    destroy: float | None = None
    phases: dict[str, float] = field(default_factory=dict)
    peak_rss_kib: int | None = None
    rss_floor_kib: int | None = None  # peaks up to this are the bench's own RSS, not the tool's
    error: str | None = None

    @property
    def total(self) -> float | None:
        if self.deploy is None or self.destroy is None:
            return None
        return self.deploy + self.destroy

    def fail(self, err: BaseException | str) -> None:
        self.status = "failed"
        self.error = f"{self.error}; {err}" if self.error else str(err)
        log(f"    {self.impl} N={self.n} FAILED: {err}")

    def rss(self, res: ProcResult) -> None:
        self.peak_rss_kib = max(self.peak_rss_kib or 0, res.maxrss_kib)
        self.rss_floor_kib = max(self.rss_floor_kib or 0, res.rss_floor_kib)


@contextlib.contextmanager
def guarded(run: Run) -> Iterator[None]:
    """Record a BenchError as a failed run instead of aborting the benchmark."""
    try:
        yield
    except BenchError as exc:
        run.fail(exc)


# --------------------------------------------------------------------------- netknit


def find_netknit(override: str | None) -> list[str]:
    if override:
        return shlex.split(override)
    beside = Path(sys.executable).parent / "netknit"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    on_path = shutil.which("netknit")
    if on_path:
        return [on_path]
    return [sys.executable, "-m", "netknit"]


class Resident:
    """A resident netknit process on a socket of the bench's own (stopped by ``stop``)."""

    def __init__(self, cmd: list[str]) -> None:
        self.cmd = cmd
        self.dir = Path(tempfile.mkdtemp(prefix="nkbench-resident-"))
        self.env = {**os.environ, "NETKNIT_RESIDENT_SOCKET": str(self.dir / "r.sock")}
        subprocess.run([*cmd, "resident", "start", "--idle", "600"], env=self.env,
                       check=True, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        subprocess.run([*self.cmd, "resident", "stop"], env=self.env, check=False,
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def netknit_topology(lab: str, n: int) -> str:
    lines = [f"name: {lab}", "topology:", "  nodes:"]
    lines += [f"    n{i}: {{kind: netns}}" for i in range(1, n + 1)]
    lines.append("  links:")
    for k, (a, b) in enumerate(chain_addresses(n)):
        ea, eb = link_ifnames(k)
        lines.append(f'    - endpoints: ["n{k + 1}:{ea}", "n{k + 2}:{eb}"]')
        lines.append(f'      ipv4: ["{a}", "{b}"]')
    return "\n".join(lines) + "\n"


def check_netknit_lab(ns_prefix: str, n: int) -> None:
    """All n namespaces clab-<lab>-n<i> exist and the chain forwards on its end links."""
    present = list_netns(ns_prefix)
    by_node = {i: [ns for ns in present if ns.endswith(f"-n{i}")] for i in range(1, n + 1)}
    missing = [f"n{i}" for i, found in by_node.items() if not found]
    if missing or len(present) != n:
        more = " ..." if len(missing) > 5 else ""
        raise BenchError(
            f"after deploy: {len(present)} namespaces named {ns_prefix}*, expected {n}; "
            f"missing nodes: {missing[:5]}{more}"
        )
    problems = verify_chain([by_node[i][0] for i in range(1, n + 1)], n)
    if problems:
        raise BenchError("after deploy: " + "; ".join(problems))


def bench_netknit(n: int, suffix: str, cmd: list[str], timeout: float,
                  resident: Resident | None = None) -> Run:
    run = Run("netknit+resident" if resident else "netknit", n)
    env = resident.env if resident else {**os.environ, "NETKNIT_RESIDENT": "0"}
    lab = f"chain{n}x{suffix}{'r' if resident else ''}"
    ns_prefix = f"clab-{lab}-"
    workdir = Path(tempfile.mkdtemp(prefix=f"nkbench-{lab}-"))
    topo = workdir / f"{lab}.clab.yml"
    topo.write_text(netknit_topology(lab, n))
    deploy_argv = [*cmd, "deploy", "-t", str(topo), "--quiet"]
    destroy_argv = [*cmd, "destroy", "-t", str(topo), "--cleanup", "--quiet"]
    needs_destroy = False
    try:
        with guarded(run):
            log(f"  {run.impl} N={n}: deploy ({shlex.join(cmd)})")
            needs_destroy = True  # from here on, a partial lab may exist
            res = run_timed(deploy_argv, timeout=timeout, env=env)
            run.rss(res)
            res.check("netknit deploy")
            run.deploy = res.wall
            check_netknit_lab(ns_prefix, n)
        if run.deploy is not None:  # deploy itself worked: time the destroy too
            log(f"  {run.impl} N={n}: destroy")
            res = run_timed(destroy_argv, timeout=timeout, env=env)
            needs_destroy = False
            run.rss(res)
            with guarded(run):
                res.check("netknit destroy")
                run.destroy = res.wall
                left = list_netns(ns_prefix)
                if left:
                    raise BenchError(f"after destroy: {len(left)} namespaces {ns_prefix}* remain")
    finally:
        if needs_destroy:  # failed or interrupted deploy: let netknit clean up its own state
            with contextlib.suppress(Exception):
                run_timed(destroy_argv, timeout=120, env=env)
        left = list_netns(ns_prefix)
        if left:
            log(f"    cleanup: deleting {len(left)} leftover namespaces {ns_prefix}*")
            delete_netns(left, workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    return run


# --------------------------------------------------------------------------- ip -batch


def bench_ip_batch(n: int, suffix: str) -> Run:
    run = Run("ip-batch", n)
    ns_prefix = f"nkb{suffix}-"
    names = [f"{ns_prefix}n{i}" for i in range(1, n + 1)]
    addrs = chain_addresses(n)
    workdir = Path(tempfile.mkdtemp(prefix=f"nkbench-ipb{suffix}-"))
    try:
        # Batch files are written up front; only running them is timed.
        ns_add = workdir / "netns_add.batch"
        ns_add.write_text("".join(f"netns add {ns}\n" for ns in names))
        links = workdir / "links.batch"
        links.write_text(
            "".join(
                f"link add {link_ifnames(k)[0]} netns {names[k]} "
                f"type veth peer name {link_ifnames(k)[1]} netns {names[k + 1]}\n"
                for k in range(n - 1)
            )
        )
        cfg_files = []
        for i, ns in enumerate(names):
            cmds = ["link set lo up"]
            if i > 0:  # west end of link i - 1
                cmds += [f"addr add {addrs[i - 1][1]} dev w{i + 1}", f"link set w{i + 1} up"]
            if i < n - 1:  # east end of link i
                cmds += [f"addr add {addrs[i][0]} dev e{i + 1}", f"link set e{i + 1} up"]
            cfg = workdir / f"cfg-{i + 1}.batch"
            cfg.write_text("\n".join(cmds) + "\n")
            cfg_files.append((ns, cfg))
        ns_del = workdir / "netns_del.batch"
        ns_del.write_text("".join(f"netns del {ns}\n" for ns in names))

        with guarded(run):
            log(f"  ip-batch N={n}: deploy")
            res = run_timed(["ip", "-batch", str(ns_add)]).check("ip -batch netns add")
            run.rss(res)
            run.phases["netns"] = res.wall
            res = run_timed(["ip", "-batch", str(links)]).check("ip -batch link add")
            run.rss(res)
            run.phases["links"] = res.wall
            t0 = time.perf_counter()
            for ns, cfg in cfg_files:  # `-n` is not allowed inside a batch file
                cfg_res = subprocess.run(
                    ["ip", "-n", ns, "-batch", str(cfg)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    check=False,
                )
                if cfg_res.returncode != 0:
                    raise BenchError(f"ip -n {ns} -batch {cfg}: {cfg_res.stderr.decode().strip()}")
            run.phases["config"] = time.perf_counter() - t0
            run.deploy = sum(run.phases.values())

            present = set(list_netns(ns_prefix))
            if present != set(names):
                raise BenchError(f"after deploy: {len(present)} namespaces, expected {n}")
            problems = verify_chain(names, n)
            if problems:
                raise BenchError("after deploy: " + "; ".join(problems))

            log(f"  ip-batch N={n}: destroy")
            res = run_timed(["ip", "-batch", str(ns_del)]).check("ip -batch netns del")
            run.rss(res)
            run.destroy = res.wall
            if list_netns(ns_prefix):
                raise BenchError("after destroy: namespaces remain")
    finally:
        delete_netns(list_netns(ns_prefix), workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    return run


# --------------------------------------------------------------------------- Mininet


def mininet_installed() -> bool:
    status = run_quiet(["dpkg-query", "-W", "-f=${Status}", "mininet"]).stdout
    return MININET_DIR.is_dir() and status.strip() == "install ok installed"


def ensure_mininet() -> str | None:
    """Install Debian's mininet if needed (waiting for the dpkg lock). Returns an error or None."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found (Debian's mininet needs Debian's python3)"
    if mininet_installed():
        return None
    log("installing Debian package mininet (waits for the dpkg lock if busy) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    argv = [
        "apt-get", "-o", "DPkg::Lock::Timeout=900",
        "install", "-y", "--no-install-recommends", "mininet",
    ]  # fmt: skip
    res = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0 or not mininet_installed():
        return f"apt-get install mininet failed ({res.returncode}): {res.stderr.strip()[-800:]}"
    return None


def _our_shell_alive(pid: int, tag: bytes) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return tag in cmdline and state != "Z"


def bench_mininet(n: int, suffix: str, timeout: float) -> Run:
    run = Run("mininet", n)
    # Mininet interface names are <host>-eth<k> and must fit in 15 characters.
    prefix = "m" + suffix[: max(2, 15 - len(f"h{n}-eth1") - 1)]
    tag = f"mininet:{prefix}h".encode()  # argv of each Mininet host shell
    workdir = Path(tempfile.mkdtemp(prefix=f"nkbench-mn{suffix}-"))
    pid_file = workdir / "host-pids"
    env = {**os.environ, "PATH": f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/bin:/sbin:/bin"}
    argv = [SYSTEM_PYTHON, str(MININET_CHILD), str(n), prefix, "--pid-file", str(pid_file)]
    try:
        with guarded(run):
            log(f"  mininet N={n}: build + stop (timeout {timeout:.0f} s)")
            res = run_timed(argv, timeout=timeout, stderr_passthrough=True, env=env)
            run.rss(res)
            if res.timed_out:
                run.status = "timeout"
                run.error = f"timed out after {timeout:.0f} s"
                return run
            try:
                data = json.loads(res.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                res.check("mininet child")
                raise BenchError(f"mininet child printed no result: {res.stdout[-500:]}") from None
            run.deploy, run.destroy = data["deploy"], data["destroy"]
            run.phases = dict(data["phases"])
            run.phases["child process wall"] = res.wall  # incl. interpreter start + imports
            if data["verify_errors"]:
                raise BenchError("after build: " + "; ".join(data["verify_errors"]))
            if data["leftover_pids"]:
                raise BenchError(f"after stop: host shells still running: {data['leftover_pids']}")
            res.check("mininet child")
    finally:
        pids = [int(p) for p in pid_file.read_text().split()] if pid_file.exists() else []
        alive = [pid for pid in pids if _our_shell_alive(pid, tag)]
        if alive:
            log(f"    cleanup: killing {len(alive)} leftover Mininet host shells by pid")
            for pid in alive:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)  # each shell leads its own session
            time.sleep(0.5)
            still = [pid for pid in alive if _our_shell_alive(pid, tag)]
            if still and run.status == "ok":
                run.fail(f"host shells survived cleanup: {still}")
        shutil.rmtree(workdir, ignore_errors=True)
    return run


# --------------------------------------------------------------------------- report


def summarize(runs: Sequence[Run]) -> dict[str, Any]:
    """Median figures over the successful repetitions of one implementation and size."""
    good = [r for r in runs if r.status == "ok" and r.total is not None]
    statuses = sorted({r.status for r in runs})
    summary: dict[str, Any] = {
        "status": "ok" if good and len(good) == len(runs) else "/".join(statuses),
        "errors": [r.error for r in runs if r.error],
        "samples": [
            {k: v for k, v in asdict(r).items() if k not in ("impl", "n")} | {"total": r.total}
            for r in runs
        ],
    }
    if good:
        summary["deploy"] = statistics.median(r.deploy for r in good if r.deploy is not None)
        summary["destroy"] = statistics.median(r.destroy for r in good if r.destroy is not None)
        summary["total"] = statistics.median(r.total for r in good if r.total is not None)
        phase_names = dict.fromkeys(name for r in good for name in r.phases)  # keep order
        summary["phases"] = {
            p: statistics.median(r.phases[p] for r in good if p in r.phases) for p in phase_names
        }
    rss = [r.peak_rss_kib for r in runs if r.peak_rss_kib is not None]
    floor = [r.rss_floor_kib for r in runs if r.rss_floor_kib is not None]
    summary["peak_rss_mb"] = max(rss) / 1024 if rss else None
    summary["rss_floor_mb"] = max(floor) / 1024 if floor else None
    summary["peak_rss_is_floor"] = bool(rss and floor and max(rss) <= max(floor))
    return summary


def target_vs_ip_batch(n: int) -> float:
    return TARGET_VS_IP_BATCH[max(k for k in TARGET_VS_IP_BATCH if k <= n)]


def targets(n: int, size: dict[str, dict[str, Any]], mininet_timeout: float) -> dict[str, Any]:
    nk, nkr, ipb, mn = (size.get(impl, {}) for impl in IMPLS)
    nk_total, ipb_total, mn_total = nk.get("total"), ipb.get("total"), mn.get("total")
    out: dict[str, Any] = {}
    goal = target_vs_ip_batch(n)
    for name, total in (("netknit", nk_total), ("netknit+resident", nkr.get("total"))):
        if name == "netknit" or nkr.get("status") != "skipped":
            ratio = total / ipb_total if total and ipb_total else None
            out[f"{name}/ip-batch"] = {
                "value": ratio, "target": f"<= {goal}",
                "met": None if ratio is None else ratio <= goal,
            }  # fmt: skip
    lower_bound = False
    if mn_total is None and mn.get("status") == "timeout":
        mn_total, lower_bound = mininet_timeout, True  # Mininet took at least this long
    ratio = mn_total / nk_total if mn_total and nk_total else None
    out["Mininet/netknit"] = {
        "value": ratio, "target": f">= {TARGET_MININET_SPEEDUP}", "lower_bound": lower_bound,
        "met": None if ratio is None else ratio >= TARGET_MININET_SPEEDUP,
    }  # fmt: skip
    rss = nk.get("peak_rss_mb") if nk.get("status") == "ok" else None
    out["netknit peak RSS MB"] = {
        "value": rss, "target": f"< {TARGET_RSS_MB:g}", "upper_bound": nk.get("peak_rss_is_floor"),
        "met": None if rss is None else rss < TARGET_RSS_MB,
    }  # fmt: skip
    return out


def _fmt_s(value: float | None, status: str) -> str:
    if value is not None:
        return f"{value:.3f}"
    return {"skipped": "skipped", "timeout": "timeout"}.get(status, "failed" if status else "-")


def _verdict(t: dict[str, Any]) -> str:
    return {True: "met", False: "MISSED", None: "n/a"}[t["met"]]


def _print_rich(title: str, headers: list[str], rows: list[list[str]], notes: list[str]) -> bool:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        return False
    table = Table(title=title)
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if 0 < i < 6 else "left")
    for row in rows:
        table.add_row(*row)
    console = Console()
    if not console.is_terminal:
        console.width = 140  # a log or a pipe: keep "median (min–max)" cells on one line
    console.print(table)
    for line in notes:
        console.print("  " + line, highlight=False, markup=False, soft_wrap=True)
    console.print()
    return True


def _print_plain(title: str, headers: list[str], rows: list[list[str]], notes: list[str]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(title)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    for line in notes:
        print("  " + line)
    print()


def _spread(s: dict[str, Any], key: str) -> str:
    """median (min–max) over the successful samples, or the status."""
    stat = Stat.of([x[key] for x in s["samples"] if x["status"] == "ok"])
    return stat.show(unit="").replace("  ", " ") if stat.values else _fmt_s(None, s["status"])


def print_tables(report: dict[str, Any]) -> None:
    headers = ["implementation", "deploy s", "destroy s", "total s", "ms/node", "peak RSS MB"]
    per_node: dict[str, list[str]] = {impl: [] for impl in IMPLS}
    for n_key, size in report["results"].items():
        rows, notes = [], []
        for impl in IMPLS:
            s = size[impl]
            status = s["status"]
            rss = s.get("peak_rss_mb")
            total = s.get("total")
            node_ms = "-" if total is None else f"{1000 * total / int(n_key):.2f}"
            if total is not None:
                per_node[impl].append(f"N={n_key} {node_ms}")
            rows.append([
                impl,
                _spread(s, "deploy"),
                _spread(s, "destroy"),
                _spread(s, "total"),
                node_ms,
                "-" if rss is None else f"{'≤' if s['peak_rss_is_floor'] else ''}{rss:.1f}",
            ])  # fmt: skip
            if s.get("phases"):
                phases = ", ".join(f"{k} {v:.3f}" for k, v in s["phases"].items())
                notes.append(f"{impl} phases (s): {phases}")
            notes += [f"{impl} {status}: {err.splitlines()[0]}" for err in s["errors"]]
        for name, t in report["targets"][n_key].items():
            value = t["value"]
            bound = ">" if t.get("lower_bound") else "≤" if t.get("upper_bound") else ""
            shown = "n/a" if value is None else f"{bound}{value:.2f}"
            notes.append(f"{name}: {shown} (target {t['target']}) -> {_verdict(t)}")
        notes.append(TARGETS_TEXT)
        title = f"chain N={n_key} (median (min–max) of {report['repeat']})"
        if not _print_rich(title, headers, rows, notes):
            _print_plain(title, headers, rows, notes)
    if len(report["results"]) > 1:
        print("total ms per node (linear cost: the same at every N):")
        for impl, figures in per_node.items():
            if figures:
                print(f"  {impl}: {', '.join(figures)}")


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Deploy/destroy a chain of N netns: netknit vs ip -batch vs Mininet."
    )
    p.add_argument("--sizes", default="100,500", help="comma-separated chain lengths (100,500)")
    p.add_argument("--repeat", type=int, default=1, help="repetitions per size (median shown)")
    p.add_argument("--skip-netknit", action="store_true", help="only run the baselines")
    p.add_argument("--skip-mininet", action="store_true")
    p.add_argument("--no-resident", action="store_true",
                   help="leave out netknit through a resident process")
    p.add_argument("--netknit", metavar="CMD", help="netknit command line (default: auto)")
    p.add_argument("--netknit-timeout", type=float, default=600.0, metavar="S")
    p.add_argument("--mininet-timeout", type=float, default=900.0, metavar="S")
    p.add_argument(
        "--settle", type=float, default=5.0, metavar="S",
        help="max seconds to wait for the kernel's async netns teardown between runs (0: off)",
    )  # fmt: skip
    p.add_argument("--format", choices=("table", "json"), default="table")
    args = p.parse_args(argv)
    try:
        args.sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    except ValueError:
        p.error("--sizes must be comma-separated integers")
    if not args.sizes or min(args.sizes) < 2:
        p.error("--sizes: every size must be >= 2")
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    return args


def _sigterm(signum: int, _frame: object) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        log("chain.py must run as root (network namespaces): sudo python3 bench/chain.py")
        return 2
    signal.signal(signal.SIGTERM, _sigterm)
    suffix = os.urandom(3).hex()
    netknit_cmd = None if args.skip_netknit else find_netknit(args.netknit)
    mininet_error = None if args.skip_mininet else ensure_mininet()
    if mininet_error:
        log(f"mininet unavailable: {mininet_error}")
    log(f"chain benchmark: sizes {args.sizes}, repeat {args.repeat}, run id {suffix}")

    runs: dict[int, dict[str, list[Run]]] = {n: {impl: [] for impl in IMPLS} for n in args.sizes}
    resident = None
    if netknit_cmd is not None and not args.no_resident:
        resident = Resident(netknit_cmd)
    try:
        for n in args.sizes:
            for rep in range(args.repeat):
                tag = f"{suffix}{rep}" if args.repeat > 1 else suffix
                log(f"N={n}" + (f" repetition {rep + 1}/{args.repeat}" if args.repeat > 1 else ""))
                if netknit_cmd is None:
                    runs[n]["netknit"].append(Run("netknit", n, status="skipped"))
                else:
                    runs[n]["netknit"].append(
                        bench_netknit(n, tag, netknit_cmd, args.netknit_timeout)
                    )
                    settle(args.settle)
                if resident is None or netknit_cmd is None:
                    runs[n]["netknit+resident"].append(Run("netknit+resident", n,
                                                           status="skipped"))
                else:
                    done = bench_netknit(n, tag, netknit_cmd, args.netknit_timeout, resident)
                    # the work is in the resident's children, not in the caller timed
                    done.peak_rss_kib = done.rss_floor_kib = None
                    runs[n]["netknit+resident"].append(done)
                    settle(args.settle)
                runs[n]["ip-batch"].append(bench_ip_batch(n, tag))
                settle(args.settle)
                if args.skip_mininet:
                    runs[n]["mininet"].append(Run("mininet", n, status="skipped"))
                elif mininet_error:
                    mn = Run("mininet", n)
                    mn.fail(mininet_error)
                    runs[n]["mininet"].append(mn)
                else:
                    runs[n]["mininet"].append(bench_mininet(n, tag, args.mininet_timeout))
                    settle(args.settle)
    except KeyboardInterrupt:
        log("interrupted; everything this run created has been removed")
        return 130
    finally:
        if resident is not None:
            resident.stop()

    results = {
        str(n): {impl: summarize(impl_runs) for impl, impl_runs in by_impl.items()}
        for n, by_impl in runs.items()
    }
    report = {
        "benchmark": "chain",
        "sizes": args.sizes,
        "repeat": args.repeat,
        "netknit_cmd": netknit_cmd,
        "machine": {
            "kernel": platform.release(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "results": results,
        "targets": {k: targets(int(k), v, args.mininet_timeout) for k, v in results.items()},
        "targets_text": TARGETS_TEXT,
    }
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print_tables(report)

    failed = [
        f"{impl} N={n}"
        for n, by_impl in runs.items()
        for impl, impl_runs in by_impl.items()
        if any(r.status == "failed" for r in impl_runs)
    ]
    if failed:
        log("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
