"""Lab files from containerlab's documentation and examples (examples/clab/, images
replaced by local test images) deploy unchanged on real Docker, do what a user checks
(traffic across every link, exec output, files, routes), and destroy leaves nothing."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from netknit.runtimes.docker import BUSYBOX
from tests.docker.conftest import DockerLab
from tests.integration.conftest import run_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "clab"
#: The stand-in for alpine in the examples: every applet of Debian's busybox-static.
ALL_IMAGE = "netknit-test/busybox:all"


@pytest.fixture(scope="module")
def all_image(docker_api: Any) -> str:
    import docker
    from netknit.runtimes.docker import build_busybox_image

    try:
        docker_api.inspect_image(ALL_IMAGE)
    except docker.errors.NotFound:
        listed = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                                check=True).stdout.split()
        build_busybox_image(docker_api, ALL_IMAGE, ["/bin/sh"],
                            [a for a in listed if a != "busybox"])
    return ALL_IMAGE


class Example:
    """An example copied, byte for byte, into the test's directory; its lab's leftovers
    are looked for under the lab's name."""

    def __init__(self, name: str, tmp_path: Path, api: Any) -> None:
        source = EXAMPLES / name
        if source.is_dir():  # a lab with its files beside it
            shutil.copytree(source, tmp_path / name)
            self.topo = next((tmp_path / name).glob("*.clab.yml"))
            original = next(source.glob("*.clab.yml"))
        else:
            self.topo = tmp_path / name
            shutil.copyfile(source, self.topo)
            original = source
        assert self.topo.read_bytes() == original.read_bytes()
        self.data = yaml.safe_load(self.topo.read_text())
        self.lab = DockerLab(name=self.data["name"], tag=secrets.token_hex(4), dir=self.topo.parent)
        self.lab.api = api

    def container(self, node: str) -> str:
        return f"clab-{self.lab.name}-{node}"

    def sh(self, node: str, *argv: str) -> tuple[int, str]:
        api = self.lab.api
        ex = api.exec_create(self.container(node), list(argv))
        out = api.exec_start(ex["Id"]).decode(errors="replace")
        return int(api.exec_inspect(ex["Id"])["ExitCode"]), out

    def deploy(self) -> str:
        deployed = run_cli("deploy", "-t", str(self.topo))
        assert deployed.returncode == 0, deployed.stderr
        return deployed.stdout + deployed.stderr

    def links(self) -> list[tuple[str, str, str, str]]:
        return [(*a.split(":"), *b.split(":")) for a, b in
                (link["endpoints"] for link in self.data["topology"]["links"])]

    def ping_every_link(self, timeout: float = 30) -> None:
        """Across each link, both ways, to the peer's IPv6 link-local address: no
        address needs configuring. Waits for duplicate address detection to end."""
        for a, ia, b, ib in self.links():
            for (src, sif), (dst, dif) in (((a, ia), (b, ib)), ((b, ib), (a, ia))):
                deadline = time.monotonic() + timeout
                while True:
                    _, text = self.sh(dst, "ip", "-6", "-o", "addr", "show", "dev", dif,
                                      "scope", "link")
                    address = text.split()[3].split("/")[0] if "tentative" not in text \
                        and len(text.split()) > 3 else ""
                    code, out = self.sh(src, "ping", "-c1", "-W1", f"{address}%{sif}") \
                        if address else (1, text)
                    if code == 0:
                        break
                    assert time.monotonic() < deadline, \
                        f"no answer across {src}:{sif} -> {dst}:{dif}: {out}"
                    time.sleep(0.2)

    def destroy(self) -> None:
        gone = run_cli("destroy", "-t", str(self.topo), "--cleanup")
        assert gone.returncode == 0, gone.stderr
        assert self.lab.leftovers() == []
        assert not (self.topo.parent / f"clab-{self.lab.name}").exists()


@pytest.fixture
def example(tmp_path: Path, docker_api: Any, all_image: str) -> Iterator[Any]:
    made: list[Example] = []

    def copy(name: str) -> Example:
        made.append(Example(name, tmp_path, docker_api))
        return made[-1]

    yield copy
    for one in made:  # a failed test's lab goes too
        run_cli("destroy", "-t", str(one.topo), "--cleanup")
        assert one.lab.leftovers() == []


def test_linux_kind_demo_two_alpine_like_nodes_stay_up_and_talk(example: Any) -> None:
    ex = example("linux-demo.clab.yml")
    ex.deploy()
    for node in ("n1", "n2"):
        assert ex.sh(node, "ip", "link", "show", "eth1")[0] == 0
    ex.ping_every_link()  # seconds: duplicate address detection first
    for node in ("n1", "n2"):  # a shell as the image's command stays up (Tty, OpenStdin)
        found = ex.lab.container(node)
        assert found["State"]["Running"] and found["RestartCount"] == 0, found["State"]
    ex.destroy()


def test_exec_with_the_node_s_environment(example: Any) -> None:
    ex = example("exec-env.clab.yml")
    out = ex.deploy()
    # `$$FOO` is a literal `$FOO` for the node's shell, which has FOO from `env`
    assert "test $ ash -c 'echo $FOO'  (exit 0)\nBAR\n" in out
    code, env = ex.sh("test", "env")
    assert code == 0 and "FOO=BAR" in env.splitlines()
    ex.destroy()


def test_node_filter_lab_of_defaults_only_wires_its_ring(example: Any) -> None:
    ex = example("node-filter.clab.yml")
    ex.deploy()
    for node in ("node1", "node2", "node3", "node4"):
        assert ex.lab.container(node)["Config"]["Labels"]["clab-node-kind"] == "linux"
    assert len(ex.links()) == 5
    ex.ping_every_link()
    ex.destroy()


def test_frr01_groups_binds_and_exec(example: Any) -> None:
    ex = example("frr01")
    out = ex.deploy()
    assert "PC1 $ ip route add 10.10.10.0/24 via 192.168.11.1 dev eth1  (exit 0)" in out
    for node, group in (("router1", "routers"), ("PC3", "hosts")):
        assert ex.lab.container(node)["Config"]["Labels"]["clab-node-group"] == group
    for router in ("router1", "router2", "router3"):  # binds, relative to the file
        for name in ("daemons", "frr.conf"):
            code, text = ex.sh(router, "cat", f"/etc/frr/{name}")
            assert code == 0 and text == (ex.topo.parent / router / name).read_text()
    for pc, net in (("PC1", 11), ("PC2", 12), ("PC3", 13)):  # what exec configured
        _, routes = ex.sh(pc, "ip", "-4", "route")
        assert f"192.168.0.0/16 via 192.168.{net}.1 dev eth1" in routes
        assert f"192.168.{net}.0/24 dev eth1" in routes
    ex.ping_every_link()
    ex.destroy()
