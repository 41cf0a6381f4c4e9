"""deploy's containerlab flags: -c/--reconfigure, --node-filter, --skip-post-deploy,
--dry-run."""

from __future__ import annotations

import json
import os
import subprocess

from .conftest import Lab, netns_names, run_cli

LAB = """
name: LAB
topology:
  nodes:
    a: {kind: netns, exec: ["touch DIR/ran-a"]}
    b: {kind: netns}
    c: {kind: netns}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
    - endpoints: ["b:eth2", "c:eth1"]
"""


def _write(lab: Lab) -> str:
    return str(lab.write(LAB.replace("DIR", str(lab.dir))))


def _inode(lab: Lab, node: str) -> int:
    return os.stat(f"/run/netns/clab-{lab.name}-{node}").st_ino


def test_reconfigure_short_flag_destroys_and_removes_the_lab_directory(lab: Lab) -> None:
    topo = _write(lab)
    assert run_cli("deploy", "-t", topo, "-q").returncode == 0
    lab_dir = lab.dir / f"clab-{lab.name}"
    (lab_dir / "left-by-user").write_text("x")
    # a mark in the namespace (inode numbers are reused: they cannot tell)
    subprocess.run(["ip", "-n", f"clab-{lab.name}-a", "addr", "add", "192.0.2.9/32", "dev",
                    "lo"], check=True)
    done = run_cli("deploy", "-t", topo, "-c", "-q")
    assert done.returncode == 0, done.stderr
    assert not (lab_dir / "left-by-user").exists()  # the directory went with the lab
    shown = subprocess.run(["ip", "-n", f"clab-{lab.name}-a", "addr", "show", "lo"],
                           check=True, capture_output=True, text=True).stdout
    assert "192.0.2.9" not in shown  # a new namespace


def test_node_filter_deploys_those_nodes_and_their_links_only(lab: Lab) -> None:
    topo = _write(lab)
    done = run_cli("deploy", "-t", topo, "-q", "--node-filter", "a", "--node-filter", "b")
    assert done.returncode == 0, done.stderr
    assert {n for n in netns_names() if lab.name in n} == {f"clab-{lab.name}-a",
                                                            f"clab-{lab.name}-b"}
    ping = run_cli("exec", "-t", topo, "--node", "b", "--", "ip", "-o", "link", "show")
    assert "eth1" in ping.stdout and "eth2" not in ping.stdout
    # a deployed lab: a filter would remove the nodes it leaves out, as containerlab says
    again = run_cli("deploy", "-t", topo, "-q", "--node-filter", "a,b")
    assert again.returncode == 2 and "--node-filter is not supported" in again.stderr
    unknown = run_cli("deploy", "-t", topo, "-c", "-q", "--node-filter", "a,x")
    assert unknown.returncode == 2 and "no node 'x'" in unknown.stderr
    # without the filter, the rest is added; a and b stay as they are
    a_before = _inode(lab, "a")
    assert run_cli("deploy", "-t", topo, "-q").returncode == 0
    assert _inode(lab, "a") == a_before and os.path.exists(f"/run/netns/clab-{lab.name}-c")


def test_skip_post_deploy_leaves_out_exec(lab: Lab) -> None:
    topo = _write(lab)
    assert run_cli("deploy", "-t", topo, "-q", "--skip-post-deploy").returncode == 0
    assert not (lab.dir / "ran-a").exists()
    assert run_cli("deploy", "-t", topo, "-q", "-c").returncode == 0
    assert (lab.dir / "ran-a").exists()


def test_dry_run_of_a_lab_not_deployed_changes_nothing(lab: Lab) -> None:
    topo = _write(lab)
    done = run_cli("deploy", "-t", topo, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert f"clab-{lab.name}-a" in done.stdout  # the plan's objects
    as_json = json.loads(run_cli("deploy", "-t", topo, "--dry-run", "-f", "json").stdout)
    assert as_json == {"dry-run": True, "deployed-lab": True, "lab-name": lab.name}
    assert lab.leftovers() == [] and not (lab.dir / f"clab-{lab.name}").exists()
    both = run_cli("deploy", "-t", topo, "--dry-run", "-c")
    assert both.returncode == 2 and "cannot be combined" in both.stderr
    # deployed and unchanged: an empty plan
    assert run_cli("deploy", "-t", topo, "-q").returncode == 0
    unchanged = run_cli("deploy", "-t", topo, "--dry-run")
    assert "no changes" in unchanged.stdout
