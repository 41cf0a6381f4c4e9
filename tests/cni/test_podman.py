"""A second real CNI client: podman 4.3 (Debian's) with its CNI backend, entirely in
private directories (storage, run root, network configs, plugin dir), so nothing of the
machine's podman, /etc/cni or /opt/cni is touched. The image is a local busybox-static
rootfs (``podman import``): no registry needed.

Podman as root raises RLIMIT_NPROC/NOFILE in the container by default, which fails
where the runtime lacks CAP_SYS_RESOURCE (this machine's containers): the test asks for
limits of 1024."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netknit.cni.install import install_binaries

from .conftest import REFERENCE_DIR, link_names
from .test_ctr import qdiscs

# scripts/setup.sh --test installs podman: a missing one fails here, never skips
pytestmark = [pytest.mark.root, pytest.mark.slow]
IMAGE = "localhost/nkcbusybox:latest"
# what podman 4.3 makes outside its --root/--runroot/--tmpdir (the blob info cache)
PODMAN_LEFTOVERS = (Path("/var/lib/containers"), Path("/run/containers"), Path("/run/libpod"))


@pytest.fixture
def podman() -> Iterator[dict[str, Any]]:
    """``podman`` command prefix and environment, every directory private (under a
    short path: podman refuses a run root longer than 50 characters)."""
    tmp_path = Path(tempfile.mkdtemp(prefix="nkcpod"))
    there = [d for d in PODMAN_LEFTOVERS if d.exists()]
    bins, net = tmp_path / "bin", tmp_path / "net"
    net.mkdir()
    install_binaries(bins)
    for plugin in REFERENCE_DIR.iterdir():
        (bins / plugin.name).symlink_to(plugin)
    (tmp_path / "containers.conf").write_text(
        f'[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["{bins}"]\n'
        f'network_config_dir = "{net}"\n')
    cmd = ["podman", "--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"),
           "--tmpdir", str(tmp_path / "tmp"), "--storage-driver", "vfs"]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "CONTAINERS_CONF": str(tmp_path / "containers.conf")}
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as t:
        t.add("/bin/busybox", "bin/busybox")
        for applet in ("sh", "ip", "sleep"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            t.addfile(info)
    done = subprocess.run([*cmd, "import", str(rootfs), IMAGE], env=env, check=False,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    try:
        yield {"cmd": cmd, "env": env, "net": net}
    finally:
        for d in ("run", "root"):
            subprocess.run(["umount", "-R", str(tmp_path / d)], capture_output=True,
                           check=False)
        shutil.rmtree(tmp_path, ignore_errors=True)
        for d in PODMAN_LEFTOVERS:  # made by this test: leave the machine as it was
            if d not in there:
                shutil.rmtree(d, ignore_errors=True)


def test_attachment_chained_with_tuning_and_bandwidth_through_podman(
        podman: dict[str, Any], scratch: Any, tag: str) -> None:
    """The ctr chain test's network, run by podman: net1 with the tuned MAC, bandwidth's
    tbf on the attachment's host end while the container runs; afterwards the device
    home under its own name and MAC and no qdisc or alias left."""
    dev = scratch.nic(up=False)
    peer = f"{dev}p"
    before = link_names()
    mac = "0a:58:0a:18:00:01"
    net: Path = podman["net"]
    (net / f"{tag}.conflist").write_text(json.dumps(
        {"cniVersion": "1.0.0", "name": tag, "plugins": [
            {"type": "bridge", "bridge": f"{tag}b", "isGateway": True,
             "ipam": {"type": "host-local", "subnet": "10.236.0.0/24",
                      "dataDir": f"/run/{tag}-ipam"}}]}))
    attach = net.parent / "attach.conflist"
    attach.write_text(json.dumps({"cniVersion": "1.0.0", "name": f"{tag}hd", "plugins": [
        {"type": "netknit-host-device", "device": dev, "hostPeer": True},
        {"type": "tuning", "mac": mac, "dataDir": f"/run/{tag}-tuning"},
        {"type": "bandwidth", "ingressRate": 8_000_000, "ingressBurst": 100_000,
         "egressRate": 8_000_000, "egressBurst": 100_000}]}))
    subprocess.run(["netknit", "cni-install", "--conf-dir", str(net), "--once",
                    "--attach", f"net1={attach}"], check=True, capture_output=True)
    proc = subprocess.Popen(
        [*podman["cmd"], "run", "--rm", "--ulimit", "nofile=1024:1024", "--ulimit",
         "nproc=1024:1024", "--network", tag, IMAGE, "sh", "-c",
         "ip -o link; ip -o -4 addr; sleep 3"],
        env=podman["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        during: list[str] = []
        deadline = time.monotonic() + 60
        while "tbf" not in during and proc.poll() is None and time.monotonic() < deadline:
            during = qdiscs(peer) if peer in link_names() else []
            time.sleep(0.05)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run(["ip", "link", "del", f"{tag}b"], capture_output=True, check=False)
        shutil.rmtree(f"/run/{tag}-ipam", ignore_errors=True)
        shutil.rmtree(f"/run/{tag}-tuning", ignore_errors=True)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    net1 = next((line for line in text.splitlines() if ": net1" in line), text)
    assert f"link/ether {mac}" in net1 and "10.236.0." in text, text
    assert "tbf" in during and "ingress" in during, during
    after = link_names()
    assert dev in after and not after[dev].get("ifalias")
    assert after[dev]["address"] == before[dev]["address"]
    assert set(qdiscs(dev)) <= {"noqueue"} and set(qdiscs(peer)) <= {"noqueue"}
    assert not after[peer].get("ifalias")
