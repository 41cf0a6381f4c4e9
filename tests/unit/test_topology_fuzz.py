"""Property tests: whatever the file says, loading it returns a model or a NetknitError."""

from __future__ import annotations

import contextlib

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netknit._errors import NetknitError, TopologyError
from netknit.topology import Topology, loads
from netknit.topology._values import ifname_error
from tests.mutations import mutated_topology, valid_topology

# Enough to find a crash in a few seconds; raise max_examples locally to dig deeper.
_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(_SETTINGS, max_examples=400)
@given(text=mutated_topology(), runtime=st.sampled_from([None, "netns"]))
def test_mutated_files_load_or_fail_cleanly(text: str, runtime: str | None) -> None:
    try:
        topology = loads(text, filename="fuzz.yml", runtime=runtime)
    except TopologyError as exc:
        assert exc.problems, "a TopologyError lists at least one problem"
        assert all(p.file == "fuzz.yml" and p.message for p in exc.problems)
        str(exc)  # renders
        return
    except NetknitError:
        return
    _check_invariants(topology)


@_SETTINGS
@given(data=valid_topology())
def test_generated_labs_are_valid(data: dict[str, object]) -> None:
    topology = loads(yaml.safe_dump(data, sort_keys=False))
    assert 1 <= len(topology.nodes) <= 4
    assert {n.kind for n in topology.nodes.values()} <= {"netns", "bridge"}
    _check_invariants(topology)


@_SETTINGS
@given(text=st.text(max_size=200) | st.from_regex(r"(name: [a-z]+\n)?topology:\s*[\[{]?.*"))
def test_arbitrary_text_loads_or_fails_cleanly(text: str) -> None:
    with contextlib.suppress(NetknitError):
        loads(text)


def _check_invariants(topology: Topology) -> None:
    """What the planner may rely on in any model the loader returns."""
    assert isinstance(topology, Topology)
    for link in topology.links:
        assert link.type in ("veth", "host")
        assert len(link.endpoints) == (2 if link.type == "veth" else 1)
        assert 68 <= link.mtu <= 65535
        for end in link.endpoints:
            assert end.node in topology.nodes
            assert ifname_error(end.interface) is None and end.interface != "lo"
            assert end.mac is None or end.mac == end.mac.lower()
        if link.type == "host":
            assert link.host_interface and ifname_error(link.host_interface) is None
