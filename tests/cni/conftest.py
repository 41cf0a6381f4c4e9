"""Fixtures for CNI tests: the plugin installed (as a runtime would) in a private bin
dir next to Debian's reference plugins, veth ends as stand-in NICs, scratch namespaces,
and a call helper. Every name a test makes is ``nkc<random>``; all removed at teardown."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from netknit.cni.install import install_binaries

REFERENCE_DIR = Path("/usr/lib/cni")


@pytest.fixture(scope="session")
def bin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CNI_PATH: netknit's launchers plus links to the reference plugins."""
    assert (REFERENCE_DIR / "host-device").exists(), (
        "Debian's containernetworking-plugins are missing: scripts/setup.sh --test installs them")
    d = tmp_path_factory.mktemp("cnibin")
    install_binaries(d)
    for plugin in REFERENCE_DIR.iterdir():
        (d / plugin.name).symlink_to(plugin)
    return d


@pytest.fixture
def tag() -> str:
    return "nkc" + secrets.token_hex(3)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _ip_quiet(*args: str) -> None:
    subprocess.run(["ip", *args], check=False, capture_output=True)


@pytest.fixture
def scratch(tag: str) -> Iterator[Callable[..., Any]]:
    """``scratch.netns(suffix)`` → /run/netns path; ``scratch.nic(suffix)`` → a veth end
    in the host (its peer stays in the host too). All removed at teardown."""
    made_ns: list[str] = []
    made_links: list[str] = []

    class Scratch:
        def netns(self, suffix: str = "c") -> str:
            name = f"{tag}{suffix}"
            _ip("netns", "add", name)
            made_ns.append(name)
            return f"/run/netns/{name}"

        def nic(self, suffix: str = "d", *, up: bool = True, mtu: int = 1500) -> str:
            name = f"{tag}{suffix}"
            _ip("link", "add", name, "mtu", str(mtu), "type", "veth", "peer", "name",
                f"{name}p")
            if up:
                _ip("link", "set", name, "up")
            made_links.append(name)
            return name

    yield Scratch()
    for name in made_ns:
        _ip_quiet("netns", "del", name)
    for name in made_links:
        _ip_quiet("link", "del", name)
        _ip_quiet("link", "del", f"{name}p")


CniCall = Callable[..., "tuple[int, Any]"]


@pytest.fixture
def cni(bin_dir: Path) -> CniCall:
    """``cni("ADD", conf, netns=..., ifname=..., cid=...)`` → (exit code, parsed stdout)."""

    def call(command: str, conf: Any, *, netns: str = "", ifname: str = "eth0",
             cid: str = "nkctest", plugin: str = "netknit-cni",
             extra_env: dict[str, str] | None = None) -> tuple[int, Any]:
        env = {"PATH": os.environ.get("PATH", ""), "CNI_COMMAND": command,
               "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": ifname,
               "CNI_PATH": str(bin_dir), **(extra_env or {})}
        data = conf if isinstance(conf, bytes) else json.dumps(conf).encode()
        proc = subprocess.run([str(bin_dir / plugin)], input=data, env=env,
                              capture_output=True, check=False, timeout=60)
        out = proc.stdout.strip()
        return proc.returncode, (json.loads(out) if out else None)

    return call


def link_names(netns: str | None = None) -> dict[str, dict[str, Any]]:
    cmd = ["ip", "-j", "-d", "link", "show"]
    if netns:
        cmd = ["ip", "-n", netns.rsplit("/", 1)[-1], "-j", "-d", "link", "show"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return {link["ifname"]: link for link in json.loads(out)}
