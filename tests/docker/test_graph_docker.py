"""`netknit graph` of a lab with a Docker node: the page's data shows what `inspect`
shows (state, image, management address), and follows the workload when it stops."""

from __future__ import annotations

import json

from tests.integration.conftest import run_cli
from tests.integration.graph_served import Served, wait_for

from .conftest import IMAGE, DockerLab

LAB = """
name: LAB
mgmt: {network: nkm-TAG, ipv4-subnet: 172.31.TAGNET.0/24}
topology:
  nodes:
    d1: {kind: linux, image: IMAGE, cmd: sleep 3600, group: servers,
         mgmt-ipv4: 172.31.TAGNET.11}
    n1: {kind: netns}
  links:
    - endpoints: ["d1:eth1", "n1:eth1"]
      ipv4: ["10.78.1.1/24", "10.78.1.2/24"]
"""


def test_graph_data_of_a_docker_node_is_inspects(dlab: DockerLab) -> None:
    net = str(int(dlab.tag, 16) % 200 + 20)
    dlab.networks.append(f"nkm-{dlab.tag}")
    topo = str(dlab.write(LAB.replace("IMAGE", IMAGE).replace("TAGNET", net)))
    deployed = run_cli("deploy", "-t", topo, "--quiet")
    assert deployed.returncode == 0, deployed.stderr
    row = next(r for r in json.loads(run_cli("inspect", "-t", topo, "-f", "json").stdout)[
        dlab.name] if r["name"] == f"clab-{dlab.name}-d1")
    served = Served(topo)
    try:
        data = served.data()
        d1 = next(n for n in data["nodes"] if n["name"] == "d1")
        assert (d1["state"], d1["image"], d1["group"], d1["ipv4_address"]) == \
            ("running", IMAGE, "servers", row["ipv4_address"])
        assert d1["ipv4_address"] == f"172.31.{net}.11/24"
        eth1 = next(i for i in d1["interfaces"] if i["name"] == "eth1")
        assert eth1["addresses"] == ["10.78.1.1/24"] and eth1["state"] == "up"
        assert [ln["state"] for ln in data["links"]] == ["up"]
        # the workload stops: so does the node on the page; its sandbox keeps the
        # namespace and the link, up, as `inspect interfaces` shows it too
        dlab.api.stop(f"clab-{dlab.name}-d1", timeout=1)
        stopped = wait_for(lambda: (d := served.data()) and next(
            n for n in d["nodes"] if n["name"] == "d1")["state"] != "running" and d,
            30, "d1 shown stopped")
        d1 = next(n for n in stopped["nodes"] if n["name"] == "d1")
        assert d1["state"] == "exited" and "workload exited" in " ".join(d1["drift"])
        shown = json.loads(run_cli("inspect", "interfaces", "-t", topo, "-f", "json").stdout)
        kernel = next(i for n in shown if n["node"] == "d1" for i in n["interfaces"]
                      if i["name"] == "eth1")
        assert [ln["state"] for ln in stopped["links"]] == [kernel["state"]] == ["up"]
    finally:
        assert served.stop() == 0, "".join(served.stderr)
    assert run_cli("destroy", "-t", topo).returncode == 0
