"""`tools veth create` between two Docker nodes (and a Docker node and a namespace node):
the ends are born in the containers' namespaces, found through the runtime."""

from __future__ import annotations

from tests.integration.conftest import run_cli

from .conftest import DockerLab
from .test_docker_events import LAB  # s, g (Docker) and n (a namespace)


def test_veth_between_containers_carries_traffic_and_goes_with_destroy(
        dlab: DockerLab) -> None:
    topo = str(dlab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    for a_end, b_end, net in (("s:eth9", "g:eth9", "10.9.8"), ("g:eth8", "n:eth8", "10.9.7")):
        made = run_cli("tools", "veth", "create", "-t", topo, "-a", a_end, "-b", b_end)
        assert made.returncode == 0, made.stderr
        for end, host in ((a_end, 1), (b_end, 2)):
            node, ifname = end.split(":")
            added = run_cli("exec", "-t", topo, "--node", node, "--", "ip", "addr", "add",
                            f"{net}.{host}/24", "dev", ifname)
            assert added.returncode == 0, added.stdout
        ping = run_cli("exec", "-t", topo, "--node", a_end.split(":")[0], "--", "ping",
                       "-c1", "-W2", f"{net}.2")
        assert ping.returncode == 0, ping.stdout
    assert run_cli("destroy", "-t", topo).returncode == 0  # the fixture checks leftovers
