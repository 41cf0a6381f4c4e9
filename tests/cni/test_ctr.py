"""A real CNI client: containerd's ``ctr run --cni`` (our own containerd, not dockerd's)
with configs in /etc/cni/net.d and netknit-cni in /opt/cni/bin. Whatever the test puts
in those directories is backed up first and restored after."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from netknit.cni.install import install_binaries

from .conftest import REFERENCE_DIR, link_names

pytestmark = [pytest.mark.root, pytest.mark.slow]
IMAGE = "docker.io/library/nkcbusybox:latest"
CONF_DIR = Path("/etc/cni/net.d")
BIN_DIR = Path("/opt/cni/bin")


def _blob(out: tarfile.TarFile, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size = len(data)
    out.addfile(info, io.BytesIO(data))
    return digest


def busybox_image(path: Path) -> None:
    """An OCI archive with one layer: Debian's static busybox and its applet links."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        for d in ("bin", "proc", "sys", "dev", "tmp", "etc"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            t.addfile(info)
        t.add("/bin/busybox", "bin/busybox")
        for applet in ("sh", "ip", "sleep", "cat"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            t.addfile(info)
    layer_bytes = layer.getvalue()
    with tarfile.open(path, "w") as out:
        layer_digest = _blob(out, layer_bytes)
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "config": {"Cmd": ["/bin/sh"]},
                             "rootfs": {"type": "layers",
                                        "diff_ids": [f"sha256:{layer_digest}"]}}).encode()
        config_digest = _blob(out, config)
        manifest = json.dumps({"schemaVersion": 2,
                               "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": f"sha256:{config_digest}",
                                          "size": len(config)},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                           "digest": f"sha256:{layer_digest}",
                                           "size": len(layer_bytes)}]}).encode()
        manifest_digest = _blob(out, manifest)
        index = json.dumps({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": f"sha256:{manifest_digest}", "size": len(manifest),
            "annotations": {"io.containerd.image.name": IMAGE,
                            "org.opencontainers.image.ref.name": "latest"}}]}).encode()
        for name, data in (("index.json", index),
                           ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Our own containerd; yields the ctr command prefix. Stopped by pid."""
    assert shutil.which("containerd") and shutil.which("ctr"), (
        "containerd/ctr missing: scripts/setup.sh --test installs docker.io")
    d = tmp_path_factory.mktemp("containerd")
    sock = d / "containerd.sock"
    (d / "config.toml").write_text(
        f'version = 2\nroot = "{d}/root"\nstate = "{d}/state"\n'
        f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{sock}"\n')
    log = open(d / "log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(["containerd", "--config", str(d / "config.toml")],
                            stdout=log, stderr=log)
    ctr = ["ctr", "--address", str(sock), "--namespace", "nkctest"]
    try:
        deadline = time.monotonic() + 20
        while subprocess.run([*ctr, "version"], capture_output=True).returncode != 0:
            assert proc.poll() is None, (d / "log").read_text()[-2000:]
            assert time.monotonic() < deadline, "containerd did not start"
            time.sleep(0.1)
        busybox_image(d / "image.tar")
        subprocess.run([*ctr, "images", "import", str(d / "image.tar")], check=True,
                       capture_output=True)
        yield ctr
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run(["umount", "-R", str(d / "root")], capture_output=True, check=False)
        subprocess.run(["umount", "-R", str(d / "state")], capture_output=True, check=False)


@pytest.fixture
def cni_dirs(tmp_path: Path) -> Iterator[None]:
    """Back up /etc/cni/net.d and /opt/cni/bin; put netknit and the reference plugins
    there; restore exactly what was there after."""
    saved: dict[Path, Path | None] = {}
    parents = [d.parent for d in (CONF_DIR, BIN_DIR) if not d.parent.exists()]
    for d in (CONF_DIR, BIN_DIR):
        if d.exists():
            backup = tmp_path / d.name.replace(".", "_")
            shutil.copytree(d, backup, symlinks=True)
            saved[d] = backup
        else:
            saved[d] = None
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    install_binaries(BIN_DIR)
    for plugin in ("bridge", "host-local", "loopback", "host-device", "tuning", "bandwidth"):
        (BIN_DIR / plugin).symlink_to(REFERENCE_DIR / plugin)
    try:
        yield
    finally:
        for d, backup in saved.items():
            shutil.rmtree(d, ignore_errors=True)
            if backup is not None:
                shutil.copytree(backup, d, symlinks=True)
        for parent in parents:  # made by this test: leave the machine as it was
            shutil.rmtree(parent, ignore_errors=True)


def run_container(ctr: list[str], name: str,
                  while_running: Callable[[], Any] = lambda: None) -> dict[str, Any]:
    """Run a container with --cni; while it runs, look at its namespace (holding it open,
    so the device can still come home after the task exited) and call
    ``while_running`` (its answer is "during")."""
    proc = subprocess.Popen([*ctr, "run", "--rm", "--cni", IMAGE, name, "sh", "-c",
                             "ip -o link; ip -o -4 addr; sleep 2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    held = None
    try:
        deadline = time.monotonic() + 20
        while held is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "container did not start"
            out = subprocess.run([*ctr, "task", "ls"], capture_output=True, text=True).stdout
            for line in out.splitlines()[1:]:
                parts = line.split()
                if parts and parts[0] == name and parts[2] == "RUNNING":
                    held = os.open(f"/proc/{parts[1]}/ns/net", os.O_RDONLY)
            time.sleep(0.05)
        during = while_running()
        stdout, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr
        return {"output": stdout.decode(), "host_after": link_names(), "during": during}
    finally:
        if held is not None:
            os.close(held)
        if proc.poll() is None:
            proc.kill()


def test_host_device_through_ctr(containerd: list[str], cni_dirs: None, scratch: Any,
                                 tag: str) -> None:
    dev = scratch.nic()
    (CONF_DIR / "10-nkc.conflist").write_text(json.dumps(
        {"cniVersion": "1.0.0", "name": f"{tag}net",
         "plugins": [{"type": "netknit-host-device", "device": dev}]}))
    seen = run_container(containerd, tag)
    assert ": eth0: " in seen["output"] or "eth0@" in seen["output"], seen["output"]
    assert dev in seen["host_after"] and not seen["host_after"][dev].get("ifalias")


def test_meta_primary_bridge_plus_attachment_through_ctr(
        containerd: list[str], cni_dirs: None, scratch: Any, tag: str) -> None:
    dev = scratch.nic()
    primary = {"cniVersion": "1.0.0", "name": f"{tag}br", "plugins": [
        {"type": "bridge", "bridge": f"{tag}b", "isGateway": True,
         "ipam": {"type": "host-local", "subnet": "10.233.0.0/24",
                  "dataDir": f"/run/{tag}-ipam"}}]}
    (CONF_DIR / "10-primary.conflist").write_text(json.dumps(primary))
    attach = scratch_file = CONF_DIR.parent / f"{tag}-attach.json"
    attach.write_text(json.dumps({"cniVersion": "1.0.0", "name": "hd",
                                  "type": "netknit-host-device", "device": dev}))
    try:
        subprocess.run(["netknit", "cni-install", "--conf-dir", str(CONF_DIR), "--once",
                        "--attach", f"net1={attach}"], check=True, capture_output=True)
        seen = run_container(containerd, tag)
    finally:
        scratch_file.unlink(missing_ok=True)
        subprocess.run(["ip", "link", "del", f"{tag}b"], capture_output=True, check=False)
        shutil.rmtree(f"/run/{tag}-ipam", ignore_errors=True)
    out = seen["output"]
    assert "net1" in out and "10.233.0." in out, out
    assert dev in seen["host_after"] and not seen["host_after"][dev].get("ifalias")


def qdiscs(dev: str) -> list[str]:
    out = subprocess.run(["tc", "-j", "qdisc", "show", "dev", dev], capture_output=True,
                         text=True, check=True).stdout
    return [q["kind"] for q in json.loads(out)]


def test_attachment_chained_with_tuning_and_bandwidth_through_ctr(
        containerd: list[str], cni_dirs: None, scratch: Any, tag: str) -> None:
    """A primary of the reference bridge + host-local, and an attachment delegate that
    chains netknit-host-device (a veth stand-in NIC, its host peer reported with
    hostPeer), tuning (sets a MAC) and bandwidth (tbf). In the container: net1 with the
    tuned MAC; the tbf where bandwidth puts it, on the host end of the attachment (the
    reference bandwidth shapes a pod's host-side veth, never inside the pod). After the
    task exited (ctr's DEL comes without CNI_NETNS, so tuning cannot undo its MAC): the
    device home under its own name and MAC, no qdisc left on either end, bandwidth's
    ifb gone."""
    dev = scratch.nic(up=False)
    peer = f"{dev}p"
    before = link_names()
    mac = "0a:58:0a:17:00:01"
    primary = {"cniVersion": "1.0.0", "name": f"{tag}br", "plugins": [
        {"type": "bridge", "bridge": f"{tag}b", "isGateway": True,
         "ipam": {"type": "host-local", "subnet": "10.234.0.0/24",
                  "dataDir": f"/run/{tag}-ipam"}}]}
    (CONF_DIR / "10-primary.conflist").write_text(json.dumps(primary))
    attach = CONF_DIR.parent / f"{tag}-attach.conflist"
    attach.write_text(json.dumps({"cniVersion": "1.0.0", "name": f"{tag}hd", "plugins": [
        {"type": "netknit-host-device", "device": dev, "hostPeer": True},
        {"type": "tuning", "mac": mac, "dataDir": f"/run/{tag}-tuning"},
        {"type": "bandwidth", "ingressRate": 8_000_000, "ingressBurst": 100_000,
         "egressRate": 8_000_000, "egressBurst": 100_000}]}))

    def host_side() -> dict[str, Any]:
        return {"peer": qdiscs(peer), "ifbs": [n for n in link_names() if n.startswith("bwp")]}

    bwp_before = [n for n in before if n.startswith("bwp")]
    try:
        subprocess.run(["netknit", "cni-install", "--conf-dir", str(CONF_DIR), "--once",
                        "--attach", f"net1={attach}"], check=True, capture_output=True)
        seen = run_container(containerd, tag, host_side)
    finally:
        attach.unlink(missing_ok=True)
        subprocess.run(["ip", "link", "del", f"{tag}b"], capture_output=True, check=False)
        shutil.rmtree(f"/run/{tag}-ipam", ignore_errors=True)
        shutil.rmtree(f"/run/{tag}-tuning", ignore_errors=True)
    out = seen["output"]
    net1 = next((line for line in out.splitlines() if ": net1" in line), out)
    assert f"link/ether {mac}" in net1, out
    assert "10.234.0." in out, out
    assert "tbf" in seen["during"]["peer"] and "ingress" in seen["during"]["peer"], seen
    assert len(seen["during"]["ifbs"]) > len(bwp_before), seen  # egress: an ifb with tbf
    after = seen["host_after"]
    assert dev in after and not after[dev].get("ifalias"), after.get(dev)
    assert after[dev]["address"] == before[dev]["address"]
    # a veth's own: noqueue once up, none while down
    assert set(qdiscs(dev)) <= {"noqueue"} and set(qdiscs(peer)) <= {"noqueue"}
    assert not after[peer].get("ifalias")
    assert [n for n in after if n.startswith("bwp")] == bwp_before
