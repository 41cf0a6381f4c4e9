"""Image pulls per ``image-pull-policy`` against a real registry: Debian's
``docker-registry`` (distribution 2.8) on 127.0.0.1, which Docker treats as an insecure
registry it may use over plain HTTP. Every image the tests push or pull carries a unique
tag and is removed afterwards."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.docker.conftest import ARGS_IMAGE, IMAGE, DockerLab
from tests.integration.conftest import run_cli

LAB = """
name: LAB
topology:
  defaults: {image-pull-policy: POLICY}
  nodes:
    a: {kind: linux, image: "REF", cmd: "sleep 3600", exec: ["ip addr add 10.9.0.1/24 dev eth1"]}
    b: {kind: linux, image: "REF", cmd: "sleep 3600", exec: ["ip addr add 10.9.0.2/24 dev eth1"]}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Registry:
    """A registry process of this test, and the image references it made."""

    api: Any
    port: int
    proc: subprocess.Popen[bytes] | None = None
    refs: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def ref(self) -> str:
        """A fresh reference in this registry (nothing there yet, nothing local)."""
        made = f"{self.host}/netknit-test/pull:{secrets.token_hex(4)}"
        self.refs.append(made)
        return made

    def push(self, source: str, ref: str) -> str:
        """Push ``source`` as ``ref``; the local ``ref`` stays. Returns the image id."""
        repo, _, tag = ref.rpartition(":")
        self.api.tag(source, repo, tag)
        for message in self.api.push(repo, tag=tag, stream=True, decode=True):
            assert "error" not in message, message
        return str(self.api.inspect_image(ref)["Id"])

    def local(self, ref: str) -> str | None:
        """The id of the local ``ref``, None when there is none."""
        import docker

        try:
            return str(self.api.inspect_image(ref)["Id"])
        except docker.errors.NotFound:
            return None

    def forget(self, ref: str) -> None:
        """Remove the local ``ref`` (the image stays under its other names)."""
        if self.local(ref) is not None:
            self.api.remove_image(ref)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # our own child, by its pid
            self.proc.wait(timeout=30)


@pytest.fixture
def registry(tmp_path: Path, docker_api: Any) -> Iterator[Registry]:
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is missing: run scripts/setup.sh --test")
    store = tmp_path / "registry"
    store.mkdir()
    reg = Registry(docker_api, _free_port())
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: "
                      f"{{rootdirectory: {store}}}\nhttp:\n  addr: {reg.host}\n")
    reg.proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL,
                                stderr=(tmp_path / "registry.log").open("wb"))
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://{reg.host}/v2/", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        assert reg.proc.poll() is None, (tmp_path / "registry.log").read_text()
        assert time.monotonic() < deadline, "the registry did not answer within 30s"
        time.sleep(0.05)
    try:
        yield reg
    finally:
        reg.stop()
        for ref in reg.refs:
            reg.forget(ref)
        # a pull also leaves the registry's digest as a name of the image
        for image in docker_api.images(all=True):
            for name in image.get("RepoDigests") or ():
                if name.startswith(f"{reg.host}/"):
                    docker_api.remove_image(name)


def _lab(dlab: DockerLab, ref: str, policy: str) -> Path:
    return dlab.write(LAB.replace("REF", ref).replace("POLICY", policy))


def _ping(dlab: DockerLab) -> None:
    ex = dlab.api.exec_create(f"clab-{dlab.name}-a", ["ping", "-c1", "-W2", "10.9.0.2"])
    out = dlab.api.exec_start(ex["Id"]).decode()
    assert dlab.api.exec_inspect(ex["Id"])["ExitCode"] == 0, out


def _flat(text: str) -> str:
    """Output as one line: the CLI wraps long lines at the terminal's width."""
    return " ".join(text.split())


def _deployed(topo: Path) -> str:
    deployed = run_cli("deploy", "-t", str(topo))
    assert deployed.returncode == 0, deployed.stderr
    return _flat(deployed.stderr)


def _refused(dlab: DockerLab, topo: Path, env: dict[str, str] | None = None) -> str:
    """The deploy's error (flat), after checking that it created nothing."""
    failed = run_cli("deploy", "-t", str(topo), env=env)
    assert failed.returncode == 1, failed.stderr
    assert "Traceback" not in failed.stderr
    assert dlab.leftovers() == []
    assert not (dlab.dir / f"clab-{dlab.name}").exists()
    return _flat(failed.stderr)


def _destroy(dlab: DockerLab, topo: Path) -> None:
    gone = run_cli("destroy", "-t", str(topo), "--cleanup")
    assert gone.returncode == 0, gone.stderr
    assert dlab.leftovers() == []


def test_if_not_present_pulls_a_missing_image_once_and_the_lab_runs(
        dlab: DockerLab, registry: Registry) -> None:
    ref = registry.ref()
    pushed = registry.push(IMAGE, ref)
    registry.forget(ref)
    topo = _lab(dlab, ref, "IfNotPresent")
    text = _deployed(topo)
    # one pull for the two nodes, saying from where and why
    assert text.count(f"pulling {ref} from {registry.host} (not found locally)") == 1
    assert f"pulled {ref}" in text
    assert registry.local(ref) == pushed
    assert dlab.container("a")["Image"] == dlab.container("b")["Image"] == pushed
    _ping(dlab)
    _destroy(dlab, topo)


def test_a_present_image_is_used_without_asking_the_registry(
        dlab: DockerLab, registry: Registry) -> None:
    ref = registry.ref()
    pushed = registry.push(IMAGE, ref)
    registry.stop()  # any contact would now fail the deploy
    topo = _lab(dlab, ref, "IfNotPresent")
    assert "pulling" not in _deployed(topo)
    assert dlab.container("a")["Image"] == pushed
    _ping(dlab)
    _destroy(dlab, topo)


def test_always_pulls_again_and_the_nodes_run_the_registry_s_image(
        dlab: DockerLab, registry: Registry) -> None:
    ref = registry.ref()
    newer = registry.push(ARGS_IMAGE, ref)  # the registry's image under ref ...
    registry.api.tag(IMAGE, *ref.rsplit(":", 1))  # ... and another one locally
    older = registry.local(IMAGE)
    assert registry.local(ref) == older != newer
    topo = _lab(dlab, ref, "Always")
    assert f"pulling {ref} from {registry.host} (image-pull-policy Always)" in _deployed(topo)
    assert registry.local(ref) == newer
    assert dlab.container("a")["Image"] == dlab.container("b")["Image"] == newer
    _ping(dlab)
    _destroy(dlab, topo)


def test_never_with_a_missing_image_is_a_clear_error_and_creates_nothing(
        dlab: DockerLab, registry: Registry) -> None:
    ref = registry.ref()
    registry.push(IMAGE, ref)
    registry.forget(ref)
    topo = _lab(dlab, ref, "never")
    text = _refused(dlab, topo)
    assert f"image not found locally: {ref} (nodes a, b); image-pull-policy Never keeps " \
        "netknit from pulling it" in text
    assert "docker load" in text
    assert registry.local(ref) is None  # the registry was not asked


def test_a_closed_registry_port_is_a_clear_error_at_once(dlab: DockerLab,
                                                          docker_api: Any) -> None:
    host = f"127.0.0.1:{_free_port()}"  # nothing listens there
    ref = f"{host}/netknit-test/pull:{secrets.token_hex(4)}"
    topo = _lab(dlab, ref, "IfNotPresent")
    started = time.monotonic()
    text = _refused(dlab, topo, env={"NETKNIT_PULL_TIMEOUT": "20"})
    assert time.monotonic() - started < 20
    assert f"image not found locally: {ref} (nodes a, b): no answer from registry {host}: " \
        in text
    assert "connection refused" in text
    assert "docker load" in text and "image-pull-policy: never" in text


def test_a_registry_that_never_answers_fails_at_the_timeout(dlab: DockerLab) -> None:
    with socket.socket() as silent:  # takes connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        host = f"127.0.0.1:{silent.getsockname()[1]}"
        ref = f"{host}/netknit-test/pull:{secrets.token_hex(4)}"
        topo = _lab(dlab, ref, "IfNotPresent")
        started = time.monotonic()
        text = _refused(dlab, topo, env={"NETKNIT_PULL_TIMEOUT": "3"})
        took = time.monotonic() - started
    assert 3 <= took < 15, took
    assert f"{ref} (nodes a, b): no answer from registry {host}: no answer within 3s " \
        "(NETKNIT_PULL_TIMEOUT)" in text
