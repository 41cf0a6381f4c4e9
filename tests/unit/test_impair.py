"""Link impairment without the kernel: containerlab's `tools netem` units, the topology's
``impairment:`` (link and endpoint), the plan's interfaces, the apply diff and the state."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from netknit._errors import TopologyError
from netknit._impair import Impairment, go_duration, make, parse_duration, parse_rate
from netknit.kernel._qdisc import _read_netem, _read_tbf, matches, netem_options, tbf_options
from netknit.plan import build, diff, link_state
from netknit.state import IfaceState, LabState
from netknit.topology import loads


@pytest.mark.parametrize(("text", "ns"), [
    ("0", 0), ("0s", 0), ("10ms", 10_000_000), ("1.5s", 1_500_000_000),
    ("1m30s", 90_000_000_000), ("500us", 500_000), ("250µs", 250_000), ("7ns", 7),
])
def test_durations_are_go_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["10", "ms", "10 ms", "1x", "-5ms", "10ms5"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(("ns", "text"), [
    (0, "0s"), (15_000_000, "15ms"), (1_500_000, "1.5ms"), (2_000_000_000, "2s"),
    (90_000_000_000, "1m30s"), (3_600_000_000_000, "1h0m0s"), (800, "800ns"),
])
def test_durations_print_as_go_does(ns: int, text: str) -> None:
    assert go_duration(ns) == text


@pytest.mark.parametrize(("value", "kbit"), [
    (1000, 1000), ("1000", 1000), ("1mbit", 1000), ("1Mbit", 1000), ("500kbit", 500),
    ("2mbps", 16000), ("1gbit", 1_000_000), (0, 0), ("1mibit", 1049),
])
def test_rates_are_kbit_or_tc_units(value: object, kbit: int) -> None:
    assert parse_rate(value) == kbit


@pytest.mark.parametrize("value", ["fast", "1 furlong", "5", True, [1]])
def test_bad_rates_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        parse_rate(value)


def test_make_checks_as_containerlab_does() -> None:
    with pytest.raises(ValueError, match=r"^loss: must be in the range between 0 and 100"):
        make(loss=101)
    with pytest.raises(ValueError, match=r"^jitter: jitter cannot be set without setting delay"):
        make(jitter="5ms")
    imp = make(delay="10ms", jitter="1ms", loss=0.5, rate="1mbit", corruption="0.1")
    assert imp == Impairment(10_000_000, 1_000_000, 0.5, 1000, 0.1)
    assert imp.netem and make(rate=1000).netem is False
    assert not make() and make().words() == "none"
    assert imp.words() == "delay 10ms, jitter 1ms, loss 0.5%, rate 1000 kbit, corruption 0.1%"
    assert Impairment.from_json(imp.to_json()) == imp


def test_qdisc_options_read_back_as_written() -> None:
    """The packed netem and tbf options parse back to what was asked (as the kernel
    dumps them: the same layouts), and compare equal to it."""
    imp = make(delay="10ms", jitter="1ms", loss=0.123, rate=2000, corruption=0.1)
    seen = _read_netem(netem_options(imp))
    assert matches("netem", seen, imp)
    assert not matches("tbf", seen, imp)
    rate = make(rate="1mbit")
    assert matches("tbf", _read_tbf(tbf_options(1000, 1500)), rate)
    assert not matches("tbf", _read_tbf(tbf_options(2000, 1500)), rate)


LAB = """\
name: t
topology:
  defaults: {kind: netns}
  nodes: {a: {}, b: {}, c: {}}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      impairment: {rate: 1mbit}
    - type: veth
      impairment: {rate: 2000}
      endpoints:
        - {node: a, interface: eth2}
        - {node: c, interface: eth1, impairment: {delay: 5ms, loss: 1}}
    - endpoints: ["b:eth2", "c:eth2"]
"""


def impaired(text: str) -> dict[str, Impairment | None]:
    plan = build(loads(text, filename="lab.yml"))
    return {f"{i.node}:{i.name}": i.impairment for i in plan.interfaces}


def test_topology_impairment_of_links_and_endpoints() -> None:
    """A link's impairment is every node end's; an endpoint's own wins; a link without
    one has none; the plan's interfaces (and so Configure) carry them."""
    assert impaired(LAB) == {
        "a:eth1": make(rate=1000), "b:eth1": make(rate=1000),
        "a:eth2": make(rate=2000), "c:eth1": make(delay="5ms", loss=1),
        "b:eth2": None, "c:eth2": None,
    }
    plan = build(loads(LAB, filename="lab.yml"))
    configured = {i.name: i.impairment for a in plan.actions.values()
                  if getattr(a, "netns", "") == "clab-t-a" and hasattr(a, "interfaces")
                  for i in a.interfaces}
    assert configured == {"eth1": make(rate=1000), "eth2": make(rate=2000)}


@pytest.mark.parametrize(("value", "path", "words"), [
    ("{rate: fast}", "topology.links[0].impairment.rate", "expected kbit/s"),
    ("{delay: 10}", "topology.links[0].impairment.delay", "expected a duration"),
    ("{loss: 150}", "topology.links[0].impairment.loss", "between 0 and 100"),
    ("{jitter: 1ms}", "topology.links[0].impairment.jitter", "without setting delay"),
    ("{latency: 1ms}", "topology.links[0].impairment", "unknown key 'latency'"),
    ("1mbit", "topology.links[0].impairment", "expected a mapping"),
])
def test_bad_impairments_are_located(value: str, path: str, words: str) -> None:
    text = dedent(f"""\
        name: t
        topology:
          nodes: {{a: {{kind: netns}}, b: {{kind: netns}}}}
          links:
            - endpoints: ["a:eth1", "b:eth1"]
              impairment: {value}
        """)
    with pytest.raises(TopologyError) as info:
        loads(text, filename="lab.yml")
    found = [p for p in info.value.problems if p.path == path]
    assert found and words in found[0].message, info.value.problems


def test_an_impairment_change_is_changed_in_place_not_a_new_link() -> None:
    """apply: a changed impairment keeps the link (same spec) and is an interface
    change; the state records it, and a state without impairments reads as before."""
    old_plan = build(loads(LAB, filename="lab.yml"))
    new_plan = build(loads(LAB.replace("rate: 1mbit", "rate: 3mbit"), filename="lab.yml"))
    assert {a: link_state(x).spec for a, x in ((x.id, x) for x in old_plan.link_actions())} \
        == {a: link_state(x).spec for a, x in ((x.id, x) for x in new_plan.link_actions())}
    from netknit.engine._executor import desired_state
    from netknit.runtimes import Runtimes

    recorded = desired_state(old_plan, Runtimes(Path("/nonexistent")))
    back = LabState.from_json(recorded.to_json())
    assert back == recorded
    change = diff(back, new_plan)
    assert not change.added_links and not change.removed_links
    assert sorted(c.words() for c in change.changed) == [
        "a:eth1 impairment rate 1000 kbit -> rate 3000 kbit",
        "b:eth1 impairment rate 1000 kbit -> rate 3000 kbit",
    ]
    plain = IfaceState("eth1", "02:00:00:00:00:01", 1500, (), "b:eth1", None)
    assert "impairment" not in plain.to_json()


def test_plan_rows_name_the_impairments() -> None:
    from netknit.links import describe

    plan = build(loads(LAB, filename="lab.yml"))
    details = [row["details"] for a in plan.link_actions() if (row := describe(a))]
    assert details == ["mtu 9500, a:eth1 rate 1000 kbit, b:eth1 rate 1000 kbit",
                       "mtu 9500, a:eth2 rate 2000 kbit, c:eth1 delay 5ms, loss 1%",
                       "mtu 9500"]
