"""`netknit events` on a Docker lab: interface events inside containers (netlink in their
namespaces, found through the runtime), Docker's container events, and a restarted
container's drift and repair while `watch` runs."""

from __future__ import annotations

from tests.integration.conftest import run_cli
from tests.integration.test_events import ev, streaming, watching

from .conftest import IMAGE, DockerLab

LAB = f"""
name: LAB
topology:
  defaults:
    kind: linux
    image: {IMAGE}
    cmd: sleep 3600
  nodes:
    s: {{}}
    g: {{start-strategy: gate}}
    n: {{kind: netns}}
  links:
    - endpoints: ["s:eth1", "n:eth1"]
      ipv4: ["10.8.0.1/24", "10.8.0.2/24"]
    - endpoints: ["g:eth1", "n:eth2"]
      ipv4: ["10.8.1.1/24", "10.8.1.2/24"]
"""


def test_container_faults_and_restarts_come_out_in_order_while_watch_runs(
        dlab: DockerLab) -> None:
    topo = str(dlab.write(LAB))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    with watching(topo), streaming("-t", topo, "--initial-state") as events:
        snap = events.expect(ev("node", "running", "g", origin="snapshot"),
                             ev("interface", "snapshot", "g", "eth1", origin="snapshot"))
        assert snap[0]["actor_name"] == f"clab-{dlab.name}-g"

        # inside a container: heard through a listener in its namespace
        events.step()
        done = run_cli("exec", "-t", topo, "--node", "s", "--", "ip", "link", "set", "eth1",
                       "down")
        assert done.returncode == 0, done.stderr
        events.expect(ev("interface", "update", "s", "eth1", change="down"),
                      ev("drift", "found", "s", "eth1", found="down"),
                      ev("drift", "repaired", "s", "eth1"))
        events.expect(ev("interface", "update", "s", "eth1", change="up"))

        # a container restarted: Docker's events, its namespace replaced, its link back
        events.step()
        dlab.api.restart(f"clab-{dlab.name}-g", timeout=1)
        died = events.expect(ev("container", "die", "g"), ev("container", "start", "g"))
        assert died[0]["actor_name"] == f"clab-{dlab.name}-g"
        assert len(died[0]["actor_id"]) == 12 and died[0]["actor_full_id"].startswith(
            died[0]["actor_id"])
        events.expect(ev("drift", "found", "g"), ev("drift", "repaired", "g"))
        events.expect(ev("interface", "create", "g", "eth1"))
        # its namespace: gone with the container, or replaced if seen only once restarted
        node = [e["action"] for e in events.events[events.seen:]
                if e["type"] == "node" and e["attributes"]["node"] == "g"]
        assert node in (["stop", "start"], ["restart"]), node
        events.stop()
    assert run_cli("destroy", "-t", topo).returncode == 0
