"""``vxlan-stitch``: containerlab's stitched VXLAN. A veth from the node to the host (host
side ``ve-<node>_<if>``) and a VXLAN device in the host (``vx-<node>_<if>``), joined both
ways with tc."""

from __future__ import annotations

from typing import ClassVar

from netknit.plan._actions import CreateDevice, CreateVeth, Planning, Stitch
from netknit.topology._context import Context
from netknit.topology._drafts import Draft, Lab, register
from netknit.topology._model import Link
from netknit.topology._values import IFNAME_MAX, ifname_error

from ._base import Step, steps, with_mtu
from .vxlan import VxlanType, remote_words, written_tunnel


class VxlanStitch(VxlanType):
    name: ClassVar[str] = "vxlan-stitch"

    def check(self, ctx: Context, draft: Draft, lab: Lab) -> None:
        """containerlab's host-side names: the veth ``ve-<node>_<if>`` and the VXLAN
        device ``vx-<node>_<if>``."""
        end = draft.ends[0]
        names = [f"{prefix}-{end.node}_{end.interface}" for prefix in ("ve", "vx")]
        draft.host_interface, draft.stitch_device = names
        size = len(names[0].encode("utf-8", "surrogatepass"))
        if size > IFNAME_MAX:
            ctx.add(end.path, f"{self.name} names its host interfaces '{names[0]}' and "
                    f"'{names[1]}' ({size} bytes; Linux allows at most {IFNAME_MAX}): shorten "
                    "the node or interface name")
            return
        if any(ifname_error(name) for name in names):
            return  # the node or interface name is reported itself
        for name in names:
            register(ctx, lab.used, "host", name, end.path, True, lab.machine)

    def plan(self, link: Link, site: Planning) -> list[Step]:
        assert link.host_interface is not None and link.stitch_device is not None
        vxlan, tunnel, fits = written_tunnel(link, site)
        (end,) = link.endpoints
        # frames the VXLAN device cannot carry would be dropped at the redirect: the
        # veth gets the tunnel's MTU
        mtu = link.mtu or fits
        node_if = with_mtu(site.iface(end, link, f"host:{link.host_interface}"), mtu)
        host_if = site.host_iface(link.host_interface, mtu, str(end))
        vx_if = site.host_iface(link.stitch_device, mtu, remote_words(vxlan))
        veth = CreateVeth(host_if, node_if, link.where, link_type=self.name)
        device = CreateDevice(vx_if, "vxlan", vxlan=tunnel, where=link.where,
                              link_type=self.name)
        stitch = Stitch(host_if.name, vx_if.name, link.where, link_type=self.name)
        return [*steps(veth, device), (stitch, [veth.id, device.id])]


TYPE = VxlanStitch()
