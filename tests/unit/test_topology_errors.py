"""Every validation of the topology loader: message, YAML path and line."""

from __future__ import annotations

from textwrap import dedent

import pytest

from netknit._errors import Problem, TopologyError
from netknit.topology import loads


def problems(text: str) -> list[Problem]:
    with pytest.raises(TopologyError) as info:
        loads(dedent(text), filename="lab.yml")
    return list(info.value.problems)


def lab(nodes: str = "a: {}\nb: {}", links: str = "[]", extra: str = "") -> str:
    """A lab whose line numbers are easy to count: nodes from line 4 on."""
    nodes_block = "\n".join("    " + line for line in dedent(nodes).splitlines())
    links_block = "\n".join("    " + line for line in dedent(links).splitlines())
    return f"name: t\n{extra}topology:\n  nodes:\n{nodes_block}\n  links:\n{links_block}\n"


def link(*lines: str, nodes: str = "a: {}\nb: {}\nbr: {kind: bridge}\nh: {kind: host}\nn:") -> str:
    """One or more links under five nodes: the first link is on line 10."""
    return lab(nodes, "\n".join(lines))


# (yaml, path, message fragments, line)
CASES = [
    pytest.param(
        link('- endpoints: ["a:eth1", "c:eth1"]'),
        "topology.links[0].endpoints[1]",
        ["unknown node 'c'"],
        10,
        id="unknown-node",
    ),
    pytest.param(
        link('- endpoints: ["a:eth1", "bb:eth1"]'),
        "topology.links[0].endpoints[1]",
        ["unknown node 'bb'", "did you mean 'b'?"],
        10,
        id="unknown-node-did-you-mean",
    ),
    pytest.param(
        link("- type: veth", "  endpoints: [{node: a, interface: e1}, {node: z, interface: e1}]"),
        "topology.links[0].endpoints[1].node",
        ["unknown node 'z'"],
        11,
        id="unknown-node-extended",
    ),
    pytest.param(
        link('- endpoints: ["a:eth1", "b:eth1"]', '- endpoints: ["a:eth1", "b:eth2"]'),
        "topology.links[1].endpoints[0]",
        ["interface 'eth1' of node 'a' is already used at topology.links[0].endpoints[0]"],
        11,
        id="interface-twice",
    ),
    pytest.param(
        link('- endpoints: ["a:eth1", "br:p1"]', '- endpoints: ["b:eth1", "host:p1"]'),
        "topology.links[1].endpoints[1]",
        ["interface 'p1' is already used in the host namespace"],
        11,
        id="host-namespace-twice",
    ),
    pytest.param(
        link('- endpoints: ["a:eth1", "h:br"]'),
        "topology.links[0].endpoints[1]",
        ["interface 'br' is already used in the host namespace", "(the bridge)"],
        10,
        id="host-interface-named-like-a-bridge",
    ),
    pytest.param(
        link("- type: host", "  endpoint: {node: a, interface: e1}", "  host-interface: vh1")
        + "    - type: host\n      endpoint: {node: b, interface: e1}\n"
        "      host-interface: vh1\n",
        "topology.links[1].host-interface",
        ["'vh1' is already used in the host namespace"],
        15,
        id="host-interface-twice",
    ),
    pytest.param(
        link('- endpoints: ["a:eth1", "b:abcdefghijklmnop"]'),
        "topology.links[0].endpoints[1]",
        ["'abcdefghijklmnop' is 16 bytes long", "at most 15"],
        10,
        id="ifname-too-long",
    ),
    pytest.param(
        link('- endpoints: ["a:eth1", "b:ethé12345678901"]'),
        "topology.links[0].endpoints[1]",
        ["16 bytes long"],
        10,
        id="ifname-bytes-not-characters",
    ),
    pytest.param(
        link('- endpoints: ["a:e 1", "b:eth1"]'),
        "topology.links[0].endpoints[0]",
        ["contains a space"],
        10,
        id="ifname-space",
    ),
    pytest.param(
        link('- endpoints: ["a:e/1", "b:eth1"]'),
        "topology.links[0].endpoints[0]",
        ["contains '/'"],
        10,
        id="ifname-slash",
    ),
    pytest.param(
        link('- endpoints: ["a:eth1:0", "b:eth1"]'),  # splits on the first ':' only
        "topology.links[0].endpoints[0]",
        ["'eth1:0' contains ':'"],
        10,
        id="ifname-colon",
    ),
    pytest.param(
        link('- endpoints: ["a:..", "b:eth1"]'),
        "topology.links[0].endpoints[0]",
        ["'..' is not allowed"],
        10,
        id="ifname-dotdot",
    ),
    pytest.param(
        link('- endpoints: ["a:", "b:eth1"]'),
        "topology.links[0].endpoints[0]",
        ["interface name is empty"],
        10,
        id="ifname-empty",
    ),
    pytest.param(
        link('- endpoints: ["a:lo", "b:eth1"]'),
        "topology.links[0].endpoints[0]",
        ["'lo' is the loopback interface"],
        10,
        id="ifname-lo",
    ),
    pytest.param(
        link('- endpoints: ["a:eth%d", "b:eth1"]'),
        "topology.links[0].endpoints[0]",
        ["contains '%'"],
        10,
        id="ifname-percent",
    ),
    pytest.param(
        link('- endpoints: ["a-eth1", "b:eth1"]'),
        "topology.links[0].endpoints[0]",
        ["'a-eth1' is not written as node:interface"],
        10,
        id="endpoint-without-colon",
    ),
    pytest.param(
        link('- endpoints: ["a:eth1", "b:eth1", "b:eth2"]'),
        "topology.links[0].endpoints",
        ["exactly 2 endpoints (got 3)"],
        10,
        id="three-endpoints",
    ),
    pytest.param(
        link(
            "- type: veth",
            "  endpoints:",
            "    - {node: a, interface: e1, mac: '02:00:00:00:00:0g'}",
            "    - {node: b, interface: e1}",
        ),
        "topology.links[0].endpoints[0].mac",
        ["not six hex octets"],
        12,
        id="mac-syntax",
    ),
    pytest.param(
        link(
            "- type: veth",
            "  endpoints:",
            "    - {node: a, interface: e1, mac: '03:00:00:00:00:01'}",
            "    - {node: b, interface: e1}",
        ),
        "topology.links[0].endpoints[0].mac",
        ["multicast"],
        12,
        id="mac-multicast",
    ),
    pytest.param(
        link('- endpoints: ["a:e1", "b:e1"]', "  ipv4: [10.0.0.1, 10.0.0.2/24]"),
        "topology.links[0].ipv4[0]",
        ["'10.0.0.1' has no prefix length", "10.0.0.1/24"],
        11,
        id="address-without-prefix-length",
    ),
    pytest.param(
        link('- endpoints: ["a:e1", "b:e1"]', "  ipv4: [10.0.0.300/24, '']"),
        "topology.links[0].ipv4[0]",
        ["'10.0.0.300/24' is not a valid ipv4 address"],
        11,
        id="address-invalid",
    ),
    pytest.param(
        link('- endpoints: ["a:e1", "b:e1"]', "  ipv6: ['', 10.0.0.1/24]"),
        "topology.links[0].ipv6[1]",
        ["is an IPv4 address, but this is the ipv6 field"],
        11,
        id="address-family",
    ),
    pytest.param(
        link('- endpoints: ["a:e1", "b:e1"]', "  ipv4: [10.0.0.1/24]"),
        "topology.links[0].ipv4",
        ["ipv4 has 1 entry but the link has 2 endpoints"],
        11,
        id="address-list-length",
    ),
    pytest.param(
        link('- endpoints: ["a:e1", "b:e1"]', "  ipv4: [10.0.0.1/24, 10.0.0.1/30]"),
        "topology.links[0].ipv4[1]",
        ["address 10.0.0.1 is already used at topology.links[0].ipv4[0] (line 11)"],
        11,
        id="address-twice-ignoring-prefix-length",
    ),
    pytest.param(
        link(
            '- endpoints: ["a:e1", "b:e1"]',
            "  ipv6: [2001:db8::1/64, '']",
            "- type: veth",
            "  endpoints:",
            "    - {node: a, interface: e2, ipv6: '2001:db8:0::1/128'}",
            "    - {node: b, interface: e2}",
        ),
        "topology.links[1].endpoints[0].ipv6",
        ["address 2001:db8::1 is already used"],
        14,
        id="address-twice-across-links",
    ),
    pytest.param(
        link('- endpoints: ["a:e1", "br:p1"]', "  ipv4: [10.0.0.1/24, 10.0.0.2/24]"),
        "topology.links[0].endpoints[1]",
        ["bridge 'br' cannot have IP addresses"],
        10,
        id="address-on-bridge",
    ),
    pytest.param(
        link('- endpoints: ["a:e1", "a:e1"]'),
        "topology.links[0]",
        ["both ends of the link are a:e1"],
        10,
        id="same-end-twice",
    ),
    pytest.param(
        link('- endpoints: ["br:p1", "h:p2"]'),
        "topology.links[0]",
        ["a link needs at least one end in a node"],
        10,
        id="both-ends-in-host-namespace",
    ),
    pytest.param(
        link('- endpoints: ["host:p1", "br:p2"]'),
        "topology.links[0]",
        ["a link needs at least one end in a node"],
        10,
        id="host-link-to-bridge",
    ),
    pytest.param(
        link('- endpoints: ["a:e1", "b:e1"]', "  mtu: abc"),
        "topology.links[0].mtu",
        ["expected a whole number (got 'abc')"],
        11,
        id="mtu-type",
    ),
    pytest.param(
        link('- endpoints: ["a:e1", "b:e1"]', "  mtu: 67"),
        "topology.links[0].mtu",
        ["between 68 and 65535"],
        11,
        id="mtu-range",
    ),
    pytest.param(
        link('- endpoints: ["a:e1", "b:e1"]', "  mtu: true"),
        "topology.links[0].mtu",
        ["expected a whole number (got true)"],
        11,
        id="mtu-bool",
    ),
    pytest.param(
        link("- type: vth", "  endpoints: []"),
        "topology.links[0].type",
        ["unknown link type 'vth'", "did you mean 'veth'?"],
        10,
        id="unknown-link-type",
    ),
    pytest.param(
        link('- endpoints: ["a:e1", "b:e1"]', "  mut: 1500"),
        "topology.links[0].mut",
        ["unknown key 'mut'", "did you mean 'mtu'?"],
        11,
        id="unknown-link-key",
    ),
    pytest.param(
        link("- type: veth", "  endpoints: [{node: a, interface: e1, mack: x}, {}]"),
        "topology.links[0].endpoints[0].mack",
        ["unknown key 'mack'", "did you mean 'mac'?"],
        11,
        id="unknown-endpoint-key",
    ),
    pytest.param(
        link("- type: veth", "  endpoints: [{node: a, interface: e1}, {node: b}]"),
        "topology.links[0].endpoints[1]",
        ["missing required key 'interface'"],
        11,
        id="missing-interface",
    ),
    pytest.param(
        link("- type: host", "  endpoint: {node: a, interface: e1}"),
        "topology.links[0]",
        ["missing required key 'host-interface'"],
        10,
        id="missing-host-interface",
    ),
    pytest.param(
        link("- endpoint: {node: a, interface: e1}", "  host-interface: x"),
        "topology.links[0]",
        ["add `type: host`"],
        10,
        id="extended-host-without-type",
    ),
    pytest.param(
        link('- endpoints: "a:e1 b:e1"'),
        "topology.links[0].endpoints",
        ["expected a list of two endpoints"],
        10,
        id="endpoints-not-a-list",
    ),
    pytest.param(
        lab(links="- a:e1"),
        "topology.links[0]",
        ["expected a mapping"],
        7,
        id="link-not-a-mapping",
    ),
    pytest.param(
        lab("a:\n  exec: 'ip link'"),
        "topology.nodes.a.exec",
        ["expected a list of strings (got 'ip link')"],
        5,
        id="exec-not-a-list",
    ),
    pytest.param(
        lab("a:\n  exec: [ip link, 3]"),
        "topology.nodes.a.exec[1]",
        ["expected a string (got 3)"],
        5,
        id="exec-item-not-a-string",
    ),
    pytest.param(
        lab("a:\n  startup-delay: -1"),
        "topology.nodes.a.startup-delay",
        ["must be at least 0"],
        5,
        id="startup-delay-negative",
    ),
    pytest.param(
        lab("a:\n  startup-delay: '5'"),
        "topology.nodes.a.startup-delay",
        ["expected a whole number of seconds (got '5')"],
        5,
        id="startup-delay-string",
    ),
    pytest.param(
        lab("a:\n  env: [A=1]"),
        "topology.nodes.a.env",
        ["expected a mapping of variable names to values"],
        5,
        id="env-not-a-mapping",
    ),
    pytest.param(
        lab("a:\n  env: {A: {B: 1}}"),
        "topology.nodes.a.env.A",
        ["expected a single value, not a mapping"],
        5,
        id="env-value-not-scalar",
    ),
    pytest.param(
        lab("a:\n  env: {'A=B': 1}"),
        'topology.nodes.a.env["A=B"]',
        ["environment variable name 'A=B' is not valid"],
        5,
        id="env-name",
    ),
    pytest.param(
        lab("a:\n  imgae: alpine"),
        "topology.nodes.a.imgae",
        ["unknown key 'imgae'", "did you mean 'image'?"],
        5,
        id="unknown-node-key",
    ),
    pytest.param(
        lab("a:\n  bind: [x]"),
        "topology.nodes.a.bind",
        ["unknown key 'bind'", "did you mean 'binds'?"],
        5,
        id="did-you-mean-a-containerlab-key",
    ),
    pytest.param(
        lab("a: {kind: linx}"),
        "topology.nodes.a.kind",
        ["unknown kind 'linx'", "did you mean 'linux'?"],
        4,
        id="unknown-kind",
    ),
    pytest.param(
        lab("a: {kind: 3}"),
        "topology.nodes.a.kind",
        ["expected a kind name (got 3)"],
        4,
        id="kind-not-a-string",
    ),
    pytest.param(
        "name: t\ntopology:\n  kinds:\n    bridg: {}\n",
        "topology.kinds.bridg",
        ["unknown kind 'bridg'", "did you mean 'bridge'?"],
        4,
        id="unknown-kind-in-kinds",
    ),
    pytest.param(
        lab("a: 5"),
        "topology.nodes.a",
        ["expected a mapping of node settings (got 5)"],
        4,
        id="node-not-a-mapping",
    ),
    pytest.param(
        lab("a b: {}"),
        'topology.nodes["a b"]',
        ["node name 'a b' may only contain"],
        4,
        id="node-name-characters",
    ),
    pytest.param(
        lab("'': {}"),
        'topology.nodes[""]',
        ["node name '' may only contain"],
        4,
        id="node-name-empty",
    ),
    pytest.param(
        lab("a-very-long-bridge: {kind: bridge}"),
        "topology.nodes.a-very-long-bridge",
        ["a bridge node's name is its interface name", "18 bytes long"],
        4,
        id="bridge-name-is-an-interface-name",
    ),
    pytest.param(
        lab("a: {}\na: {}"),
        "topology.nodes.a",
        ["node 'a' is defined twice (first at line 4)"],
        5,
        id="duplicate-node",
    ),
    pytest.param(
        lab("a:\n  kind: netns\n  kind: bridge"),
        "topology.nodes.a.kind",
        ["duplicate key 'kind' (first at line 5)"],
        6,
        id="duplicate-key",
    ),
    pytest.param(
        lab(extra="nmae: x\n"),
        "nmae",
        ["unknown key 'nmae'", "did you mean 'name'?"],
        2,
        id="unknown-top-level-key",
    ),
    pytest.param(
        "name: t\ntopology:\n  node: {}\n",
        "topology.node",
        ["unknown key 'node'", "did you mean 'nodes'?"],
        3,
        id="unknown-topology-key",
    ),
    pytest.param(
        "topology: {}\n",
        "",
        ["missing required key 'name'"],
        1,
        id="missing-name",
    ),
    pytest.param(
        "name: t\n",
        "",
        ["missing required key 'topology'"],
        1,
        id="missing-topology",
    ),
    pytest.param(
        "name: a/b\ntopology: {}\n",
        "name",
        ["lab name may only contain"],
        1,
        id="lab-name",
    ),
    pytest.param(
        "name: t\nprefix: a b\ntopology: {}\n",
        "prefix",
        ["prefix may only contain"],
        2,
        id="prefix",
    ),
    pytest.param(
        "name: t\ntopology: [a]\n",
        "topology",
        ["expected a mapping"],
        2,
        id="topology-not-a-mapping",
    ),
    pytest.param(
        "name: t\ntopology:\n  links: {a: b}\n",
        "topology.links",
        ["expected a list of links"],
        3,
        id="links-not-a-list",
    ),
    pytest.param(
        link('- {type: veth, endpoints: [{node: a, interface: e1, mac: "02:00:00:00:00:01"},',
             '                            {node: b, interface: e1, mac: "02:00:00:00:00:0A"}]}',
             '- {type: veth, endpoints: [{node: a, interface: e2, mac: "02:00:00:00:00:0a"},',
             '                            {node: n, interface: e1}]}'),
        "topology.links[1].endpoints[0].mac",
        ["MAC address 02:00:00:00:00:0a is already used at topology.links[0].endpoints[1].mac "
         "(line 11)"],
        12,
        id="same-mac-on-two-ends",
    ),
    pytest.param(
        link('- endpoints: ["a:eth1", "b:éth1"]'),
        "topology.links[0].endpoints[1]",
        ["interface name 'éth1' contains 'é', which is not ASCII"],
        10,
        id="non-ascii-interface",
    ),
    pytest.param(
        link('- endpoints: ["a:eth\\u200b1", "b:eth1"]'),
        "topology.links[0].endpoints[0]",
        ["contains '\\u200b', which is not ASCII"],
        10,
        id="invisible-interface-character",
    ),
    pytest.param(
        lab(f"{'n' * 249}: {{}}"),
        f"topology.nodes.{'n' * 249}",
        ["would be 256 bytes long; Linux allows at most 255 in a file name"],
        4,
        id="node-name-too-long-for-a-namespace",
    ),
    pytest.param(
        f"name: {'t' * 251}\ntopology: {{}}\n",
        "name",
        ["the lab directory clab-<name> would be 256 bytes long"],
        1,
        id="lab-name-too-long-for-its-directory",
    ),
    pytest.param(
        lab(f"{'n' * 65}: {{kind: linux, image: x}}"),
        f"topology.nodes.{'n' * 65}",
        ["is 65 bytes long; it is the container's hostname, and Linux allows at most 64"],
        4,
        id="docker-node-name-too-long-for-a-hostname",
    ),
]


@pytest.mark.parametrize(("text", "path", "fragments", "line"), CASES)
def test_problem(text: str, path: str, fragments: list[str], line: int) -> None:
    found = problems(text)
    at_path = [p for p in found if p.path == path]
    assert at_path, f"no problem at {path!r}: {found}"
    matching = [p for p in at_path if all(f in p.message for f in fragments)]
    assert matching, f"at {path!r}: {[p.message for p in at_path]}"
    assert matching[0].line == line
    assert matching[0].file == "lab.yml"
    assert f"lab.yml:{line}: " in str(matching[0])


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("", "the file is empty", None),
        ("# only a comment\n", "the file is empty", None),
        ("- a\n", "expected a mapping with `name` and `topology` (got a list)", 1),
        ("name: t\ntopology:\n  nodes: [a\n", "YAML syntax error", 4),
        ("name: t\n\ttopology: {}\n", "YAML syntax error", 2),
        ("name: t\n---\nname: u\n", "YAML syntax error", 2),
        ("name: !!python/object:os.system x\n", "cannot read this value", 1),
        ("name: t\ntopology: !!set {a}\n", "unsupported YAML tag", 2),
        ("name: t\ntopology: &a {nodes: *a}\n", "refers to a value that contains it", 2),
        ("? [a]\n: 1\n", "a mapping key must be a plain value", 1),
        ("name: t\x07\n", "control characters are not allowed", 1),
    ],
)
def test_not_a_usable_yaml_document(text: str, message: str, line: int | None) -> None:
    (found,) = problems(text)
    assert message in found.message
    assert found.line == line


def test_alias_bomb_is_refused_quickly() -> None:
    text = "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
    for name, prev in zip("bcdefgh", "abcdefg", strict=True):
        text += f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]\n"
    (found,) = problems(text)
    assert "too many values" in found.message


def test_only_alias_expansions_count_against_the_bomb_guard(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from netknit.topology import _yaml

    monkeypatch.setattr(_yaml, "_MAX_ALIAS_VALUES", 1000)
    # many values written out (a big file) are no bomb
    plain = "".join(f"  k{i}: [v, v]\n" for i in range(2000))
    assert len(_yaml.load(f"a:\n{plain}").data["a"]) == 2000
    # the same number of values made by aliases is
    bomb = "x: &x [v, v, v, v, v, v, v, v, v, v]\n" + "".join(
        f"k{i}: *x\n" for i in range(200))
    with pytest.raises(_yaml.YamlError, match="too many values") as info:
        _yaml.load(bomb)
    assert info.value.line == 1  # the anchored value that is expanded over and over


def test_all_problems_are_collected_in_line_order() -> None:
    text = """\
    name: t
    topology:
      nodes:
        a: {kind: linx}
        b: {imgae: x}
      links:
        - endpoints: ["a:eth1", "c:eth1"]
          mtu: 10
    """
    found = problems(text)
    assert [(p.path, p.line) for p in found] == [
        ("topology.nodes.a.kind", 4),
        ("topology.nodes.b.imgae", 5),
        ("topology.links[0].endpoints[1]", 7),
        ("topology.links[0].mtu", 8),
    ]


def test_error_text_lists_every_problem() -> None:
    with pytest.raises(TopologyError) as info:
        loads(lab("a: {kind: linx}\nb: {imgae: x}"), filename="lab.yml")
    text = str(info.value)
    assert text.startswith("invalid topology (2 problems):")
    assert "lab.yml:4: topology.nodes.a.kind: unknown kind 'linx'" in text
    assert info.value.exit_code == 2
