"""Fixtures for Docker node tests: a real Docker engine (started by `scripts/test.sh`),
test images built locally from Debian's busybox-static, and labs checked for leftovers
(containers and networks by the lab's label, namespaces, host interfaces)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Lab, run_cli

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("Docker node tests need root", allow_module_level=True)

IMAGE = "netknit-test/busybox:latest"
#: An image whose CMD carries arguments with spaces and quotes (the gate must keep them).
ARGS_IMAGE = "netknit-test/args:latest"
ARGS_CMD = ["/bin/sh", "-c", 'ip -o link show eth1 >/dev/null && for a in "$@"; do '
            'echo "[$a]"; done; sleep 3600', "argv0", "a b", "c'd", 'e"f', "  g  "]
_APPLETS = ("sh", "ip", "sleep", "cat", "ping", "ls", "echo", "printf", "date", "grep",
            "sed", "env", "true", "false", "test", "[", "ifconfig", "hostname", "wc", "tr")


@pytest.fixture(scope="session")
def docker_api() -> Any:
    """The Engine API. A missing engine fails the tests: CI must provide one."""
    import docker
    from netknit.runtimes.docker import build_busybox_image, engine_client

    try:  # the engine netknit itself talks to (DOCKER_HOST)
        api = engine_client(timeout=60)
        api.ping()
    except Exception as exc:
        pytest.fail(f"no Docker engine ({exc}); run scripts/docker.sh (scripts/test.sh does)")
    for ref, cmd in ((IMAGE, ["/bin/sh"]), (ARGS_IMAGE, ARGS_CMD)):
        try:
            api.inspect_image(ref)
        except docker.errors.NotFound:
            build_busybox_image(api, ref, cmd, _APPLETS)
    return api


@dataclass
class DockerLab(Lab):
    api: Any = None
    #: management networks of the test's own (``mgmt: network:``): gone at its end
    networks: list[str] = field(default_factory=list)

    def containers(self) -> list[dict[str, Any]]:
        """The lab's workloads (containerlab's label) and sandboxes (netknit's only)."""
        found = {c["Id"]: c for label in (f"containerlab={self.name}",
                                          f"netknit.lab-dir={self.dir / f'clab-{self.name}'}")
                 for c in self.api.containers(all=True, filters={"label": label})}
        return list(found.values())

    def leftovers(self) -> list[str]:
        left = super().leftovers()
        left += [f"container {c['Names'][0]}" for c in self.containers()]
        left += [f"network {n['Name']}" for n in
                 self.api.networks(filters={"label": f"containerlab={self.name}"})]
        left += [f"network {n['Name']}" for n in self.api.networks(names=self.networks)
                 if n["Name"] in self.networks] if self.networks else []
        return left

    def container(self, node: str) -> dict[str, Any]:
        return dict(self.api.inspect_container(f"clab-{self.name}-{node}"))

    def logs(self, node: str) -> str:
        return bytes(self.api.logs(f"clab-{self.name}-{node}")).decode(errors="replace")


@pytest.fixture
def dlab(tmp_path: Path, docker_api: Any) -> Iterator[DockerLab]:
    tag = secrets.token_hex(2)
    the_lab = DockerLab(name=f"d{tag}{secrets.token_hex(2)}", tag=tag, dir=tmp_path)
    the_lab.api = docker_api
    yield the_lab
    for topo in tmp_path.glob("*.clab.yml"):
        run_cli("destroy", "-t", str(topo), "--quiet")
    assert the_lab.leftovers() == []
