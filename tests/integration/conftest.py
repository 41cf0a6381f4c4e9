"""Fixtures for tests that drive the real kernel through the public CLI and API.

Every lab gets a unique name (and unique host-side interface names), and every test
asserts that nothing of its lab is left afterwards: namespaces, host interfaces, processes.
"""

from __future__ import annotations

import os
import pty
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("integration tests need root (network namespaces)", allow_module_level=True)


def netknit() -> list[str]:
    """The argv that runs ``netknit`` from the tests' interpreter."""
    return [sys.executable, "-m", "netknit"]


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``netknit`` as a user would (a separate process), capturing its output."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([*netknit(), *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def on_terminal(argv: list[str], answer: str, *, cwd: Path | None = None,
                env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``argv`` with a terminal as stdin and type ``answer`` at its prompt; its exit
    status and what it printed (stdout and stderr together)."""
    main, child = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=child, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    os.close(child)
    os.write(main, answer.encode() + b"\n")
    out, _ = proc.communicate(timeout=300)
    os.close(main)
    return proc.returncode, out.decode(errors="replace")


def host_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                         check=True).stdout
    return {line.split(": ")[1].split("@")[0] for line in out.splitlines()}


# Docker's own devices: the host ends of its veths and the bridges of its networks (named
# after the network's id). Never a test's names, but their hex digits can hold a test's
# 4-hex tag (seen when other labs ran, and with a network left by an engine that died)
DOCKER_OWN = re.compile(r"veth[0-9a-f]{7}|br-[0-9a-f]{12}")


def links_with(tag: str) -> set[str]:
    """The host's links whose names hold ``tag`` (a test's), Docker's own left out."""
    return {n for n in host_links() if tag in n and not DOCKER_OWN.fullmatch(n)}


def netns_names() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


def processes_with(token: str) -> list[int]:
    """Pids whose command line contains ``token`` as a word of its own, not inside a longer
    hex string such as a container id (a check only: we never kill by name)."""
    word = re.compile(rb"(?<![0-9a-f])" + re.escape(token.encode()) + rb"(?![0-9a-f])")
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                zombie = f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
        except OSError:
            continue
        if word.search(cmdline) and not zombie and int(entry) != os.getpid():
            found.append(int(entry))
    return found


def mounts_of(prefix: str) -> list[str]:
    """Mount points in the host's table, and files kept for nodes' own views, named for
    the lab's nodes (``prefix``); not the namespaces' own in /run/netns (listed as
    netns)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        points = [line.split()[4] for line in f]
    try:
        kept = [f"/run/netknit/ns/{n}" for n in os.listdir("/run/netknit/ns")]
    except FileNotFoundError:
        kept = []
    return sorted({p for p in [*points, *kept]
                   if f"/{prefix}" in p and not p.startswith("/run/netns/")})


def pair(ipv4: tuple[str, str] | None = None) -> str:
    """A lab of two namespace nodes a and b joined a:eth1 -- b:eth1 (for ``Lab.write``)."""
    text = ("name: LAB\ntopology:\n  nodes:\n    a: {kind: netns}\n    b: {kind: netns}\n"
            "  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n")
    if ipv4:
        text += f'      ipv4: ["{ipv4[0]}", "{ipv4[1]}"]\n'
    return text


@dataclass
class Lab:
    """A unique lab: its name, a token for its host-side names, and its directory."""

    name: str
    tag: str  # 4 hex chars, for host-side interface names (<= 15 chars)
    dir: Path

    @property
    def prefix(self) -> str:
        return f"clab-{self.name}-"

    def write(self, text: str, filename: str = "lab.clab.yml") -> Path:
        path = self.dir / filename
        path.write_text(text.replace("LAB", self.name).replace("TAG", self.tag))
        return path

    def leftovers(self) -> list[str]:
        left = [f"netns {n}" for n in netns_names() if n.startswith(self.prefix)]
        left += [f"link {n}" for n in sorted(links_with(self.tag))]
        left += [f"pid {p}" for p in processes_with(self.tag)]
        left += [f"mount {p}" for p in mounts_of(self.prefix)]
        if f"###### CLAB-{self.name}-START ######" in Path("/etc/hosts").read_text():
            left.append("/etc/hosts block")
        if Path(f"/etc/ssh/ssh_config.d/clab-{self.name}.conf").exists():
            left.append("ssh config")
        return left



def crash_sweep(attempt: Callable[[dict[str, str]], subprocess.CompletedProcess[str]],
                limit: int) -> int:
    """Run ``attempt(env)`` with ``NETKNIT_TEST_CRASH_AT`` = 1, 2, …: each run must be
    killed at its crash point (SIGKILL) until one goes past the last point and succeeds,
    before point ``limit``. The attempt checks what it left; returns how many were killed."""
    point = 1
    while True:
        done = attempt({"NETKNIT_TEST_CRASH_AT": str(point)})
        if done.returncode == 0:
            return point - 1  # past the last crash point: it completed
        assert done.returncode == -signal.SIGKILL, done.stderr
        point += 1
        assert point < limit

@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    tag = secrets.token_hex(2)
    the_lab = Lab(name=f"t{tag}{secrets.token_hex(2)}", tag=tag, dir=tmp_path)
    yield the_lab
    # whatever the test did, remove the lab through netknit itself, then insist it is gone
    for topo in tmp_path.glob("*.clab.yml"):
        run_cli("destroy", "-t", str(topo), "--quiet")
    assert the_lab.leftovers() == []


@dataclass
class SimHost:
    """A simulated machine: a network namespace with its own "host" namespace view, in
    which netknit runs under ``ip netns exec`` with its own lab directory."""

    name: str  # the namespace
    address: str  # its underlay address
    labdir: Path

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "COLUMNS": "200", "CLAB_LABDIR_BASE": str(self.labdir)}
        return subprocess.run(["ip", "netns", "exec", self.name, sys.executable, "-m",
                               "netknit", *args], env=full_env, capture_output=True,
                              text=True, timeout=timeout, check=False)

    def sh(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """A command in the simulated host's network namespace."""
        return subprocess.run(["ip", "netns", "exec", self.name, *argv],
                              capture_output=True, text=True, timeout=60, check=False)

    def links(self) -> set[str]:
        out = self.sh("ip", "-o", "link", "show").stdout
        return {line.split(": ")[1].split("@")[0] for line in out.splitlines()}


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, text=True)


@pytest.fixture
def two_hosts(lab: Lab) -> Iterator[tuple[SimHost, SimHost]]:
    """Two simulated hosts joined by a veth underlay (192.0.2.1/24 <-> 192.0.2.2/24)."""
    hosts = (SimHost(f"nkt-{lab.tag}-hA", "192.0.2.1", lab.dir / "hostA"),
             SimHost(f"nkt-{lab.tag}-hB", "192.0.2.2", lab.dir / "hostB"))
    try:
        for host in hosts:
            host.labdir.mkdir()
            _ip("netns", "add", host.name)
            _ip("-n", host.name, "link", "set", "lo", "up")
        a, b = hosts
        _ip("link", "add", "ul0", "netns", a.name, "type", "veth", "peer", "name", "ul0",
            "netns", b.name)
        for host in hosts:
            _ip("-n", host.name, "addr", "add", f"{host.address}/24", "dev", "ul0")
            _ip("-n", host.name, "link", "set", "ul0", "up")
        yield hosts
    finally:
        topos = list(lab.dir.glob("*.clab.yml"))
        for host in hosts:
            for topo in topos:
                host.cli("destroy", "-t", str(topo), "--quiet")
        for host in hosts:
            subprocess.run(["ip", "netns", "del", host.name], capture_output=True, check=False)
