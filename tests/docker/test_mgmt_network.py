"""containerlab's default management network on real Docker: the shared network ``clab``
(172.20.20.0/24, 3fff:172:20:20::/64), joined as eth0; labs share it; it goes with the
last lab only when netknit made it.

Other labs (other tests, run at the same time) may use ``clab`` too: these tests never
assume they are its only user, and never remove a ``clab`` they did not make. Sharing and
removal are checked on networks of their own (``mgmt: network:``), which follow the same
code."""

from __future__ import annotations

import json
import subprocess
import threading
from ipaddress import ip_address, ip_interface, ip_network
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import run_cli

from .conftest import IMAGE, DockerLab

DEFAULT = f"""
name: LAB
topology:
  defaults: {{kind: linux, image: {IMAGE}, cmd: "sleep 3600"}}
  nodes:
    a: {{mgmt-ipv4: 172.20.20.V4, mgmt-ipv6: "3fff:172:20:20::a:TAG"}}
    b: {{}}
    c: {{network-mode: none}}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
"""


def _net(api: Any, name: str) -> dict[str, Any] | None:
    import docker

    try:
        return dict(api.inspect_network(name))
    except docker.errors.NotFound:
        return None


def _ns_run(dlab: DockerLab, container: str, *argv: str) -> str:
    """Run a host tool (ip, ethtool) in a container's network namespace."""
    pid = dlab.api.inspect_container(container)["State"]["Pid"]
    return subprocess.run(["nsenter", "-t", str(pid), "-n", *argv], capture_output=True,
                          text=True, check=True).stdout


def _eth0(dlab: DockerLab, node: str) -> list[Any]:
    shown = json.loads(_ns_run(dlab, f"clab-{dlab.name}-{node}-sandbox", "ip", "-j", "addr",
                               "show", "dev", "eth0"))
    return [ip_interface(f"{a['local']}/{a['prefixlen']}") for a in shown[0]["addr_info"]
            if a.get("scope") == "global"]


def _in(dlab: DockerLab, node: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return run_cli("exec", "-t", str(dlab.dir / "lab.clab.yml"), "--node", node, "--", *argv)


def test_default_lab_joins_clab_as_eth0(dlab: DockerLab) -> None:
    v4 = str(200 + int(dlab.tag, 16) % 50)
    # the file says ::a:TAG as written (maybe "0346"); what the node shows is canonical
    v6 = str(ip_address(f"3fff:172:20:20::a:{dlab.tag}"))
    topo = dlab.write(DEFAULT.replace("V4", v4))
    deployed = run_cli("deploy", "-t", str(topo), "--quiet")
    assert deployed.returncode == 0, deployed.stderr
    # static addresses on a, Docker's on b, in containerlab's subnets; c stays off it
    a_addrs, b_addrs = _eth0(dlab, "a"), _eth0(dlab, "b")
    assert {str(i) for i in a_addrs} == {f"172.20.20.{v4}/24",
                                         f"{v6}/64"}
    assert {i.network for i in b_addrs} == {ip_network("172.20.20.0/24"),
                                            ip_network("3fff:172:20:20::/64")}
    assert "eth0" not in _ns_run(dlab, f"clab-{dlab.name}-c-sandbox", "ip", "-o", "link")
    # b reaches a over the management network, IPv4 and IPv6, by a's name too
    for target in (f"172.20.20.{v4}", v6, "a"):
        ping = _in(dlab, "b", "ping", "-c1", "-W2", target)
        assert ping.returncode == 0, ping.stdout + ping.stderr
    # containerlab's ExtraHosts: the static management addresses, by node name
    hosts = _in(dlab, "b", "cat", "/etc/hosts").stdout
    assert f"172.20.20.{v4}\ta\n" in hosts and f"{v6}\ta\n" in hosts
    # containerlab's linux PostDeploy: TX checksum offload off on eth0 (read by ethtool)
    for node in "ab":
        offloads = _ns_run(dlab, f"clab-{dlab.name}-{node}-sandbox", "ethtool", "-k", "eth0")
        assert "tx-checksumming: off" in offloads
    # the network as containerlab makes it (whoever made it, netknit's labs make it so)
    net = _net(dlab.api, "clab")
    assert net is not None
    assert [c["Subnet"] for c in net["IPAM"]["Config"]] == ["172.20.20.0/24",
                                                           "3fff:172:20:20::/64"]
    assert net["EnableIPv6"] and net["Driver"] == "bridge"
    assert "containerlab" in net["Labels"]
    bridge = _net(dlab.api, "bridge")  # containerlab's MTU: Docker's own network's, or 1500
    mtu = ((bridge or {}).get("Options") or {}).get("com.docker.network.driver.mtu", "1500")
    assert net["Options"]["com.docker.network.driver.mtu"] == mtu
    # its bridge: Docker's br-<id12>, the gateway .1 on it
    link = json.loads(subprocess.run(["ip", "-j", "addr", "show", "dev", f"br-{net['Id'][:12]}"],
                                     capture_output=True, text=True, check=True).stdout)[0]
    assert "172.20.20.1" in [a["local"] for a in link["addr_info"]]
    assert str(link["mtu"]) == mtu
    assert run_cli("destroy", "-t", str(topo)).returncode == 0
    after = _net(dlab.api, "clab")
    if after is not None:  # another lab uses it (or made it): none of ours is on it
        names = [c["Name"] for c in (after.get("Containers") or {}).values()]
        assert not [n for n in names if n.startswith(f"clab-{dlab.name}-")]


SHARED = """
name: NAME
mgmt: {network: NET, ipv4-subnet: 172.28.SUB.0/24}
topology:
  nodes:
    x: {kind: linux, image: IMAGE, cmd: "sleep 3600"}
"""


def _private(dlab: DockerLab, prefix: str) -> tuple[str, str]:
    """A network name of this test's own and a /24 of 172.28.0.0/16 no network uses."""
    used = {c.get("Subnet") for n in dlab.api.networks()
            for c in (dlab.api.inspect_network(n["Id"]).get("IPAM") or {}).get("Config") or []}
    start = int(dlab.tag, 16) % 200 + 20
    sub = next(str(x % 256) for x in range(start, start + 256)
               if f"172.28.{x % 256}.0/24" not in used)
    return f"{prefix}-{dlab.tag}", sub


def _write(dlab: DockerLab, lab: str, network: str, sub: str) -> Path:
    path = dlab.dir / f"{lab}.clab.yml"
    path.write_text(SHARED.replace("NAME", f"{dlab.name}{lab}").replace("NET", network)
                    .replace("SUB", sub).replace("IMAGE", IMAGE))
    return path


@pytest.mark.parametrize("first", ["one", "two"])
def test_two_labs_share_it_and_the_last_removes_it(dlab: DockerLab, first: str) -> None:
    network, sub = _private(dlab, "nks")
    dlab.networks.append(network)
    one, two = (_write(dlab, lab, network, sub) for lab in ("one", "two"))
    for topo in (one, two):
        deployed = run_cli("deploy", "-t", str(topo), "--quiet")
        assert deployed.returncode == 0, deployed.stderr
    net = _net(dlab.api, network)
    assert net is not None and len(net["Containers"]) == 2
    assert net["Labels"] == {"containerlab": "", "netknit.mgmt-net": "netknit"}
    last = two if first == "one" else one
    assert run_cli("destroy", "-t", str(one if first == "one" else two)).returncode == 0
    assert _net(dlab.api, network) is not None, "the other lab still uses it"
    assert run_cli("destroy", "-t", str(last)).returncode == 0
    assert _net(dlab.api, network) is None


@pytest.mark.parametrize("labels", [{}, {"containerlab": ""}], ids=["user", "containerlab"])
def test_a_network_that_was_there_is_kept(dlab: DockerLab, labels: dict[str, str]) -> None:
    from docker.types import IPAMConfig, IPAMPool

    network, sub = _private(dlab, "nkp")
    dlab.api.create_network(network, driver="bridge", labels=labels, ipam=IPAMConfig(
        pool_configs=[IPAMPool(subnet=f"172.28.{sub}.0/24")]))
    try:
        topo = _write(dlab, "one", network, sub)
        deployed = run_cli("deploy", "-t", str(topo))
        assert deployed.returncode == 0, deployed.stderr
        assert f"using existing network {network} (not made by netknit" in deployed.stderr
        assert run_cli("destroy", "-t", str(topo)).returncode == 0
        kept = _net(dlab.api, network)
        assert kept is not None and kept["Labels"] == labels
    finally:
        dlab.api.remove_network(network)


def test_destroy_keep_mgmt_net(dlab: DockerLab) -> None:
    network, sub = _private(dlab, "nkk")
    dlab.networks.append(network)
    topo = _write(dlab, "one", network, sub)
    assert run_cli("deploy", "-t", str(topo), "--quiet").returncode == 0
    kept = run_cli("destroy", "-t", str(topo), "--keep-mgmt-net")
    assert kept.returncode == 0, kept.stderr
    net = _net(dlab.api, network)
    assert net is not None and not net["Containers"]
    # forgotten by the lab: a second destroy has nothing to do, and leaves it too
    again = run_cli("destroy", "-t", str(topo))
    assert "nothing to destroy" in again.stderr and _net(dlab.api, network) is not None
    # the next lab to use it takes it over, and its destroy removes it (netknit made it)
    assert run_cli("deploy", "-t", str(topo), "--quiet").returncode == 0
    assert run_cli("destroy", "-t", str(topo)).returncode == 0
    assert _net(dlab.api, network) is None


def test_labs_deployed_and_destroyed_concurrently(dlab: DockerLab) -> None:
    """A destroy running while another lab deploys never pulls the network from under
    it (the flock), and parallel deploys make one network between them."""
    network, sub = _private(dlab, "nkq")
    dlab.networks.append(network)
    topos = [_write(dlab, lab, network, sub) for lab in ("one", "two", "three")]

    def together(*calls: tuple[str, Path]) -> list[subprocess.CompletedProcess[str]]:
        out: list[Any] = [None] * len(calls)

        def run(i: int, verb: str, topo: Path) -> None:
            out[i] = run_cli(verb, "-t", str(topo), "--quiet", timeout=300)
        threads = [threading.Thread(target=run, args=(i, *c)) for i, c in enumerate(calls)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    for _round in range(3):
        for done in together(("deploy", topos[0]), ("deploy", topos[1])):
            assert done.returncode == 0, done.stderr
        # one lab goes while another comes: the network stays for the one that comes
        for done in together(("destroy", topos[0]), ("deploy", topos[2])):
            assert done.returncode == 0, done.stderr
        net = _net(dlab.api, network)
        assert net is not None and len(net["Containers"]) == 2
        for done in together(("destroy", topos[1]), ("destroy", topos[2])):
            assert done.returncode == 0, done.stderr
        assert _net(dlab.api, network) is None


MGMT_NET_LINK = """
name: LAB
mgmt: {network: NET, ipv4-subnet: 172.28.SUB.0/24}
topology:
  nodes:
    d1: {kind: linux, image: IMAGE, cmd: sleep 3600, mgmt-ipv4: 172.28.SUB.11}
    n1: {kind: netns}
  links:
    - type: mgmt-net
      endpoint: {node: n1, interface: eth0, ipv4: 172.28.SUB.50/24}
      host-interface: mnTAG
"""


def test_mgmt_net_link_joins_the_bridge_docker_named(dlab: DockerLab) -> None:
    network, sub = _private(dlab, "nkl")
    dlab.networks.append(network)
    topo = dlab.write(MGMT_NET_LINK.replace("NET", network).replace("SUB", sub)
                      .replace("IMAGE", IMAGE))
    deployed = run_cli("deploy", "-t", str(topo))
    assert deployed.returncode == 0, deployed.stderr
    net = _net(dlab.api, network)
    assert net is not None
    master = json.loads(subprocess.run(["ip", "-j", "link", "show", f"mn{dlab.tag}"],
                                       capture_output=True, text=True,
                                       check=True).stdout)[0]["master"]
    assert master == f"br-{net['Id'][:12]}"
    ping = _in(dlab, "n1", "ping", "-c1", "-W2", f"172.28.{sub}.11")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert run_cli("destroy", "-t", str(topo)).returncode == 0
    assert _net(dlab.api, network) is None


def test_eth0_link_end_on_a_management_node_is_refused(dlab: DockerLab) -> None:
    topo = dlab.write(f"""
name: LAB
topology:
  nodes:
    a: {{kind: linux, image: {IMAGE}}}
    b: {{kind: linux, image: {IMAGE}, network-mode: none}}
  links:
    - endpoints: ["a:eth0", "b:eth0"]
""")
    refused = run_cli("deploy", "-t", str(topo))
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "eth0 interface name is not allowed for a node when network mode is not set to " \
        "none" in refused.stderr


def test_destroy_waits_for_a_deploy_between_ensure_and_join(dlab: DockerLab) -> None:
    """A deploy holds the network's lock shared from making sure it exists until its
    nodes are on it: the last lab's destroy waits for it before removing the network.
    The test holds the lock as such a deploy would."""
    import fcntl
    import sys
    import time

    from netknit.runtimes.docker import LOCK_DIR

    network, sub = _private(dlab, "nkw")
    dlab.networks.append(network)
    topo = _write(dlab, "one", network, sub)
    assert run_cli("deploy", "-t", str(topo), "--quiet").returncode == 0
    with open(LOCK_DIR / f"netknit-mgmt-{network}.lock", "a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_SH)
        destroy = subprocess.Popen([sys.executable, "-m", "netknit", "destroy", "-t",
                                    str(topo), "--quiet"], stderr=subprocess.PIPE, text=True)
        lock = str(LOCK_DIR / f"netknit-mgmt-{network}.lock")
        try:
            deadline = time.monotonic() + 120
            while not _has_open(destroy.pid, lock):  # it has come to the network
                assert time.monotonic() < deadline and destroy.poll() is None, \
                    destroy.communicate()[1]
                time.sleep(0.05)
            assert not dlab.containers()  # its containers went first
            for _ in range(40):  # and it waits, the network kept, as long as we hold it
                assert destroy.poll() is None, destroy.communicate()[1]
                assert _net(dlab.api, network) is not None, "removed under a deploy's lock"
                time.sleep(0.05)
        finally:
            fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    _, err = destroy.communicate(timeout=120)
    assert destroy.returncode == 0, err
    assert _net(dlab.api, network) is None


def _has_open(pid: int, path: str) -> bool:
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if str(fd.readlink()) == path:
                return True
        except OSError:
            continue
    return False


# the workload ends on its stop signal: `stop` gives one that ignores it the engine
# timeout (2m), as containerlab
TWO_STRATEGIES = """
name: NAME
mgmt: {network: NET, ipv4-subnet: 172.28.SUB.0/24}
topology:
  defaults: {kind: linux, image: IMAGE,
             cmd: "sh -c 'trap \\"exit 0\\" TERM; while :; do sleep 1; done'"}
  nodes:
    s: {}
    g: {start-strategy: gate}
"""


def test_address_taken_while_stopped(dlab: DockerLab) -> None:
    """Stopped nodes keep their management addresses; should another container take one
    before `start`, the node starts with a new one and says so, instead of failing on
    the engine's "address already in use"."""
    network, sub = _private(dlab, "nkt")
    dlab.networks.append(network)
    topo = dlab.dir / "taken.clab.yml"
    topo.write_text(TWO_STRATEGIES.replace("NAME", dlab.name).replace("NET", network)
                    .replace("SUB", sub).replace("IMAGE", IMAGE))
    assert run_cli("deploy", "-t", str(topo), "--quiet").returncode == 0

    def address(node: str) -> str:
        holder = dlab.container("s-sandbox" if node == "s" else node)
        return str(holder["NetworkSettings"]["Networks"][network]["IPAddress"])

    before = {node: address(node) for node in ("s", "g")}
    stopped = run_cli("stop", "-t", str(topo))
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    squatters = []
    try:
        for node in ("s", "g"):
            squatter = dlab.api.create_container(
                IMAGE, "sleep 3600", name=f"nksquat-{dlab.tag}-{node}",
                host_config=dlab.api.create_host_config(network_mode=network),
                networking_config=dlab.api.create_networking_config(
                    {network: dlab.api.create_endpoint_config(ipv4_address=before[node])}))
            squatters.append(squatter["Id"])
            dlab.api.start(squatter["Id"])
        started = run_cli("start", "-t", str(topo))
        assert started.returncode == 0, started.stdout + started.stderr
        for node in ("s", "g"):
            assert (f"node {node}: its management address {before[node]} on {network} was "
                    "taken by another container") in started.stderr
            assert dlab.container(node)["State"]["Running"]
            assert address(node) not in ("", before[node])
    finally:
        for squatter_id in squatters:
            dlab.api.remove_container(squatter_id, force=True)
