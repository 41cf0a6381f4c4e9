"""``veth``: a veth pair between two nodes (containerlab's default type, and the brief
form's). An end on a ``bridge`` node is a port of it; an end on a ``host`` node is in the
host namespace. In a lab that spans ``hosts:``, a veth link whose ends run on different
machines becomes a VXLAN device on each (its tunnel chosen by the topology loader).
"""

from __future__ import annotations

from typing import Any, ClassVar

from netknit.plan import _ids as ids
from netknit.plan._actions import AttachEnd, CreateVeth, Planning
from netknit.plan._iface import Iface
from netknit.topology._context import Context
from netknit.topology._drafts import Draft, end_of
from netknit.topology._model import Link
from netknit.topology._schema import EndpointDef, LinkCommon, keys_of, validate
from netknit.topology._yaml import YPath

from ._base import Step
from .vxlan import Tunnelled, tunnel_device, tunnel_spec


class VethDef(LinkCommon):
    """An extended-form link with two endpoints."""

    type: str
    endpoints: list[EndpointDef]


def parse_pair(ctx: Context, name: str, raw: dict[str, Any], path: YPath) -> Draft | None:
    """A two-ended link of type ``name`` (veth, and the types written like it)."""
    spec = validate(ctx, VethDef, raw, path, known=keys_of(EndpointDef))
    if spec is None:
        return None
    if len(spec.endpoints) != 2:
        count = len(spec.endpoints)
        ctx.add((*path, "endpoints"), f"a {name} link needs exactly 2 endpoints (got {count})")
        return None
    ends = [end_of(ctx, e, (*path, "endpoints", i)) for i, e in enumerate(spec.endpoints)]
    return Draft(name, ends, spec)


def veth_steps(main: Iface, peer: Iface, link: Link, site: Planning) -> list[Step]:
    """A veth pair (the main end created up, and enslaved, in the creating request); an
    end whose node waits for the other's node is parked until its node exists."""
    park = f"{peer.node}:{peer.name}" in site.parked
    if f"{main.node}:{main.name}" in site.parked:
        main, peer, park = peer, main, True
    pair = (main, peer)
    after = [ids.enter("create-links", i.node) for i in pair
             if i.netns is not None and not (park and i is peer)]
    after += [ids.bridge(i.master) for i in pair if i.master]
    veth = CreateVeth(main, peer, link.where, parked=park, link_type=link.type)
    out: list[Step] = [(veth, after)]
    if park:
        out.append((AttachEnd(veth), [veth.id, ids.enter("create-links", peer.node)]))
    return out


class Veth(Tunnelled):
    name: ClassVar[str] = "veth"
    brief_pair: ClassVar[bool] = True
    own_namespace: ClassVar[bool] = False
    spans_hosts: ClassVar[bool] = True

    def parse(self, ctx: Context, raw: dict[str, Any], path: YPath) -> Draft | None:
        return parse_pair(ctx, self.name, raw, path)

    def plan(self, link: Link, site: Planning) -> list[Step]:
        a, b = link.endpoints
        if link.vxlan is not None:  # across hosts: this host's end is a VXLAN device
            end, other = (a, b) if site.topo.nodes[a.node].host == site.host else (b, a)
            far = site.topo.hosts[str(site.topo.nodes[other.node].host)]
            near = site.topo.hosts[str(site.host)]
            iface = site.iface(end, link, f"{other} (on host {far.name})")
            return tunnel_device(iface, tunnel_spec(link.vxlan, far.address, near.address),
                                 link)
        ia = site.iface(a, link, str(b))
        ib = site.iface(b, link, str(a))
        # the host-side end is the main one: it can join its bridge in the same request
        main, peer = (ib, ia) if ib.netns is None and ia.netns is not None else (ia, ib)
        return veth_steps(main, peer, link, site)


TYPE = Veth()
