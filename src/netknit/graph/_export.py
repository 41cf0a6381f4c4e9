"""The graph as text: mermaid and dot (containerlab's ``graph --mermaid`` / ``--dot``)
and a draw.io diagram. Pure: graph data in, text out."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from ._page import offline_html

#: containerlab's mermaid directions (``--mermaid-direction``)
MERMAID_DIRECTIONS = ("TB", "TD", "BT", "RL", "LR")

#: what each export is, and its file's suffix after the topology file's name
#: (containerlab's: ``lab.clab.yml`` -> ``lab.clab.mermaid``)
SUFFIXES = {"offline": ".html", "mermaid": ".mermaid", "dot": ".dot", "drawio": ".drawio"}

#: a fill per group, in order of first appearance (dot and draw.io)
_PALETTE = ("#dae8fc", "#d5e8d4", "#ffe6cc", "#e1d5e7", "#fff2cc", "#f8cecc", "#f5f5f5")

#: draw.io: node size and the spacing of the default layout (a row per group)
_W, _H, _DX, _DY = 80, 40, 160, 140


def export(kind: str, data: Mapping[str, Any], *, graph_name: str,
           direction: str = "TD") -> str:
    """The text of one of :data:`SUFFIXES`' exports (``offline``: the page as one file)."""
    if kind == "offline":
        return offline_html(dict(data))
    if kind == "mermaid":
        return mermaid(data, direction)
    return dot(data, graph_name) if kind == "dot" else drawio(data)


def mermaid(data: Mapping[str, Any], direction: str = "TD") -> str:
    """containerlab's flowchart: the lab as title, an edge per link."""
    lines = ["---", f"title: {data['name']}", "---", f"graph {direction}"]
    lines += [f"  {ln['source']}---{ln['target']}" for ln in data["links"]]
    return "\n".join(lines) + "\n"


def _fills(data: Mapping[str, Any]) -> dict[str, str]:
    groups = dict.fromkeys(n["graph_group"] for n in data["nodes"])
    return {g: _PALETTE[i % len(_PALETTE)] for i, g in enumerate(groups)}


def dot(data: Mapping[str, Any], graph_name: str) -> str:
    """An undirected graph as containerlab names it (the topology file's name without its
    extension): nodes labelled with their name and kind, links with their interfaces."""
    q = json.dumps  # a JSON string is a valid dot ID: quotes and backslashes escaped
    fills = _fills(data)
    lines = [f"graph {q(graph_name)} {{"]
    for n in data["nodes"]:
        attrs = {"label": n["name"], "xlabel": n["kind"], "style": "filled",
                 "fillcolor": fills[n["graph_group"]], "group": n["graph_group"]}
        lines.append(f"\t{q(n['name'])} [{_attrs(attrs)}];")
    for ln in data["links"]:
        attrs = {"taillabel": ln["source_endpoint"], "headlabel": ln["target_endpoint"]}
        lines.append(f"\t{q(ln['source'])} -- {q(ln['target'])} [{_attrs(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _attrs(attrs: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in attrs.items())


def positions(data: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """Where each node goes: ``graph-posX``/``graph-posY`` when given, else a row per
    group (in order of first appearance), nodes side by side in it."""
    groups = list(dict.fromkeys(n["graph_group"] for n in data["nodes"]))
    cols: dict[str, int] = {}
    out = {}
    for n in data["nodes"]:
        group = n["graph_group"]
        col = cols[group] = cols.get(group, -1) + 1
        x, y = n.get("x"), n.get("y")
        out[n["name"]] = (x if x is not None else col * _DX + 40,
                          y if y is not None else groups.index(group) * _DY + 40)
    return out


def drawio(data: Mapping[str, Any]) -> str:
    """A draw.io (diagrams.net) file: a box per node (filled by group), an edge per link
    with its interface names at its ends."""
    mxfile = ET.Element("mxfile", host="netknit", type="device")
    diagram = ET.SubElement(mxfile, "diagram", id="netknit", name=str(data["name"]))
    model = ET.SubElement(diagram, "mxGraphModel", grid="1", gridSize="10", page="1",
                          pageWidth="1169", pageHeight="827")
    root = ET.SubElement(model, "root")
    ET.SubElement(root, "mxCell", id="0")
    _cell(root, id="1", parent="0")
    fills = _fills(data)
    for n, (x, y) in zip(data["nodes"], positions(data).values(), strict=True):
        cell = _cell(root, id=f"node-{n['name']}", value=n["name"],
                     style=f"rounded=1;whiteSpace=wrap;html=1;"
                     f"fillColor={fills[n['graph_group']]};", vertex="1", parent="1")
        ET.SubElement(cell, "mxGeometry", x=_num(x), y=_num(y), width=str(_W),
                      height=str(_H)).set("as", "geometry")
    for k, ln in enumerate(data["links"]):
        eid = f"link-{k}"
        edge = _cell(root, id=eid, value="", style="endArrow=none;html=1;", edge="1",
                     parent="1", source=f"node-{ln['source']}", target=f"node-{ln['target']}")
        ET.SubElement(edge, "mxGeometry", relative="1").set("as", "geometry")
        for end, at in (("source_endpoint", "-0.6"), ("target_endpoint", "0.6")):
            label = _cell(root, id=f"{eid}-{end.split('_')[0]}", value=ln[end],
                          style="edgeLabel;html=1;fontSize=10;", vertex="1", connectable="0",
                          parent=eid)
            geo = ET.SubElement(label, "mxGeometry", x=at, relative="1")
            geo.set("as", "geometry")
            ET.SubElement(geo, "mxPoint").set("as", "offset")
    ET.indent(mxfile)
    return ET.tostring(mxfile, encoding="unicode") + "\n"


def _cell(root: ET.Element, **attrs: str) -> ET.Element:
    """An mxCell (its attribute ``parent`` is a cell id, not the XML parent)."""
    return ET.SubElement(root, "mxCell", attrib=attrs)


def _num(value: float) -> str:
    return f"{value:g}"
