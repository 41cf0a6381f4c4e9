"""The desired state of a lab, as written to ``.netknit/state.json``."""

from __future__ import annotations

from typing import Any

from ..plan import Plan


def desired_state(plan: Plan) -> dict[str, Any]:
    """Every node and every interface netknit creates, as it must be."""
    nodes: dict[str, Any] = {}
    for node in plan.nodes.values():
        nodes[node.name] = {"kind": node.kind, "netns": node.netns, "interfaces": []}
        if node.container is not None:  # exact names: inspect and exec find them by these
            nodes[node.name].update(runtime="docker", container=node.container.name,
                                    sandbox=node.container.sandbox_name)
    nodes.setdefault("host", {"kind": "host", "netns": None, "interfaces": []})
    for i in plan.interfaces:
        nodes[i.node]["interfaces"].append(
            {
                "name": i.name,
                "mac": i.mac,
                "mtu": i.mtu,
                "addresses": [str(a) for a in i.addresses],
                "peer": i.peer,
                "master": i.master,
            }
        )
    if not nodes["host"]["interfaces"]:
        del nodes["host"]
    return {"version": 1, "lab": plan.lab, "host": plan.host, "nodes": nodes}
