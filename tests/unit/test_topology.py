"""The topology loader: the model it returns, and every problem it reports."""

from __future__ import annotations

import dataclasses
import os
from ipaddress import ip_interface
from pathlib import Path
from textwrap import dedent

import pytest

from netknit._errors import NotSupportedError, Problem, TopologyError
from netknit.topology import (
    DEFAULT_LINK_MTU,
    Endpoint,
    Link,
    Node,
    Topology,
    lab_name,
    load,
    loads,
)

FULL = """\
name: demo
topology:
  defaults:
    kind: netns
    image: default-image
    env: {LEVEL: defaults, FROM_DEFAULTS: "1", RATIO: 1.50, ENABLED: yes}
    labels: {team: net}
    exec: [echo defaults]
    startup-delay: 3
  kinds:
    netns:
      image: kind-image
      env: {LEVEL: kind}
      exec: [echo kind]
  nodes:
    h1:
      env: {LEVEL: node}
      exec: [echo node]
      labels: {role: client}
    h2:
      startup-delay: 7
      cmd: sleep infinity
    br1:
      kind: bridge
    lab-host:
      kind: host
  links:
    - endpoints: ["h1:eth1", "h2:eth1"]
      ipv4: ["10.0.0.1/24", "10.0.0.2/24"]
      ipv6: ["2001:db8::1/64", ""]
      mtu: 1500
      labels: {speed: 10}
    - type: veth
      mtu: 9000
      endpoints:
        - {node: h1, interface: eth2, mac: "02:AA:BB:00:00:01", ipv4: 10.1.0.1/24}
        - {node: br1, interface: br1-h1}
    - endpoints: ["h2:eth2", "host:h2-eth2"]
    - type: host
      endpoint: {node: h2, interface: eth3, ipv6: ["fd00::3/64", "fd00:1::3/64"]}
      host-interface: h2-eth3
    - endpoints: ["lab-host:veth-h1", "h1:eth3"]
      ipv4: ["192.168.7.1/30", "192.168.7.2/30"]
"""


def problems(text: str, runtime: str | None = None) -> list[Problem]:
    with pytest.raises(TopologyError) as info:
        loads(dedent(text), filename="lab.yml", runtime=runtime)
    return list(info.value.problems)


def problem(text: str, path: str, *fragments: str, line: int | None = None) -> Problem:
    """The one problem at ``path`` whose message has all ``fragments``."""
    found = [p for p in problems(text) if p.path == path]
    assert found, f"no problem at {path}: {problems(text)}"
    matching = [p for p in found if all(f in p.message for f in fragments)]
    assert matching, f"at {path}: {[p.message for p in found]}"
    if line is not None:
        assert matching[0].line == line, matching[0]
    assert matching[0].file == "lab.yml"
    return matching[0]


def lab(nodes: str = "a: {}\nb: {}", links: str = "[]", extra: str = "") -> str:
    """A small lab; ``nodes`` and ``links`` are YAML blocks, indented for us."""
    nodes_block = "\n".join("    " + line for line in dedent(nodes).splitlines())
    links_block = "\n".join("    " + line for line in dedent(links).splitlines())
    return f"name: t\n{extra}topology:\n  nodes:\n{nodes_block}\n  links:\n{links_block}\n"


# --- a whole file ------------------------------------------------------------------------


def test_full_file_is_normalised() -> None:
    topo = loads(FULL, filename="demo.clab.yml")
    assert isinstance(topo, Topology)
    assert topo.name == "demo"
    assert list(topo.nodes) == ["h1", "h2", "br1", "lab-host"]  # file order
    assert topo.path is None and topo.notices == ()

    h1, h2 = topo.nodes["h1"], topo.nodes["h2"]
    assert h1.kind == "netns" and h1.where == "topology.nodes.h1"
    assert h1.image == "kind-image"  # kinds beat defaults
    assert dict(h1.env) == {
        "LEVEL": "node",
        "FROM_DEFAULTS": "1",
        "RATIO": "1.50",  # the source text, as containerlab reads it
        "ENABLED": "yes",
    }
    assert dict(h1.labels) == {"team": "net", "role": "client"}
    assert h1.exec == ("echo defaults", "echo kind", "echo node")  # concatenated
    assert h1.startup_delay == 3 and h2.startup_delay == 7
    assert h2.cmd == "sleep infinity" and h1.cmd is None

    br1, host = topo.nodes["br1"], topo.nodes["lab-host"]
    assert br1.kind == "bridge" and host.kind == "host"
    # bridge/host nodes run no workload: they take nothing from `defaults`
    assert br1.image is None and br1.exec == () and dict(br1.env) == {}

    veth, ext, brief_host, ext_host, host_node = topo.links
    assert veth == Link(
        type="veth",
        endpoints=(
            Endpoint(
                "h1",
                "eth1",
                ipv4=(ip_interface("10.0.0.1/24"),),
                ipv6=(ip_interface("2001:db8::1/64"),),
            ),
            Endpoint("h2", "eth1", ipv4=(ip_interface("10.0.0.2/24"),)),
        ),
        mtu=1500,
        labels=veth.labels,
        where="topology.links[0]",
    )
    assert dict(veth.labels) == {"speed": "10"}
    assert ext.mtu == 9000
    assert ext.endpoints[0].mac == "02:aa:bb:00:00:01"
    assert ext.endpoints[1] == Endpoint("br1", "br1-h1")
    assert brief_host.type == "host" and brief_host.mtu == DEFAULT_LINK_MTU
    assert brief_host.endpoints == (Endpoint("h2", "eth2"),)
    assert brief_host.host_interface == "h2-eth2"
    assert ext_host.host_interface == "h2-eth3"
    assert [str(a) for a in ext_host.endpoints[0].ipv6] == ["fd00::3/64", "fd00:1::3/64"]
    assert host_node.type == "veth"  # an end on a host-kind node is a host-side veth end
    assert str(host_node) == "lab-host:veth-h1 <-> h1:eth3"


def test_model_is_read_only() -> None:
    topo = loads(FULL)
    with pytest.raises(TypeError):
        topo.nodes["x"] = topo.nodes["h1"]  # type: ignore[index]
    with pytest.raises(TypeError):
        topo.nodes["h1"].env["LEVEL"] = "x"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        topo.nodes["h1"].kind = "bridge"  # type: ignore[misc]


def test_load_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.clab.yml"
    path.write_text(FULL)
    topo = load(path)
    assert topo.path == path.resolve()
    same = loads(FULL)
    assert topo.nodes == same.nodes and topo.links == same.links


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="cannot read the file"):
        load(tmp_path / "nope.yml")


def test_load_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "lab.yml"
    path.write_bytes(b"name: x\ntopology: {}\n# \xff\n")
    with pytest.raises(TopologyError) as info:
        load(path)
    assert info.value.problems[0].line == 3
    assert "UTF-8" in info.value.problems[0].message


@pytest.mark.parametrize(
    ("prefix", "full"),
    [
        ("", "clab-lab-r1"),
        ('prefix: ""\n', "r1"),
        ("prefix: __lab-name\n", "lab-r1"),
        ("prefix: acme\n", "acme-lab-r1"),
    ],
)
def test_prefix_variants(prefix: str, full: str) -> None:
    topo = loads(f"name: lab\n{prefix}topology:\n  nodes:\n    r1:\n")
    assert topo.full_name("r1") == full


def test_scalar_lab_name_is_its_text() -> None:
    assert loads("name: 2024\ntopology: {}\n").name == "2024"


def test_node_without_kind_is_netns_and_may_be_empty() -> None:
    topo = loads("name: t\ntopology:\n  nodes:\n    a:\n")
    assert topo.nodes["a"] == Node("a", "netns", where="topology.nodes.a")


def test_kind_is_case_insensitive_like_containerlab() -> None:
    assert loads(lab("a: {kind: Bridge}")).nodes["a"].kind == "bridge"


def test_yaml_merge_keys() -> None:
    text = """\
    name: t
    topology:
      defaults: &base {kind: netns, image: base}
      nodes:
        a:
          <<: *base
          image: mine
    """
    assert loads(dedent(text)).nodes["a"].image == "mine"


def test_link_type_is_lenient_like_containerlab() -> None:
    links = "- type: ' VETH '\n  endpoints: [{node: a, interface: e1}, {node: b, interface: e1}]"
    assert loads(lab(links=links)).links[0].type == "veth"


# --- runtime and linux nodes -------------------------------------------------------------

LINUX = """\
name: t
topology:
  kinds:
    linux: {image: alpine:3, binds: ["/a:/b"]}
  nodes:
    r1: {kind: linux, ports: ["80:80"], exec: ["ip addr"]}
    r2: {kind: linux}
    r3: {kind: linux, image: ""}
"""


def test_linux_runs_on_docker() -> None:
    for runtime in (None, "docker"):
        topo = loads(LINUX, runtime=runtime)  # containerlab's ports: accepted, applied
        r1 = topo.nodes["r1"]
        assert r1.options.ports == ("80:80",)
        assert (r1.kind, r1.image, r1.binds, r1.start_strategy) == (
            "linux", "alpine:3", ("/a:/b",), "sandbox")
        # containerlab's default management network, shared by labs, which r1 joins
        assert r1.network_mode == "none" and not r1.network_mode_written
        assert topo.mgmt is not None and (topo.mgmt.network, str(topo.mgmt.ipv4_subnet),
                                          str(topo.mgmt.ipv6_subnet), topo.mgmt.bridge) == (
            "clab", "172.20.20.0/24", "3fff:172:20:20::/64", "")
    assert loads(LINUX, runtime="netns").mgmt is None  # no Docker: no network


def test_linux_without_image_is_refused() -> None:
    problem(lab("a: {kind: linux}"), "topology.nodes.a.kind", "kind 'linux' needs an image")


DOCKER = """\
name: t
mgmt: {ipv4-subnet: 10.9.0.0/24}
topology:
  defaults: {kind: linux, image: busybox, binds: ["cfg:/etc/cfg:ro"]}
  nodes:
    a:
      start-strategy: gate
      mgmt-ipv4: 10.9.0.5
      user: 1000
      restart-policy: Always
      healthcheck: {test: ["CMD", "true"], interval: 1, retries: 3}
      entrypoint: /bin/sh
    b: {network-mode: "container:a", binds: ["/x:/etc/cfg"]}
    c: {network-mode: host}
"""


def test_docker_node_fields_are_honoured(tmp_path: Path) -> None:
    path = tmp_path / "lab.clab.yml"
    path.write_text(DOCKER.replace("/x:", f"{tmp_path}/x:"))
    for source in ("cfg", "x"):  # bind sources must exist, as in containerlab
        (tmp_path / source).mkdir()
    topo = load(path)
    a, b, c = (topo.nodes[n] for n in "abc")
    assert a.binds == (f"{tmp_path}/cfg:/etc/cfg:ro",)  # relative to the topology file
    assert b.binds == (f"{tmp_path}/x:/etc/cfg",)  # the node's own bind wins for the same target
    assert (a.start_strategy, a.user, a.restart_policy, a.entrypoint) == (
        "gate", "1000", "always", "/bin/sh")
    assert a.healthcheck is not None and a.healthcheck.test == ("CMD", "true")
    assert str(a.mgmt_ipv4) == "10.9.0.5"
    assert (b.network_mode, c.network_mode) == ("container:a", "host")
    assert topo.mgmt is not None and topo.mgmt.network == "clab"
    # a subnet written: only that one (containerlab adds the IPv6 default only when
    # neither is written)
    assert (str(topo.mgmt.ipv4_subnet), topo.mgmt.ipv6_subnet) == ("10.9.0.0/24", None)


@pytest.mark.parametrize(("change", "path", "message"), [
    ("start-strategy: gate", "topology.nodes.a.start-strategy", None),
    ("start-strategy: sandbx", "topology.nodes.a.start-strategy", "did you mean 'sandbox'?"),
    ("restart-policy: sometimes", "topology.nodes.a.restart-policy", "restart-policy must be"),
    ("network-mode: bridge", "topology.nodes.a.network-mode", "none, host or container:"),
    ('network-mode: "container:zz"', "topology.nodes.a.network-mode", "unknown node 'zz'"),
    ('network-mode: "container:a"', "topology.nodes.a.network-mode", "its own namespace"),
    ("mgmt-ipv4: 10.1.1.1/24", "topology.nodes.a.mgmt-ipv4", "not an IPv4 address"),
    ("mgmt-ipv4: 192.168.7.7", "topology.nodes.a.mgmt-ipv4", "not in the management subnet"),
    ('binds: ["nocolon"]', "topology.nodes.a.binds[0]", "host-path:container-path"),
    ('binds: ["a:relative"]', "topology.nodes.a.binds[0]", "must be absolute"),
    # Docker's bind options (moby linuxValidMountMode): one of each group
    ('binds: ["/a:/b:ro,Z,rshared,cached"]', "", None),
    ('binds: ["/a:/b:"]', "", None),
    ('binds: ["/a:/b:zz"]', "topology.nodes.a.binds[0]", "unknown option 'zz'; Docker accepts"),
    ('binds: ["/a:/b:ro,rw"]', "topology.nodes.a.binds[0]", "'ro' and 'rw' are both ro/rw"),
    ('binds: ["/a:/b:z,Z"]', "topology.nodes.a.binds[0]", "both SELinux label options"),
    ('binds: ["/a:/b:slave,shared"]', "topology.nodes.a.binds[0]", "both propagation options"),
    ('binds: ["/a:/b:nocopy"]', "topology.nodes.a.binds[0]", "on named volumes only"),
    ('binds: ["/a:/"]', "topology.nodes.a.binds[0]", "cannot be '/'"),
    ('binds: ["/a:/b", "/c:/b/"]', "topology.nodes.a.binds[1]",
     "container path /b is already bound at topology.nodes.a.binds[0]"),
    # 64 bytes: the longest hostname Linux takes
    (f"network-mode: none\n    {'h' * 64}: {{kind: linux, image: x}}", "", None),
])
def test_docker_field_validation(change: str, path: str, message: str | None) -> None:
    text = f"name: t\ntopology:\n  nodes:\n    a:\n      kind: linux\n      image: x\n" \
        f"      {change}\n"
    if message is None:
        assert loads(text).nodes["a"]
    else:
        problem(text, path, message)


def test_bind_sources_must_exist_when_loaded_from_a_file(tmp_path: Path) -> None:
    # containerlab's resolveBindPaths: "failed to verify bind path"
    (tmp_path / "cfg").mkdir()
    os.symlink("loop-b", tmp_path / "loop-a")
    os.symlink("loop-a", tmp_path / "loop-b")
    path = tmp_path / "lab.clab.yml"
    path.write_text("name: t\ntopology:\n  defaults: {kind: linux, image: x}\n  nodes:\n"
                    "    a: {binds: [cfg:/cfg, missing:/m:ro]}\n    b: {binds: [loop-a:/l]}\n")
    with pytest.raises(TopologyError) as info:
        load(path)
    assert [(p.path, p.line, p.message) for p in info.value.problems] == [
        ("topology.nodes.a.binds[1]", 5,
         f"bind 'missing:/m:ro': cannot use host path {tmp_path}/missing: "
         "No such file or directory"),
        ("topology.nodes.b.binds[0]", 6,
         f"bind 'loop-a:/l': cannot use host path {tmp_path}/loop-a: "
         "Too many levels of symbolic links"),
    ]
    # from text alone (no file) the sources are not looked at
    assert loads(path.read_text()).nodes["b"].binds == (f"{Path.cwd()}/loop-a:/l",)
    # ``~`` is the home of the user who ran sudo, as in containerlab
    import pwd

    me = pwd.getpwuid(os.getuid())
    text = "name: t\ntopology:\n  nodes:\n    a: {kind: linux, image: x, binds: [~/:/h]}\n"
    path.write_text(text)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SUDO_UID", str(me.pw_uid))
        env.setenv("HOME", str(tmp_path))
        assert load(path).nodes["a"].binds == (f"{os.path.normpath(me.pw_dir)}:/h",)
        env.delenv("SUDO_UID")
        assert load(path).nodes["a"].binds == (f"{tmp_path}:/h",)


@pytest.mark.parametrize(("kind", "what"), [
    ("fifo", "a FIFO (named pipe)"), ("directory", "a directory")])
def test_only_a_regular_file_is_read(tmp_path: Path, kind: str, what: str) -> None:
    import signal

    path = tmp_path / "lab.clab.yml"
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading would wait for a writer forever
    else:
        path.mkdir()
    def blocked(*_: object) -> None:
        pytest.fail("blocked opening the file")

    old = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(5)  # a blocked open fails the test instead of hanging it
    try:
        for call in (load, lab_name):
            with pytest.raises(TopologyError) as info:
                call(path)
            (found,) = info.value.problems
            assert found.message == f"cannot read the topology from {what}: give a *.clab.yml file"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_links_on_a_shared_namespace_node_are_refused() -> None:
    text = DOCKER.replace("mgmt: {ipv4-subnet: 10.9.0.0/24}\n", "") + \
        '  links:\n    - endpoints: ["a:eth1", "b:eth1"]\n'
    problem(text, "topology.links[0].endpoints[1]", "network-mode container:a")


def test_linux_with_netns_runtime_is_a_bare_namespace() -> None:
    topo = loads(LINUX, runtime="netns")
    assert topo.notices == (
        "node r1: kind linux runs as a bare namespace (--runtime netns); "
        "ignored: image, binds, ports",
        "node r2: kind linux runs as a bare namespace (--runtime netns); ignored: image, binds",
        "node r3: kind linux runs as a bare namespace (--runtime netns); ignored: image, binds",
    )
    r1 = topo.nodes["r1"]
    assert r1.kind == "netns" and r1.image is None and r1.exec == ("ip addr",)


def test_linux_notice_without_ignored_fields() -> None:
    topo = loads(lab("a: {kind: linux}"), runtime="netns")
    assert topo.notices == ("node a: kind linux runs as a bare namespace (--runtime netns)",)


def test_linux_kind_from_defaults_is_reported_once() -> None:
    text = "name: t\ntopology:\n  defaults: {kind: linux}\n  nodes: {a: {}, b: {}}\n"
    assert [p.path for p in problems(text)] == ["topology.defaults.kind"]


def test_mgmt_section() -> None:
    text = lab(extra="mgmt:\n  network: custom\n")
    assert loads(text).mgmt is None  # no Docker node uses it
    problem(lab(extra="mgmt:\n  netwrk: custom\n"), "mgmt.netwrk", "did you mean 'network'?")
    assert loads(text, runtime="netns").notices == (
        "mgmt ignored: --runtime netns has no management network",
    )
    assert loads(lab(extra="mgmt: {}\n")).name == "t"


def test_unknown_runtime() -> None:
    with pytest.raises(NotSupportedError, match="unknown runtime 'podman'"):
        loads(lab(), runtime="podman")


# --- not supported yet: accepted, each named in a warning -----------------------------


@pytest.mark.parametrize("field", ["runtime", "startup-config", "mgmt_ipv4", "cgroup-parent",
                                   "credentials", "link-apply-mode"])
def test_container_fields_not_supported_yet_are_warnings(field: str) -> None:
    topo = loads(dedent(lab(f"a:\n  {field}: x\nb: {{}}")), filename="lab.yml")
    assert [n for n in topo.notices if field in n] == [
        f"node a: topology.nodes.a.{field} (line 5): {field} is not supported by netknit yet; "
        "ignored"]


def test_top_level_debug_is_a_warning() -> None:
    topo = loads("debug: true\n" + dedent(lab()), filename="lab.yml")
    assert [n for n in topo.notices if "debug" in n] == [
        "debug (line 1): netknit's logging is set by `--log-level` or `-d`; ignored"]


@pytest.mark.parametrize("field", ["mgmt-ipv4", "user", "start-strategy"])
def test_docker_fields_on_a_netns_node_are_warnings(field: str) -> None:
    # (binds are not among them: a netns node has a mount namespace of its own)
    topo = loads(dedent(lab(f"a:\n  {field}: x\nb: {{}}")), filename="lab.yml")
    assert [n for n in topo.notices if field in n] == [
        f"node a: topology.nodes.a.{field} (line 5): {field} applies to container nodes "
        "(kind: linux) only; ignored"]


def test_container_field_from_defaults_is_named_where_written_for_each_node() -> None:
    text = "name: t\ntopology:\n  defaults:\n    user: x\n  nodes: {a: {}, b: {}}\n"
    assert [n.split(": ")[:2] for n in loads(text).notices if "user" in n] == [
        ["node a", "topology.defaults.user (line 4)"],
        ["node b", "topology.defaults.user (line 4)"]]


def test_container_fields_from_defaults_are_ignored_on_bridges() -> None:
    text = "name: t\ntopology:\n  defaults: {binds: [x]}\n  nodes: {br: {kind: bridge}}\n"
    assert loads(text).nodes["br"].kind == "bridge"


def test_empty_container_fields_are_unset() -> None:
    assert loads(lab("a: {binds: [], user: '', auto-remove: false}")).nodes["a"]


def test_position_is_cosmetic() -> None:
    assert loads(lab("a: {position: '10,20'}")).nodes["a"]


# vxlan, vxlan-stitch, macvlan, mgmt-net, host-device, dummy: tests/unit/test_topology_links.py


# settings, groups, the full mgmt block, stages map form, vars: tests/unit/test_topology_clab.py


@pytest.mark.parametrize("kind", ["nokia_srlinux", "ceos", "ovs-bridge"])
def test_containerlab_kinds_not_supported_yet(kind: str) -> None:
    problem(lab(f"a: {{kind: {kind}}}"), "topology.nodes.a.kind", f"kind '{kind}' is not supported")


def test_a_block_that_sets_nothing_sets_no_kind_field() -> None:
    # the merge skips such blocks at a glance: true only while the defaults set nothing
    from netknit.topology._nodes import _kind_set, _Layer
    from netknit.topology._schema import NodeDef

    assert _kind_set([_Layer(("defaults",), NodeDef())]) == {}
