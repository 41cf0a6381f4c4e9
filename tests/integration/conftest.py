"""Fixtures for tests that drive the real kernel through the public CLI and API.

Every lab gets a unique name (and unique host-side interface names), and every test
asserts that nothing of its lab is left afterwards: namespaces, host interfaces, processes.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("integration tests need root (network namespaces)", allow_module_level=True)


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``netknit`` as a user would (a separate process), capturing its output."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "netknit", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def host_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                         check=True).stdout
    return {line.split(": ")[1].split("@")[0] for line in out.splitlines()}


def netns_names() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


def processes_with(token: str) -> list[int]:
    """Pids whose command line contains ``token`` (a check only: we never kill by name)."""
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
        if token.encode() in cmdline and not zombie and int(entry) != os.getpid():
            found.append(int(entry))
    return found


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
        left += [f"link {n}" for n in host_links() if self.tag in n]
        left += [f"pid {p}" for p in processes_with(self.tag)]
        return left


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    tag = secrets.token_hex(2)
    the_lab = Lab(name=f"t{tag}{secrets.token_hex(2)}", tag=tag, dir=tmp_path)
    yield the_lab
    # whatever the test did, remove the lab through netknit itself, then insist it is gone
    for topo in tmp_path.glob("*.clab.yml"):
        run_cli("destroy", "-t", str(topo), "--quiet")
    assert the_lab.leftovers() == []
