"""The lab as a graph: containerlab's ``graph`` data (``{"nodes": [...], "links": [...]}``,
its keys) with netknit's view of each node and link added. Pure: built from the
topology and, for a deployed lab, from what ``inspect`` saw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._errors import UsageError

if TYPE_CHECKING:
    from ..engine import ContainerDetails, IfaceView, LabView, NodeView
    from ..topology import Node, Topology

#: containerlab's word for what is not known (no live view)
NOT_APPLICABLE = "N/A"

#: link states, worst first: a link is as bad as its worse end
LINK_STATES = ("down", "stopped", "drifted", "up", NOT_APPLICABLE)

#: containerlab's node labels that place a node on the page (clab-io-draw reads them too)
POS_X, POS_Y = "graph-posX", "graph-posY"


def graph_data(topo: Topology, view: LabView | None = None, *,
               rows: Iterable[ContainerDetails] = (), repairing: bool = False,
               ) -> dict[str, Any]:
    """containerlab's graph data of ``topo`` (nodes sorted by name, point-to-point links
    in file order). ``view``: the deployed lab as ``inspect`` sees it (None: from the file
    only, as ``--offline``); ``rows``: its ``inspect`` rows (images, management
    addresses); ``repairing``: a repair is running, so what differs is being repaired."""
    seen = {n.name: n for n in view.nodes} if view is not None and view.deployed else None
    by_node = {row.node: row for row in rows}
    nodes = [_node(topo, node, seen, by_node.get(name))
             for name, node in sorted(topo.nodes.items())]
    links = []
    for link in topo.links:
        if len(link.endpoints) != 2:  # as containerlab: only point-to-point links are drawn
            continue
        a, b = link.endpoints
        ends = [_iface(seen, e.node, e.interface) for e in (a, b)]
        state = _link_state(ends) if seen is not None else NOT_APPLICABLE
        if repairing and state in ("down", "drifted"):
            state = "repairing"
        links.append({"source": a.node, "source_endpoint": a.interface,
                      "target": b.node, "target_endpoint": b.interface,
                      "type": link.type, "state": state,
                      "drift": [f"{e.node}:{e.interface} {d}"
                                for e, iface in zip((a, b), ends, strict=True)
                                if iface is not None for d in iface.drift]})
    return {"name": topo.name, "live": view is not None,
            "deployed": seen is not None, "nodes": nodes, "links": links}


def _node(topo: Topology, node: Node, seen: Mapping[str, NodeView] | None,
          row: ContainerDetails | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": node.name, "kind": node.kind, "image": node.image or "",
        "group": node.group or "", "state": NOT_APPLICABLE, "status": "",
        "ipv4_address": row.ipv4_address if row else NOT_APPLICABLE,
        "ipv6_address": row.ipv6_address if row else NOT_APPLICABLE,
        # netknit's: the box it is drawn in, where it was placed, what inspect saw
        "graph_group": node.group or node.kind,
        "x": _number(node.labels.get(POS_X)), "y": _number(node.labels.get(POS_Y)),
        "container": topo.full_name(node.name), "drift": [],
        "interfaces": _written(topo, node.name),
    }
    if row is not None:
        out.update(state=row.state, status=row.status, container=row.name)
    if seen is not None:
        found = seen.get(node.name)
        if found is None:
            out["state"] = "missing"
        else:
            if row is None:
                out["state"] = found.state
            out["drift"] = list(found.drift)
            out["interfaces"] = [_iface_json(i) for i in found.interfaces]
    return out


def _written(topo: Topology, node: str) -> list[dict[str, Any]]:
    """A node's interfaces as the file writes them (no live view)."""
    out = []
    for link in topo.links:
        for end in link.endpoints:
            if end.node == node:
                out.append({"name": end.interface, "mac": end.mac or "", "mtu": link.mtu,
                            "addresses": [str(a) for a in (*end.ipv4, *end.ipv6)],
                            "state": NOT_APPLICABLE, "drift": [], "peer": ""})
    return sorted(out, key=lambda i: str(i["name"]))


def _iface_json(iface: IfaceView) -> dict[str, Any]:
    return {"name": iface.name, "mac": iface.mac, "mtu": iface.mtu,
            "addresses": list(iface.addresses), "state": iface.operstate,
            "drift": list(iface.drift), "peer": iface.peer}


def _iface(seen: Mapping[str, NodeView] | None, node: str, name: str) -> IfaceView | None:
    if seen is None or node not in seen:
        return None
    return next((i for i in seen[node].interfaces if i.name == name), None)


def _end_state(iface: IfaceView | None) -> str:
    if iface is None:
        return NOT_APPLICABLE
    if iface.state == "parked":  # its node was stopped on purpose
        return "stopped"
    if iface.state in ("missing", "down") or any(
            d in ("missing", "down") or d.startswith("no carrier") for d in iface.drift):
        return "down"
    return "drifted" if iface.drift else "up"


def _link_state(ends: Iterable[IfaceView | None]) -> str:
    return min((_end_state(e) for e in ends), key=LINK_STATES.index)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def only_nodes(data: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """containerlab's ``--node-filter``: only these nodes, and the links between them."""
    keep = set(names)
    known = {n["name"] for n in data["nodes"]}
    unknown = sorted(keep - known)
    if unknown:
        raise UsageError(f"--node-filter: no node {', '.join(map(repr, unknown))} in lab "
                         f"{data['name']!r}", hint=f"nodes: {', '.join(sorted(known))}")
    return {**data, "nodes": [n for n in data["nodes"] if n["name"] in keep],
            "links": [ln for ln in data["links"]
                      if ln["source"] in keep and ln["target"] in keep]}
