"""containerlab's ``--node-filter``: a lab cut down to some of its nodes and the links
between them. Pure."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from netknit._errors import UsageError
from netknit.topology._model import Topology


def only(topo: Topology, names: Iterable[str]) -> Topology:
    """``topo`` with only the nodes ``names`` and the links whose every end is on one of
    them (as containerlab's node filter keeps them). UsageError for an unknown node, or
    for a kept node that waits for (``wait-for``) or shares the namespace of one left out."""
    keep = list(dict.fromkeys(names))
    unknown = [n for n in keep if n not in topo.nodes]
    if unknown:
        raise UsageError(f"--node-filter: no node {', '.join(map(repr, unknown))} in lab "
                         f"{topo.name!r}", hint=f"nodes: {', '.join(topo.nodes)}")
    kept = set(keep)
    for name in keep:
        node = topo.nodes[name]
        needs = {w.node for spec in node.stages.values() for w in spec.wait_for}
        if node.network_mode.startswith("container:"):
            needs.add(node.network_mode.partition(":")[2])
        missing = sorted(needs - kept)
        if missing:
            raise UsageError(f"--node-filter: node {name!r} needs {', '.join(missing)} "
                             "(wait-for or network-mode), which the filter leaves out",
                             hint="add them to the filter")
    return dataclasses.replace(
        topo, nodes={n: node for n, node in topo.nodes.items() if n in kept},
        links=tuple(link for link in topo.links
                    if all(e.node in kept for e in link.endpoints)))


__all__ = ["only"]
