"""The difference apply makes between a deployed lab and a changed file: pure, no root.

A deployed lab is represented by the desired state deploy records for its plan."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netknit._errors import UsageError
from netknit.engine._executor import desired_state
from netknit.plan import Change, Exec, Plan, build, diff
from netknit.runtimes import Runtimes
from netknit.state import LabState
from netknit.topology import loads, only


def _plan(text: str) -> Plan:
    return build(loads(text, filename="lab.clab.yml"))


def _state(plan: Plan) -> LabState:
    # a Runtimes on a directory that does not exist: naming objects needs no engine
    return LabState.from_json(desired_state(plan, Runtimes(Path("/nonexistent"))).to_json())


def _change(before: str, after: str) -> Change:
    return diff(_state(_plan(before)), _plan(after))


def _lab(nodes: dict[str, str], links: list[tuple[str, str, int, tuple[str, str]]]) -> str:
    lines = ["name: d", "topology:", "  nodes:"]
    lines += [f"    {name}: {{{spec}}}" for name, spec in nodes.items()]
    lines.append("  links:" if links else "  links: []")
    for a, b, mtu, (ip_a, ip_b) in links:
        lines.append(f'    - endpoints: ["{a}", "{b}"]')
        lines.append(f"      mtu: {mtu}")
        lines.append(f'      ipv4: ["{ip_a}", "{ip_b}"]')
    return "\n".join(lines) + "\n"


BASE_NODES = {"a": "kind: netns", "b": "kind: netns", "c": "kind: netns"}
BASE_LINKS = [("a:eth1", "b:eth1", 9500, ("10.0.0.1/30", "10.0.0.2/30")),
              ("b:eth2", "c:eth1", 9500, ("10.0.1.1/30", "10.0.1.2/30"))]


def test_the_same_file_changes_nothing() -> None:
    text = _lab(BASE_NODES, BASE_LINKS)
    assert _change(text, text).empty
    # the state survives its file on disk with everything apply needs
    assert _state(_plan(text)).links and all(n.spec for n in _state(_plan(text)).nodes.values())


def test_the_four_edits_of_issue_15() -> None:
    base = _lab(BASE_NODES, BASE_LINKS)
    grown = _lab({**BASE_NODES, "d": "kind: netns"},
                 [*BASE_LINKS, ("c:eth2", "d:eth1", 9500, ("10.0.2.1/30", "10.0.2.2/30"))])
    change = _change(base, grown)
    assert change.added_nodes == ("d",) and not change.removed_nodes
    assert [change.link_words(a) for a in change.added_links] == ["c:eth2 <-> d:eth1"]
    assert not change.removed_links and not change.recreated_nodes and not change.changed

    cut = _lab(BASE_NODES, BASE_LINKS[:1])  # a link removed
    change = _change(base, cut)
    assert [change.link_words(a) for a in change.removed_links] == ["b:eth2 <-> c:eth1"]
    assert not change.added_links and not change.added_nodes and not change.removed_nodes
    assert change.to_json()["deleted-endpoints"] == ["b:eth2", "c:eth1"]

    moved = _lab(BASE_NODES, [("a:eth1", "b:eth1", 9500, ("10.0.0.5/30", "10.0.0.2/30")),
                              BASE_LINKS[1]])  # an address changed
    change = _change(base, moved)
    assert [c.words() for c in change.changed] == ["a:eth1 remove 10.0.0.1/30",
                                                   "a:eth1 add 10.0.0.5/30"]
    assert not change.added_links and not change.removed_links

    shrunk = _lab(BASE_NODES, [BASE_LINKS[0], ("b:eth2", "c:eth1", 1400, BASE_LINKS[1][3])])
    change = _change(base, shrunk)  # an MTU changed: both ends, in place
    assert [c.words() for c in change.changed] == ["b:eth2 mtu 9500 -> 1400",
                                                   "c:eth1 mtu 9500 -> 1400"]
    assert not change.added_links and not change.removed_links


def test_a_changed_setting_recreates_that_node_with_its_links() -> None:
    base = _lab({**BASE_NODES, "a": 'kind: netns, cmd: "sleep 1"'}, BASE_LINKS)
    changed = _lab({**BASE_NODES, "a": 'kind: netns, cmd: "sleep 2"'}, BASE_LINKS)
    change = _change(base, changed)
    assert change.recreated_nodes == {"a": ("cmd",)}
    assert [change.link_words(a) for a in change.added_links] == ["a:eth1 <-> b:eth1"]
    assert change.removed_links == change.added_links
    assert change.to_json()["node-change-reasons"] == {"a": "config drift: cmd"}


def test_docker_image_and_env_recreate_but_a_new_link_does_not() -> None:
    def lab(image: str, env: str, more: bool) -> str:
        nodes = {"a": f"kind: linux, image: {image}, env: {{{env}}}", "b": "kind: netns",
                 "c": "kind: linux, image: alpine"}
        links = BASE_LINKS + ([("a:eth2", "c:eth2", 9500, ("10.0.3.1/30", "10.0.3.2/30"))]
                              if more else [])
        return _lab(nodes, links)

    base = lab("alpine", "X: '1'", False)
    assert _change(base, lab("alpine:3", "X: '1'", False)).recreated_nodes == {"a": ("image",)}
    assert set(_change(base, lab("alpine", "X: '2'", False)).recreated_nodes["a"]) == {"env"}
    # a link changes the node's interface list (CLAB_INTFS): not a reason to recreate it
    change = _change(base, lab("alpine", "X: '1'", True))
    assert not change.recreated_nodes and len(change.added_links) == 1
    # a new node changes every node's no_proxy: not a reason either
    grown = _lab({"a": "kind: linux, image: alpine, env: {X: '1'}", "b": "kind: netns",
                  "c": "kind: linux, image: alpine", "z": "kind: linux, image: alpine"},
                 BASE_LINKS)
    change = _change(base, grown)
    assert change.added_nodes == ("z",) and not change.recreated_nodes


def test_a_mac_written_in_the_file_is_changed_in_place() -> None:
    def lab(mac: str) -> str:
        return ("name: d\ntopology:\n  nodes: {a: {kind: netns}, b: {kind: netns}}\n"
                "  links:\n    - type: veth\n      endpoints:\n"
                f"        - {{node: a, interface: eth1, mac: '{mac}'}}\n"
                "        - {node: b, interface: eth1}\n")
    change = _change(lab("02:00:00:00:00:01"), lab("02:00:00:00:00:02"))
    assert [c.words() for c in change.changed] == [
        "a:eth1 mac 02:00:00:00:00:01 -> 02:00:00:00:00:02"]
    assert not change.added_links


@settings(max_examples=60, deadline=None)
@given(keep_nodes=st.sets(st.sampled_from("abcde")), keep_links=st.sets(st.integers(0, 4)),
       mtus=st.lists(st.sampled_from([1500, 9500]), min_size=5, max_size=5),
       new_nodes=st.sets(st.sampled_from("abcde")), new_links=st.sets(st.integers(0, 4)))
def test_diff_of_any_two_labs(keep_nodes: set[str], keep_links: set[int], mtus: list[int],
                              new_nodes: set[str], new_links: set[int]) -> None:
    """Whatever the two files: nodes added/removed are the set differences, links
    removed and added are the ones whose ends differ, MTU changes are in place, and
    applying a file to its own state changes nothing."""
    ring = [(f"{'abcde'[i]}:e{i}", f"{'abcde'[(i + 1) % 5]}:f{i}") for i in range(5)]

    def lab(nodes: set[str], links: set[int], mtu: list[int]) -> str:
        chosen = [(a, b, mtu[i], (f"10.{i}.0.1/30", f"10.{i}.0.2/30"))
                  for i, (a, b) in enumerate(ring) if i in links
                  and a.split(":")[0] in nodes and b.split(":")[0] in nodes]
        return _lab({n: "kind: netns" for n in sorted(nodes)}, chosen)

    before = lab(keep_nodes, keep_links, [9500] * 5)
    after = lab(new_nodes, new_links, mtus)
    change = _change(before, after)
    assert set(change.added_nodes) == new_nodes - keep_nodes
    assert set(change.removed_nodes) == keep_nodes - new_nodes
    assert not change.recreated_nodes
    old_plan, new_plan = _plan(before), _plan(after)
    old_ids = {a.id for a in old_plan.link_actions()}
    new_ids = {a.id for a in new_plan.link_actions()}
    assert set(change.removed_links) == old_ids - new_ids
    assert set(change.added_links) == new_ids - old_ids
    kept = old_ids & new_ids
    assert {(c.node, c.iface) for c in change.changed} == {
        (i.node, i.name) for a in new_plan.link_actions() if a.id in kept
        for i in (a.main, a.peer) if i.mtu != 9500}  # type: ignore[union-attr]
    assert diff(_state(new_plan), new_plan).empty


def test_node_filter_keeps_the_links_between_kept_nodes() -> None:
    topo = loads(_lab(BASE_NODES, BASE_LINKS), filename="lab.clab.yml")
    cut = only(topo, ["a", "b"])
    assert list(cut.nodes) == ["a", "b"]
    assert [tuple(e.node for e in link.endpoints) for link in cut.links] == [("a", "b")]
    with pytest.raises(UsageError, match="no node 'x'"):
        only(topo, ["a", "x"])
    waits = loads("name: d\ntopology:\n  nodes:\n    a: {kind: netns, stages: {create: "
                  "{wait-for: [{node: b, stage: create}]}}}\n    b: {kind: netns}\n")
    with pytest.raises(UsageError, match="needs b"):
        only(waits, ["a"])


def test_skip_post_deploy_leaves_out_exec_only() -> None:
    plan = _plan("name: d\ntopology:\n  nodes:\n    a: {kind: netns, exec: ['true']}\n")
    assert plan.of_kind(Exec) and not plan.without(Exec).of_kind(Exec)
    assert len(plan.without(Exec).waves()) >= 1
