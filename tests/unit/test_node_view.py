"""netns nodes' own view in the topology: ``binds`` (containerlab's syntax) and
``private-dirs`` (netknit's: Mininet's privateDirs), merged and checked before deploy."""

from __future__ import annotations

from pathlib import Path

import pytest

from netknit._errors import TopologyError
from netknit.plan import build as build_plan
from netknit.plan._diff import node_spec
from netknit.topology import DEFAULT_PRIVATE_DIRS, load, loads


def _file(tmp_path: Path, nodes: str, extra: str = "") -> Path:
    path = tmp_path / "lab.clab.yml"
    path.write_text(f"name: v\ntopology:\n{extra}  nodes:\n{nodes}")
    return path


def test_binds_on_a_netns_node_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "r1").mkdir()
    topo = load(_file(tmp_path, "    r1: {binds: ['r1:/etc/frr', './r1:/etc/x:ro']}\n"))
    assert topo.nodes["r1"].binds == (f"{tmp_path}/r1:/etc/frr", f"{tmp_path}/r1:/etc/x:ro")
    assert topo.notices == ()
    node = build_plan(topo).nodes["r1"]
    assert node.binds == topo.nodes["r1"].binds
    assert node.private_dirs == DEFAULT_PRIVATE_DIRS


def test_a_missing_bind_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="cannot use host path"):
        load(_file(tmp_path, "    r1: {binds: ['nothere:/etc/frr']}\n"))


def test_private_dirs_most_specific_layer_wins_and_empty_means_none() -> None:
    topo = loads("""
name: v
topology:
  defaults: {private-dirs: [/run, /var/lib/frr/]}
  kinds: {netns: {private-dirs: [/run, /tmp]}}
  nodes:
    a: {}
    b: {private-dirs: []}
    c: {kind: bridge}
""")
    assert topo.nodes["a"].private_dirs == ("/run", "/tmp")
    assert topo.nodes["b"].private_dirs == ()
    assert loads("name: v\ntopology:\n  defaults: {private-dirs: [/run, /var/lib/frr/]}\n"
                 "  nodes: {a: {}}\n").nodes["a"].private_dirs == ("/run", "/var/lib/frr")
    assert loads("name: v\ntopology:\n  nodes: {a: {}}\n").nodes["a"].private_dirs == \
        DEFAULT_PRIVATE_DIRS


@pytest.mark.parametrize("bad", ["run", "/", "''"])
def test_private_dirs_must_be_absolute_and_not_root(bad: str) -> None:
    with pytest.raises(TopologyError, match=r"topology\.nodes\.a\.private-dirs\[0\]"):
        loads(f"name: v\ntopology:\n  nodes:\n    a: {{private-dirs: [{bad}]}}\n")


def test_private_dirs_on_a_container_node_is_a_warning() -> None:
    topo = loads("name: v\ntopology:\n  nodes:\n    a: {kind: linux, image: x, "
                 "private-dirs: [/run]}\n")
    assert [n for n in topo.notices if "private-dirs" in n] == [
        "node a: topology.nodes.a.private-dirs (line 4): private-dirs applies to nodes "
        "(kind: netns) only; ignored"]


def test_a_linux_node_run_as_a_bare_namespace_takes_none_of_its_binds(tmp_path: Path) -> None:
    path = _file(tmp_path, "    a: {kind: linux, image: x, binds: ['.:/x']}\n")
    node = load(path, runtime="netns").nodes["a"]
    assert node.kind == "netns" and node.binds == ()


def test_binds_and_private_dirs_are_part_of_the_node_spec(tmp_path: Path) -> None:
    plain = build_plan(loads("name: v\ntopology:\n  nodes: {a: {}}\n")).nodes["a"]
    assert "binds" not in node_spec(plain) and "private-dirs" not in node_spec(plain)
    bound = build_plan(load(_file(tmp_path, "    a: {binds: ['.:/x'], private-dirs: []}\n")))
    assert {"binds", "private-dirs"} <= set(node_spec(bound.nodes["a"]))


def test_containerlabs_magic_variables_in_binds_exec_and_stages(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """``__clabDir__``, ``__clabLabName__``, ``__clabNodeDir__`` and ``__clabNodeName__``
    expand as containerlab's magicVarReplacer: in bind host paths (set in ``defaults``,
    each node gets its own), node ``exec`` and stage commands."""
    monkeypatch.delenv("CLAB_LABDIR_BASE", raising=False)
    lab_dir = tmp_path / "clab-v"
    for node in ("a", "b", "c"):
        (lab_dir / node / "conf").mkdir(parents=True)
    topo = load(_file(tmp_path, """\
    a:
      exec: ["echo __clabNodeName__ of __clabLabName__ in __clabDir__"]
      stages:
        create:
          exec:
            - command: ls __clabNodeDir__
              target: host
    b: {}
    c: {kind: linux, image: alpine, exec: ["cat /etc/conf/__clabNodeName__"],
        volumes: ["__clabNodeName__-data:/data"]}
""", extra="  defaults: {binds: ['__clabNodeDir__/conf:/etc/conf:ro']}\n"))
    a, b, c = topo.nodes["a"], topo.nodes["b"], topo.nodes["c"]
    assert a.binds == (f"{lab_dir}/a/conf:/etc/conf:ro",)
    assert b.binds == (f"{lab_dir}/b/conf:/etc/conf:ro",)
    assert c.binds == (f"{lab_dir}/c/conf:/etc/conf:ro",)  # a Docker node's alike
    assert c.exec == ("cat /etc/conf/c",)
    assert c.options.volumes == ("c-data:/data",)
    assert a.exec == (f"echo a of clab-v in {lab_dir}",)
    assert a.stages["create"].exec[0].command == f"ls {lab_dir}/a"


def test_magic_variables_follow_the_lab_directory(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``CLAB_LABDIR_BASE`` moves the lab directory, and so what ``__clabDir__`` names; a
    name given instead of the file's (``--name``) too."""
    from netknit.topology import load as load_named

    base = tmp_path / "labs"
    monkeypatch.setenv("CLAB_LABDIR_BASE", str(base))
    path = _file(tmp_path, "    a: {exec: ['echo __clabDir__ __clabLabName__']}\n")
    assert load(path).nodes["a"].exec == (f"echo {base}/clab-v clab-v",)
    named = load_named(path, name="other")
    assert named.nodes["a"].exec == (f"echo {base}/clab-other clab-other",)


def test_a_bind_of_a_file_the_lab_writes_later_is_left_out_with_a_note(tmp_path: Path
                                                                       ) -> None:
    """containerlab lets a bind name its generated files before they exist; netknit writes
    them after the nodes start, so such a bind is left out, with a note naming it. Any
    other missing path in the lab directory is still an error, as in containerlab."""
    topo = load(_file(tmp_path, """\
    a:
      binds:
        - __clabDir__/ansible-inventory.yml:/inv.yml:ro
        - __clabDir__/topology-data.json:/data.json
        - __clabDir__/.tls/ca:/etc/ca:ro
""", extra="  defaults: {kind: netns}\n"))
    assert topo.nodes["a"].binds == ()
    notes = [n for n in topo.notices if "left out" in n]
    assert len(notes) == 3
    assert "topology.nodes.a.binds[0]" in notes[0] and "ansible-inventory.yml" in notes[0]
    assert "no TLS certificate authority" in notes[2]
    with pytest.raises(TopologyError, match=r"nornir-simple-inventory\.yml"):
        load(_file(tmp_path, "    a: {binds: ['__clabDir__/nornir-simple-inventory.yml:/n']}\n"))


def test_magic_variables_are_replaced_in_a_binds_source_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As containerlab's resolveBindPaths: the host path, not the container path."""
    monkeypatch.delenv("CLAB_LABDIR_BASE", raising=False)
    (tmp_path / "clab-v" / "a").mkdir(parents=True)
    topo = load(_file(tmp_path, "    a: {binds: ['__clabNodeDir__:/etc/__clabNodeName__']}\n"))
    assert topo.nodes["a"].binds == (f"{tmp_path}/clab-v/a:/etc/__clabNodeName__",)
