"""containerlab's container fields on linux nodes: parsed, merged, sized as containerlab
does (types/topology.go, go-humanize's ParseBytes), warned about with --runtime netns."""

from __future__ import annotations

from pathlib import Path

import pytest

from netknit._errors import TopologyError
from netknit.topology import loads
from netknit.topology._nodes import parse_env_file, parse_size

LAB = """
name: t
topology:
  defaults:
    sysctls: {net.ipv4.ip_forward: 1, net.ipv6.conf.all.forwarding: 0}
    cap-add: [NET_ADMIN]
    devices: [/dev/net/tun]
    memory: 1GB
    security-opts: [apparmor=unconfined]
    tmpfs: {/run: "size=10m"}
  kinds:
    linux:
      image: alpine:3
      sysctls: {net.ipv6.conf.all.forwarding: 1}
      cap-add: [NET_ADMIN, SYS_ADMIN]
      cpu: 1.5
      aliases: [from-kind]
  nodes:
    a:
      kind: linux
      privileged: false
      hostname: router-a
      ports: ["8080:80", "127.0.0.1:5353:53/udp"]
      memory: 256MB
      shm-size: 64MiB
      cpu-set: "0-1"
      dns: {servers: [192.0.2.53], search: [lab.example], options: ["ndots:2"]}
      aliases: [a1, a2]
      volumes: [data:/data, /scratch]
      pid-mode: host
      cgroupns-mode: private
      image-pull-policy: IfNotPresent
    b: {kind: linux}
"""


def test_fields_are_parsed_and_merged_as_containerlab_does() -> None:
    topo = loads(LAB)
    a, b = topo.nodes["a"].options, topo.nodes["b"].options
    assert (a.privileged, b.privileged) == (False, True)  # PrivilegedByDefault
    assert (a.hostname, b.hostname) == ("router-a", None)
    assert a.ports == ("8080:80", "127.0.0.1:5353:53/udp") and b.ports == ()
    assert (a.memory, b.memory) == (256_000_000, 1_000_000_000)  # first non-empty
    assert a.shm_size == 64 * 1024 ** 2
    assert (a.cpu, a.cpu_set) == (1.5, "0-1")
    assert (a.dns_servers, a.dns_search, a.dns_options) == (
        ("192.0.2.53",), ("lab.example",), ("ndots:2",))
    # maps merge key by key (node > kind > defaults); lists concatenate without repeats
    assert dict(b.sysctls) == {"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1"}
    assert b.cap_add == ("NET_ADMIN", "SYS_ADMIN") and b.devices == ("/dev/net/tun",)
    assert b.security_opts == ("apparmor=unconfined",) and dict(b.tmpfs) == {"/run": "size=10m"}
    # aliases are read from the node only (GetNodeAliases)
    assert (a.aliases, b.aliases) == (("a1", "a2"), ())
    assert a.volumes == ("data:/data", "/scratch")
    assert (a.pid_mode, a.cgroupns_mode, a.image_pull_policy) == ("host", "private",
                                                                   "IfNotPresent")


@pytest.mark.parametrize(("text", "size"), [
    ("256MB", 256_000_000), ("256mb", 256_000_000), ("256m", 256_000_000),
    ("256MiB", 256 * 2 ** 20), ("256Mi", 256 * 2 ** 20), ("1.5GB", 1_500_000_000),
    ("2 GiB", 2 * 2 ** 30), ("512", 512), ("10k", 10_000), ("1,000KB", 1_000_000),
])
def test_sizes_follow_go_humanize(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["lots", "12XB", "-1MB"])
def test_a_bad_size_is_refused_with_the_field(bad: str) -> None:
    with pytest.raises(TopologyError) as info:
        loads(f"name: t\ntopology:\n  nodes:\n    a: {{kind: linux, image: x, memory: '{bad}'}}\n")
    [problem] = info.value.problems
    assert problem.path == "topology.nodes.a.memory" and "256MB" in problem.message


def test_a_bad_port_is_refused() -> None:
    with pytest.raises(TopologyError) as info:
        loads("name: t\ntopology:\n  nodes:\n    a: {kind: linux, image: x, ports: [a:b]}\n")
    assert [p.path for p in info.value.problems] == ["topology.nodes.a.ports[0]"]


def test_env_files_relative_to_the_topology_and_env_wins(tmp_path: Path) -> None:
    (tmp_path / "one.env").write_text("# comment\nexport A=1\nB='two words'\nC=3 # note\n")
    (tmp_path / "two.env").write_text('A="from two"\n')
    path = tmp_path / "lab.clab.yml"
    path.write_text("name: t\ntopology:\n  defaults: {env-files: [one.env]}\n  nodes:\n"
                    "    a: {kind: linux, image: x, env-files: [two.env], env: {C: node}}\n")
    from netknit.topology import load

    env = load(path).nodes["a"].env
    assert (env["A"], env["B"], env["C"]) == ("from two", "two words", "node")


def test_a_missing_env_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "lab.clab.yml"
    path.write_text("name: t\ntopology:\n  nodes:\n    a: {kind: linux, image: x, "
                    "env-files: [nope.env]}\n")
    from netknit.topology import load

    with pytest.raises(TopologyError) as info:
        load(path)
    assert "env-file nope.env" in info.value.problems[0].message


def test_parse_env_file() -> None:
    assert parse_env_file("K: v\nE=\n\nX='a=b'\n") == {"K": "v", "E": "", "X": "a=b"}


def test_container_fields_with_runtime_netns_are_named_once_per_node() -> None:
    topo = loads(LAB, runtime="netns")
    note = next(n for n in topo.notices if n.startswith("node a:"))
    for field in ("privileged", "hostname", "ports", "memory", "shm-size", "cpu", "cpu-set",
                  "dns", "aliases", "sysctls", "cap-add", "devices", "volumes", "tmpfs",
                  "pid-mode", "cgroupns-mode", "security-opts", "image-pull-policy"):
        assert note.count(field + ",") + note.endswith(field) == 1, field


def test_container_fields_on_a_netns_node_are_warnings() -> None:
    topo = loads("name: t\ntopology:\n  nodes:\n    a: {cpu: 1}\n")
    assert [n for n in topo.notices if "cpu" in n] == [
        "node a: topology.nodes.a.cpu (line 4): cpu applies to container nodes (kind: linux) "
        "only; ignored"]


def test_hostname_is_checked_against_linux_and_frees_the_node_name() -> None:
    long = "n" * 70
    with pytest.raises(TopologyError) as info:
        loads(f"name: t\ntopology:\n  nodes:\n    a: {{kind: linux, image: x, "
              f"hostname: {long}}}\n")
    assert [p.path for p in info.value.problems] == ["topology.nodes.a.hostname"]
    topo = loads(f"name: t\ntopology:\n  nodes:\n    {long}: {{kind: linux, image: x, "
                 "hostname: short}\n")
    assert topo.nodes[long].options.hostname == "short"
