"""containerlab sections netknit accepts: settings, groups, the full mgmt block, the
stages map form, link and endpoint vars; what netknit does not honour is one warning
naming the field, never a refusal."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from pathlib import Path
from textwrap import dedent

import pytest

from netknit._errors import TopologyError
from netknit.plan import container_spec
from netknit.topology import load, loads
from netknit.topology._model import StageExec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "clab"


def test_settings_are_accepted_with_one_warning() -> None:
    topo = loads(dedent("""\
        name: t
        settings:
          certificate-authority: {key-size: 2048, validity-duration: 1h}
        topology: {nodes: {a: {}}}
        """), filename="lab.yml")
    assert topo.notices == ("settings.certificate-authority (line 3): netknit makes no "
                            "certificates; ignored",)


def test_settings_typo_is_still_an_error() -> None:
    with pytest.raises(TopologyError) as info:
        loads("name: t\nsettings: {certificate-authority: {keysize: 1}}\ntopology: {}\n",
              filename="lab.yml")
    assert [str(p) for p in info.value.problems] == [
        "lab.yml:2: settings.certificate-authority.keysize: unknown key 'keysize'"]


def test_groups_follow_containerlab_precedence() -> None:
    # node > group > kind > defaults (types/topology.go getField); the kind may come from
    # the group; a node's group from its kind's block
    topo = loads(dedent("""\
        name: t
        topology:
          defaults: {env: {LAYER: defaults, D: d}, labels: {l: defaults}}
          kinds:
            linux: {group: spines, image: kind-image, env: {LAYER: kind, K: k}}
          groups:
            spines: {kind: linux, env: {LAYER: group}, labels: {l: group}, exec: [g]}
            leaves: {kind: netns, cmd: leaf-cmd}
          nodes:
            s1: {exec: [n]}
            s2: {group: spines, image: own-image, env: {LAYER: node}}
            l1: {group: leaves}
            x1: {group: not-defined}
        """))
    s1, s2, l1, x1 = (topo.nodes[n] for n in ("s1", "s2", "l1", "x1"))
    # s1 has no kind of its own and no group: defaults give none, so it is netns
    assert (s1.kind, s1.group) == ("netns", None)
    assert (s2.kind, s2.group, s2.image) == ("linux", "spines", "own-image")
    assert dict(s2.env) == {"LAYER": "node", "D": "d", "K": "k"}
    assert dict(s2.labels) == {"l": "group"}
    assert (l1.kind, l1.group, l1.cmd) == ("netns", "leaves", "leaf-cmd")
    assert (x1.kind, x1.group) == ("netns", "not-defined")  # a group name alone is a label


def test_group_from_kind_block_and_exec_order() -> None:
    topo = loads(dedent("""\
        name: t
        topology:
          defaults: {kind: linux, image: img, exec: [d]}
          kinds:
            linux: {group: spines, exec: [k]}
          groups:
            spines: {exec: [g], stages: {create-links: {exec: [{command: gs}]}}}
          nodes:
            s1: {exec: [n]}
        """))
    node = topo.nodes["s1"]
    assert node.group == "spines"
    assert node.exec == ("d", "k", "g", "n")  # MergeStringSlices(defaults, kind, group, node)
    assert node.stages["create-links"].exec == (StageExec("gs"),)


def test_mgmt_block_is_kept_and_unhonoured_keys_warn() -> None:
    topo = loads(dedent("""\
        name: t
        mgmt:
          network: custom
          ipv4-subnet: 10.9.0.0/24
          ipv4-gw: 10.9.0.254
          ipv6-subnet: 3fff:10:9::/64
          ipv6-gw: 3fff:10:9::fe
          ipv4-range: 10.9.0.128/25
          ipv6-range: 3fff:10:9::/80
          external-access: false
          skip-when-unused: true
          driver-opts: {com.docker.network.bridge.gateway_mode_ipv4: routed}
          mtu: 1400
        topology:
          nodes: {a: {kind: linux, image: img}}
        """), filename="lab.yml")
    mgmt = topo.mgmt
    assert mgmt is not None
    assert (mgmt.network, mgmt.ipv4_subnet, mgmt.mtu) == ("custom", ip_network("10.9.0.0/24"),
                                                         1400)
    assert (mgmt.ipv4_gw, mgmt.ipv6_gw) == (ip_address("10.9.0.254"), ip_address("3fff:10:9::fe"))
    assert (mgmt.ipv4_range, mgmt.ipv6_range) == (ip_network("10.9.0.128/25"),
                                                  ip_network("3fff:10:9::/80"))
    assert (mgmt.external_access, mgmt.skip_when_unused) == (False, True)
    assert dict(mgmt.driver_opts) == {"com.docker.network.bridge.gateway_mode_ipv4": "routed"}
    assert topo.notices == ()  # all applied; external-access: false needs no rule


def test_mgmt_external_access_true_warns_naming_the_field() -> None:
    topo = loads("name: t\nmgmt:\n  external-access: true\n"
                 "topology: {nodes: {a: {kind: linux, image: i}}}\n", filename="lab.yml")
    (notice,) = topo.notices
    assert notice.startswith("mgmt.external-access (line 3): containerlab adds DOCKER-USER "
                             "firewall rules")
    assert "netknit never changes the host's firewall" in notice


def test_default_mgmt_network_joins_nodes_without_network_mode() -> None:
    topo = loads(dedent("""\
        name: t
        topology:
          nodes:
            a: {kind: linux, image: i, mgmt-ipv4: 172.20.20.9, mgmt-ipv6: "3fff:172:20:20::9"}
            b: {kind: linux, image: i, network-mode: none}
            c: {kind: linux, image: i, network-mode: "container:a"}
            n: {kind: netns}
        """), filename="lab.yml")
    assert topo.mgmt is not None and topo.mgmt.network == "clab"
    specs = {n: container_spec(topo, topo.nodes[n]) for n in "abc"}
    assert [s.mgmt_network if s else None for s in specs.values()] == ["clab", None, None]
    a = specs["a"]
    assert a is not None and (a.mgmt_ipv4, a.mgmt_ipv6) == ("172.20.20.9", "3fff:172:20:20::9")
    # containerlab's ExtraHosts: static addresses, on nodes not sharing a namespace
    hosts = ("a:172.20.20.9", "a:3fff:172:20:20::9")
    assert [s.extra_hosts if s else None for s in specs.values()] == [hosts, hosts, ()]


def test_mgmt_network_is_skipped_only_as_containerlab_skips_it() -> None:
    nodes = "topology: {nodes: {a: {kind: linux, image: i, network-mode: none}}}\n"
    assert loads(f"name: t\n{nodes}", filename="l.yml").mgmt is not None  # made, unused
    assert loads(f"name: t\nmgmt: {{skip-when-unused: true}}\n{nodes}",
                 filename="l.yml").mgmt is None
    used = "topology: {nodes: {a: {kind: linux, image: i}}}\n"
    assert loads(f"name: t\nmgmt: {{skip-when-unused: true}}\n{used}",
                 filename="l.yml").mgmt is not None
    assert loads("name: t\ntopology: {nodes: {n: {kind: netns}}}\n",
                 filename="l.yml").mgmt is None  # no Docker node


def test_eth0_on_a_node_of_the_mgmt_network_is_refused_as_containerlab() -> None:
    lab = ("name: t\ntopology:\n  nodes:\n    a: {kind: linux, image: i MODE}\n"
           "    b: {kind: linux, image: i, network-mode: none}\n"
           "  links: [{endpoints: [a:eth0, b:eth0]}]\n")
    with pytest.raises(TopologyError) as caught:
        loads(lab.replace("MODE", ""), filename="l.yml")
    assert "eth0 interface name is not allowed for a node when network mode is not set " \
        "to none" in str(caught.value)
    assert loads(lab.replace("MODE", ", network-mode: none"), filename="l.yml").links
    assert loads(lab.replace("MODE", ""), filename="l.yml", runtime="netns").links


def test_mgmt_deprecated_subnet_spelling() -> None:
    topo = loads("name: t\nmgmt: {ipv4_subnet: 10.8.0.0/24}\n"
                 "topology: {nodes: {a: {kind: linux, image: i}}}\n", filename="lab.yml")
    assert topo.mgmt is not None and topo.mgmt.ipv4_subnet == ip_network("10.8.0.0/24")
    assert topo.notices == ("mgmt.ipv4_subnet (line 2): 'ipv4_subnet' is deprecated; write "
                            "'ipv4-subnet'",)


def test_mgmt_bad_gateway_is_an_error_with_line() -> None:
    with pytest.raises(TopologyError) as info:
        loads("name: t\nmgmt:\n  ipv4-gw: 3fff::1\n"
              "topology: {nodes: {a: {kind: linux, image: i}}}\n", filename="lab.yml")
    assert "lab.yml:3: mgmt.ipv4-gw: '3fff::1' is an IPv6 address" in \
        [str(p) for p in info.value.problems]


def test_stages_map_form() -> None:
    topo = loads(dedent("""\
        name: t
        topology:
          nodes:
            a:
              stages:
                create-links:
                  exec:
                    on-enter: ["echo in"]
                    on-exit: ["echo out", "echo out2"]
        """))
    assert topo.nodes["a"].stages["create-links"].exec == (
        StageExec("echo in", "container", "on-enter"),
        StageExec("echo out", "container", "on-exit"),
        StageExec("echo out2", "container", "on-exit"))


def test_stages_map_form_errors_are_located() -> None:
    with pytest.raises(TopologyError) as info:
        loads("name: t\ntopology:\n  nodes:\n    a:\n      stages:\n        configure:\n"
              "          exec:\n            on-entry: [x]\n            on-exit: [{a: b}]\n",
              filename="lab.yml")
    assert [str(p) for p in info.value.problems] == [
        "lab.yml:8: topology.nodes.a.stages.configure.exec.on-entry: unknown key 'on-entry'; "
        "did you mean 'on-enter'?",
        "lab.yml:9: topology.nodes.a.stages.configure.exec.on-exit[0]: expected a command "
        "(got a mapping)"]


def test_link_and_endpoint_vars_are_kept() -> None:
    topo = loads(dedent("""\
        name: t
        topology:
          nodes: {a: {}, b: {}}
          links:
            - type: veth
              endpoints:
                - {node: a, interface: eth1, vars: {port: {speed: 10G, lanes: 4}}}
                - {node: b, interface: eth1}
              vars: {cost: 10, tags: [x, y]}
            - endpoints: [a:eth2, b:eth2]
              vars: {brief: true}
        """))
    veth, brief = topo.links
    assert dict(veth.vars) == {"cost": 10, "tags": ["x", "y"]}
    assert dict(veth.endpoints[0].vars) == {"port": {"speed": "10G", "lanes": 4}}
    assert dict(veth.endpoints[1].vars) == {}
    assert dict(brief.vars) == {"brief": True}


def test_vars_must_be_a_mapping() -> None:
    with pytest.raises(TopologyError) as info:
        loads("name: t\ntopology:\n  nodes: {a: {}, b: {}}\n  links:\n"
              "    - endpoints: [a:eth1, b:eth1]\n      vars: [1]\n", filename="lab.yml")
    assert [str(p) for p in info.value.problems] == [
        "lab.yml:6: topology.links[0].vars: expected a mapping of variables (got a list)"]


@pytest.mark.parametrize("kind", ["nokia_srlinux", "ceos"])
def test_network_os_kinds_name_what_netknit_runs(kind: str) -> None:
    with pytest.raises(TopologyError) as info:
        loads(f"name: t\ntopology:\n  nodes: {{a: {{kind: {kind}}}}}\n")
    (problem,) = info.value.problems
    assert problem.message == (f"kind '{kind}' is not supported by netknit yet (netknit runs "
                               "netns, bridge, host, linux)")


def test_unknown_kind_names_what_netknit_runs() -> None:
    with pytest.raises(TopologyError) as info:
        loads("name: t\ntopology:\n  nodes: {a: {kind: linx}}\n")
    (problem,) = info.value.problems
    assert problem.message == ("unknown kind 'linx' (netknit runs netns, bridge, host, "
                               "linux); did you mean 'linux'?")


@pytest.mark.parametrize(
    "name", sorted(str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*.clab.yml")))
def test_containerlab_doc_examples_load(name: str) -> None:
    path = EXAMPLES / name
    assert path.read_text().startswith("# from containerlab")
    topo = load(path)
    assert topo.nodes
    for notice in topo.notices:  # warnings allowed, each naming its field
        assert "(line " in notice, notice


# -- containerlab's git variables in the lab name (core/config.go magicTopoNameReplacer) --

_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _named(directory: Path, name: str = "lab-__gitBranch__-__gitHash__") -> Path:
    path = directory / "lab.clab.yml"
    path.write_text(f"name: {name}\ntopology:\n  nodes:\n    a: {{kind: netns}}\n")
    return path


def _repo(directory: Path, head: str, refs: dict[str, str] | None = None,
          packed: dict[str, str] | None = None) -> Path:
    """A repository's files as git leaves them (no git needed to read them)."""
    git = directory / ".git"
    git.mkdir(parents=True)
    (git / "HEAD").write_text(head + "\n")
    for ref, commit in (refs or {}).items():
        (git / ref).parent.mkdir(parents=True, exist_ok=True)
        (git / ref).write_text(commit + "\n")
    if packed:
        (git / "packed-refs").write_text("# pack-refs with: peeled fully-peeled sorted\n" +
                                         "".join(f"{c} {r}\n" for r, c in packed.items()))
    return git


@pytest.mark.parametrize("where", ["loose", "packed"])
def test_git_variables_name_the_branch_and_commit(tmp_path: Path, where: str) -> None:
    ref = "refs/heads/feature/test"
    _repo(tmp_path, f"ref: {ref}", **{"refs" if where == "loose" else "packed":
                                      {ref: _COMMIT}})
    from netknit.topology import lab_name

    path = _named(tmp_path)
    topo = load(path)
    assert topo.name == "lab-feature-test-0123456"  # '/' as '-', 7 hex digits
    assert topo.notices == ()
    assert lab_name(path) == topo.name  # destroy's short way agrees


def test_git_variables_detached_worktree_and_none(tmp_path: Path) -> None:
    detached = tmp_path / "detached"
    _repo(detached, _COMMIT)
    assert load(_named(detached)).name == "lab-HEAD-0123456"  # go-git's Head() name
    main = tmp_path / "main"
    git = _repo(main, "ref: refs/heads/main", packed={"refs/heads/wt": _COMMIT})
    (git / "worktrees" / "wt").mkdir(parents=True)
    (git / "worktrees" / "wt" / "HEAD").write_text("ref: refs/heads/wt\n")
    (git / "worktrees" / "wt" / "commondir").write_text("../..\n")
    worktree = tmp_path / "wt"
    worktree.mkdir()
    (worktree / ".git").write_text(f"gitdir: {git / 'worktrees' / 'wt'}\n")
    assert load(_named(worktree)).name == "lab-wt-0123456"
    bare = tmp_path / "none"
    bare.mkdir()
    topo = load(_named(bare))
    assert topo.name == "lab-none-none"
    assert any("holds no Git repository" in n and "name (line 1)" in n for n in topo.notices)


def test_a_branch_the_name_cannot_hold_is_an_error_that_says_so(tmp_path: Path) -> None:
    _repo(tmp_path, "ref: refs/heads/fix+1", refs={"refs/heads/fix+1": _COMMIT})
    with pytest.raises(TopologyError, match=r"'lab-__gitBranch__' became 'lab-fix\+1'"):
        load(_named(tmp_path, "lab-__gitBranch__"))


def test_deploys_management_flags_replace_the_files_keys(tmp_path: Path) -> None:
    """containerlab's `deploy --network/-4/-6` win over the file's `mgmt:`, and are checked
    as the file's keys are."""
    path = tmp_path / "lab.clab.yml"
    path.write_text("name: m\nmgmt: {network: mine, ipv4-subnet: 10.1.0.0/24}\n"
                    "topology:\n  nodes:\n    a: {kind: linux, image: alpine}\n")
    topo = load(path, mgmt={"network": "theirs", "ipv6-subnet": "fd00:9::/64"})
    assert topo.mgmt is not None
    assert topo.mgmt.network == "theirs"
    assert str(topo.mgmt.ipv4_subnet) == "10.1.0.0/24"  # kept: not given
    assert str(topo.mgmt.ipv6_subnet) == "fd00:9::/64"
    with pytest.raises(TopologyError, match=r"mgmt\.ipv4-subnet"):
        load(path, mgmt={"ipv4-subnet": "not-a-subnet"})
