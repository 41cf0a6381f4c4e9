"""``veth-stitch``: containerlab's stitched veth. Each node end is one veth segment to
the host namespace, and the two host-side ends are joined both ways with tc: the traffic
passes through the host unchanged, where it can be captured or shaped.

As in containerlab: written like a ``veth`` link (two endpoints), MTU 9500 by default,
the host-side end of a segment named ``clab-s-<8 hex digits>`` (a hash of the lab, node
and interface names: 15 characters, unique per lab) and given its node end's MAC.
"""

from __future__ import annotations

from typing import Any, ClassVar

from netknit.plan._actions import Planning, Stitch
from netknit.topology._context import Context
from netknit.topology._drafts import Draft, Lab, register
from netknit.topology._model import Link
from netknit.topology._yaml import YPath

from .._digest import sha1
from ._base import LinkType, Step
from .veth import parse_pair, veth_steps


def far_name(lab: str, node: str, interface: str) -> str:
    """containerlab's host-side name of a segment (its ``stitchFarEndName``)."""
    digest = sha1(f"{lab}\0{node}\0{interface}".encode(), usedforsecurity=False)
    return "clab-s-" + digest.hexdigest()[:8]


class VethStitch(LinkType):
    name: ClassVar[str] = "veth-stitch"

    def parse(self, ctx: Context, raw: dict[str, Any], path: YPath) -> Draft | None:
        return parse_pair(ctx, self.name, raw, path)

    def check(self, ctx: Context, draft: Draft, lab: Lab) -> None:
        """Both nodes on one machine; the host-side names are the lab's own."""
        machines = [lab.nodes[e.node].host if e.node in lab.nodes else None for e in draft.ends]
        if len(set(machines)) > 1:
            a, b = draft.ends
            ctx.add(draft.ends[1].node_path, f"a {self.name} link joins nodes of one machine: "
                    f"{a.node} runs on host {machines[0]}, {b.node} on host {machines[1]}; "
                    "use a veth link between hosts")
            return
        for end in draft.ends:
            register(ctx, lab.used, "host", far_name(lab.name, end.node, end.interface),
                     end.path, True, lab.machine)

    def plan(self, link: Link, site: Planning) -> list[Step]:
        out: list[Step] = []
        far = []
        for end in link.endpoints:
            name = far_name(site.topo.name, end.node, end.interface)
            node_if = site.iface(end, link, f"host:{name}")
            host_if = site.host_iface(name, link.mtu, str(end), mac=node_if.mac)
            out += veth_steps(host_if, node_if, link, site)
            far.append(name)
        stitch = Stitch(far[0], far[1], link.where, link_type=self.name)
        return [*out, (stitch, [action.id for action, _ in out])]


TYPE = VethStitch()
