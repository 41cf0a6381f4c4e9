"""containerlab stages on netns nodes: wait-for ordering, hooks in node and host, cycles."""

from __future__ import annotations

from .conftest import Lab, netns_names, run_cli

# every node writes "<nanoseconds> <node>" to order.txt (in the topology's directory) on
# entering `create`, from a host hook: the file shows the order the stages ran in
STAGED = """
name: LAB
topology:
  defaults:
    kind: netns
  nodes:
    a:
      cmd: sleep 3600; ':' TAG
      stages:
        create:
          exec: [{command: "sh -c 'echo $(date +%s%N) a >> order.txt'", target: host}]
        create-links:
          exec:
            - command: ip -o link show
              phase: on-enter
            - command: ip -o addr show eth1
              phase: on-exit
    b:
      stages:
        create:
          exec: [{command: "sh -c 'echo $(date +%s%N) b >> order.txt'", target: host}]
          wait-for: [{node: a, stage: healthy}]
    c:
      stages:
        create:
          exec: [{command: "sh -c 'echo $(date +%s%N) c >> order.txt'", target: host}]
          wait-for: [{node: b, stage: configure}]
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.4.0.1/24", "10.4.0.2/24"]
"""


def _order(lab: Lab) -> list[str]:
    words = (lab.dir / "order.txt").read_text().split()
    stamps = [int(x) for x in words[0::2]]
    assert stamps == sorted(stamps)
    return words[1::2]


def test_wait_for_orders_nodes_and_hooks_run_in_node_and_host(lab: Lab) -> None:
    topo = lab.write(STAGED)
    deployed = run_cli("deploy", "-t", str(topo))
    assert deployed.returncode == 0, deployed.stderr
    # b waited for a (linked, so b's end was parked) and c for b
    assert _order(lab) == ["a", "b", "c"]
    # the hooks of a ran inside a: before its links (only lo), after them (eth1 addressed)
    err = deployed.stderr
    before = err[err.index("$ ip -o link show"):err.index("$ ip -o addr show eth1")]
    assert "lo:" in before and "eth1" not in before
    assert "10.4.0.1/24" in err[err.index("$ ip -o addr show eth1"):]
    ping = run_cli("exec", "-t", str(topo), "--node", "b", "--", "ping", "-c1", "-W2", "10.4.0.1")
    assert ping.returncode == 0, ping.stdout
    assert run_cli("destroy", "-t", str(topo)).returncode == 0


def test_order_follows_wait_for_not_file_order(lab: Lab) -> None:
    # reversed dependencies: a waits for c, c for b
    text = STAGED.replace("wait-for: [{node: a, stage: healthy}]", "wait-for: []")
    text = text.replace("wait-for: [{node: b, stage: configure}]",
                        "wait-for: [{node: b, stage: create-links}]")
    text = text.replace("      stages:\n        create:\n          exec: [{command: \"sh -c 'echo"
                        " $(date +%s%N) a",
                        "      stages:\n        create:\n          wait-for: [{node: c}]\n"
                        "          exec: [{command: \"sh -c 'echo $(date +%s%N) a", 1)
    topo = lab.write(text)
    deployed = run_cli("deploy", "-t", str(topo))
    assert deployed.returncode == 0, deployed.stderr
    assert _order(lab) == ["b", "c", "a"]
    assert run_cli("destroy", "-t", str(topo)).returncode == 0


def test_cycle_is_rejected_before_anything_starts(lab: Lab) -> None:
    # a (create) waits for c (create), which waits for b (configure), which waits for a
    cyclic = STAGED.replace("          exec: [{command: \"sh -c 'echo $(date +%s%N) a",
                            "          wait-for: [{node: c}]\n"
                            "          exec: [{command: \"sh -c 'echo $(date +%s%N) a", 1)
    topo = lab.write(cyclic)
    refused = run_cli("deploy", "-t", str(topo))
    assert refused.returncode == 2, refused.stderr
    assert "wait-for cycle" in refused.stderr
    assert not (lab.dir / "order.txt").exists()
    assert not any(n.startswith(lab.prefix) for n in netns_names())


def test_failing_hook_stops_the_deploy_and_says_where(lab: Lab) -> None:
    text = STAGED.replace(
        "            - command: ip -o addr show eth1\n",
        "            - command: sh -c 'echo boom; exit 7'\n")
    topo = lab.write(text)
    failed = run_cli("deploy", "-t", str(topo))
    assert failed.returncode == 1
    assert "node 'a' in stage create-links on-exit failed (exit 7)" in failed.stderr
    assert "boom" in failed.stderr
    assert lab.leftovers() == []  # the failed deploy removed what it made
