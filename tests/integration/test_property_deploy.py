"""Property: any mutated topology either fails validation cleanly or deploys and destroys
completely — never a traceback, never a leftover."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, assume, event, given, settings

import netknit
from netknit.topology import Topology
from tests.mutations import mutated_topology

from .conftest import host_links, netns_names


def _host_names(topo: Topology) -> list[str]:
    names = []
    for node in topo.nodes.values():
        if node.kind == "bridge":
            names.append(node.name)
    for link in topo.links:
        names += [e.interface for e in link.endpoints if topo.nodes[e.node].kind == "bridge"]
        if link.host_interface:
            names.append(link.host_interface)
    return names


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=mutated_topology())
def test_mutated_topology_validates_or_round_trips(text: str) -> None:
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="nkprop"))  # per example, not per test
    path = workdir / "lab.clab.yml"
    path.write_text(text)
    try:
        # the kernel wiring is the property here: linux nodes as bare namespaces (Docker
        # nodes have their own tests in tests/docker)
        topo = netknit.load(path, runtime="netns")
    except netknit.NetknitError as exc:
        event("rejected by validation")
        assert exc.exit_code == 2
        assert str(exc)
        assert not list(workdir.glob("clab-*"))  # validation touched nothing
        return
    # safety on a shared machine: only host-side names that carry the lab's name
    assume(all(topo.name in name for name in _host_names(topo)))
    event("deployed and destroyed")
    try:
        netknit.deploy(topo)
        view = netknit.inspect(topo)
        assert all(i.state == "up" and not i.drift for n in view.nodes for i in n.interfaces)
    finally:
        netknit.destroy(topo, cleanup=True)
    # other tests may run beside this one: look only at this lab's names
    assert [n for n in netns_names() if n.startswith(f"clab-{topo.name}-")] == []
    assert [n for n in host_links() if topo.name in n] == []
    assert not list(workdir.glob("clab-*"))
