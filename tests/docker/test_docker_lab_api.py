"""netknit.Lab with a Docker node: built in code, deployed, used and destroyed through
its methods; nothing of it is left (containers, networks, namespaces)."""

from __future__ import annotations

import contextlib

import pytest

from netknit import Lab

from .conftest import IMAGE, DockerLab


@pytest.mark.parametrize("error", [None, KeyboardInterrupt])
def test_a_docker_node_built_in_code(dlab: DockerLab, error: type[BaseException] | None
                                     ) -> None:
    lab = Lab(dlab.name, labdir_base=dlab.dir)
    lab.add_node("c1", kind="linux", image=IMAGE, cmd="sleep 3600")
    lab.add_node("h1")
    lab.add_link("c1:eth1", "h1:eth1", ipv4=["10.0.0.1/24", "10.0.0.2/24"], mtu=1500)
    with pytest.raises(error) if error else contextlib.nullcontext(), lab.deployed():
        assert dlab.container("c1")["State"]["Running"]
        assert lab.exec("c1", ["ping", "-c1", "-W2", "10.0.0.2"]).returncode == 0
        shown = lab.exec("c1", "ip -o addr show eth1").output
        assert "10.0.0.1/24" in shown
        assert {n.name: n.state for n in lab.inspect().nodes}["c1"] == "running"
        if error:
            raise error()
    assert dlab.leftovers() == []

