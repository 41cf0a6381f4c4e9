"""The plan layer: pure, no root."""

from __future__ import annotations

from netknit.plan import (
    AttachEnd,
    Configure,
    CreateNode,
    CreateVeth,
    EnsureBridge,
    Exec,
    StagePoint,
    StartNode,
    build,
    derive_mac,
)
from netknit.topology import loads

TOPO = """
name: p1
topology:
  nodes:
    a: {kind: netns, cmd: "sleep 1", exec: ["true"]}
    b: {kind: netns}
    br0: {kind: bridge}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.0.0.1/24", "10.0.0.2/24"]
    - endpoints: ["b:eth2", "br0:p-b"]
    - endpoints: ["a:eth2", "host:h-a"]
"""


def test_mac_is_stable_local_unicast_and_distinct() -> None:
    mac = derive_mac("lab", "a", "eth1")
    assert mac == derive_mac("lab", "a", "eth1")
    first = int(mac.split(":")[0], 16)
    assert first & 0x02 and not first & 0x01
    macs = {derive_mac("lab", f"n{i}", f"eth{j}") for i in range(300) for j in range(8)}
    assert len(macs) == 2400


def test_waves_order_nodes_links_configure_start_exec() -> None:
    plan = build(loads(TOPO))
    first: dict[type, int] = {}
    last: dict[type, int] = {}
    for k, wave in enumerate(plan.waves()):
        for action in wave:
            first.setdefault(type(action), k)
            last[type(action)] = k
    assert last[CreateNode] < first[CreateVeth] and last[EnsureBridge] < first[CreateVeth]
    assert last[CreateVeth] < first[Configure]
    assert last[Configure] < first[StartNode] < first[Exec]


def test_host_side_end_is_the_main_end_and_names_follow_prefix() -> None:
    plan = build(loads(TOPO))
    veths = {a.main.name: a for a in plan.actions.values() if isinstance(a, CreateVeth)}
    port = veths["p-b"]
    assert port.main.netns is None and port.main.master == "br0"
    assert port.peer.netns == "clab-p1-b" and port.peer.name == "eth2"
    host = veths["h-a"]
    assert host.main.netns is None and host.peer.netns == "clab-p1-a"
    assert veths["eth1"].main.netns == "clab-p1-a"
    assert veths["eth1"].peer.netns == "clab-p1-b"
    assert [str(x) for x in veths["eth1"].main.addresses] == ["10.0.0.1/24"]


def test_every_node_namespace_gets_a_configure_step() -> None:
    plan = build(loads("name: p2\ntopology:\n  nodes:\n    lone: {kind: netns}\n"))
    assert [a.netns for a in plan.actions.values() if isinstance(a, Configure)] == ["clab-p2-lone"]


STAGED = """
name: st
topology:
  nodes:
    a:
      stages:
        create: {wait-for: [{node: b, stage: create-links}]}
    b:
      stages:
        configure:
          exec: [{command: "true", target: host, phase: on-exit}]
    c: {}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
"""


def _position(plan: object, action_id: str) -> int:
    for k, wave in enumerate(plan.waves()):  # type: ignore[attr-defined]
        if any(a.id == action_id for a in wave):
            return k
    raise AssertionError(action_id)


def test_wait_for_orders_stages_across_nodes() -> None:
    unlinked = build(loads(STAGED.replace('    - endpoints: ["a:eth1", "b:eth1"]\n', "")
                           .replace("  links:\n", "")))
    assert _position(unlinked, "node:a") > _position(unlinked, "on-exit:create-links:b")
    hook = unlinked.actions["on-exit:configure:b"]
    assert isinstance(hook, StagePoint) and hook.hooks[0].target == "host"


def test_a_link_in_the_way_of_wait_for_is_parked_not_a_cycle() -> None:
    # a waits for b's links, and b's only link needs a: the end on a is parked
    plan = build(loads(STAGED))
    (veth,) = [x for x in plan.actions.values() if isinstance(x, CreateVeth)]
    assert veth.parked and veth.peer.node == "a" and veth.main.node == "b"
    attach = plan.actions[f"attach:{veth.peer.where}"]
    assert isinstance(attach, AttachEnd)
    assert _position(plan, "node:a") > _position(plan, "on-exit:create-links:b")
    assert _position(plan, attach.id) > _position(plan, "node:a")


def test_wait_for_cycle_is_a_plan_error() -> None:
    import pytest

    from netknit import PlanError

    cyclic = STAGED.replace(
        "    b:\n      stages:\n",
        "    b:\n      stages:\n        create: {wait-for: [{node: a, stage: create}]}\n")
    with pytest.raises(PlanError, match=r"wait-for cycle: .*a:create \(enter\)"):
        build(loads(cyclic))


def test_wait_for_cycle_names_its_entries_with_their_lines() -> None:
    import pytest

    from netknit import PlanError

    cyclic = STAGED.replace(
        "    b:\n      stages:\n",
        "    b:\n      stages:\n        create: {wait-for: [{node: a, stage: create}]}\n")
    with pytest.raises(PlanError) as info:
        build(loads(cyclic, filename="lab.clab.yml"))
    assert info.value.message.splitlines()[1:] == [
        "  lab.clab.yml:7: topology.nodes.a.stages.create.wait-for[0]: a:create waits for "
        "b:create-links",
        "  lab.clab.yml:10: topology.nodes.b.stages.create.wait-for[0]: b:create waits for "
        "a:create",
    ]


def test_on_restart_only_after_links() -> None:
    import pytest

    from netknit import TopologyError

    bad = ("name: r\ntopology:\n  nodes:\n    a:\n      stages:\n        create:\n"
           "          exec: [{command: 'true', target: host, on-restart: true}]\n")
    with pytest.raises(TopologyError, match="only hooks after the links"):
        loads(bad)
    good = bad.replace("create:", "configure:")
    (hook,) = loads(good).nodes["a"].stages["configure"].exec
    assert hook.on_restart
