"""The kind registry: what each kind says about itself, and that the loader asks it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netknit import kinds
from netknit.topology import TopologyError, loads


def test_registry_holds_the_four_kinds_in_order() -> None:
    assert kinds.names() == ("netns", "bridge", "host", "linux")
    assert kinds.DEFAULT == "netns"
    assert all(kinds.get(name).name == name for name in kinds.names())
    assert not set(kinds.names()) & kinds.PLANNED
    with pytest.raises(KeyError):
        kinds.get("srl")


@pytest.mark.parametrize(("name", "runtime", "own_namespace", "container"), [
    ("netns", "netns", True, False), ("linux", "docker", True, True),
    ("bridge", None, False, False), ("host", None, False, False)])
def test_what_each_kind_says(name: str, runtime: str | None, own_namespace: bool,
                             container: bool) -> None:
    kind = kinds.get(name)
    assert (kind.runtime, kind.own_namespace, kind.container) == (runtime, own_namespace,
                                                                   container)


def test_only_linux_takes_container_settings_and_falls_back_without_docker() -> None:
    linux = kinds.get("linux")
    assert linux.needs_image and linux.bare_kind == "netns" and "binds" in linux.fields
    for other in ("netns", "bridge", "host"):
        assert kinds.get(other).bare_kind is None
    # a netns node has a view of its own: binds and private directories, nothing else
    assert set(kinds.get("netns").fields) == {"binds", "private_dirs"}
    assert not kinds.get("bridge").fields and not kinds.get("host").fields


def test_bridge_names_are_interface_names() -> None:
    bridge = kinds.get("bridge")
    assert bridge.node_name_error("br0") is None
    assert "its interface name" in (bridge.node_name_error("lo") or "")
    assert "16 bytes" in (bridge.node_name_error("b" * 16) or "")
    assert kinds.get("netns").node_name_error("b" * 16) is None  # not an interface


def test_the_loader_asks_the_registry() -> None:
    text = """
name: k
topology:
  nodes:
    b1: {kind: bridge, exec: ["x"]}
    n1: {kind: netns, user: x}
"""
    topo = loads(text)
    assert any("user applies to container nodes (kind: linux) only" in n for n in topo.notices)


@pytest.fixture
def extra_kind() -> Iterator[kinds.NodeKind]:
    """A kind registered for one test, as a new module's registration line would."""
    kind = kinds.NodeKind("test-switch", runtime=None, own_namespace=False, ports=True)
    kinds._register(kind)
    yield kind
    del kinds._KINDS[kind.name]


def test_a_new_kind_needs_no_change_in_the_loader(extra_kind: kinds.NodeKind) -> None:
    topo = loads("""
name: k
topology:
  nodes:
    sw: {kind: test-switch}
    n1: {}
    n2: {}
""")
    assert topo.nodes["sw"].kind == "test-switch"
    with pytest.raises(TopologyError) as info:  # in the host namespace: no stages
        loads("""
name: k
topology:
  nodes:
    sw: {kind: test-switch, stages: {create: {wait-for: [{node: n1, stage: create}]}}}
    n1: {}
""")
    assert "a test-switch node has no lifecycle: stages do not apply" in str(info.value)
