"""``mgmt-net``: a veth from the node whose host side is a port of the lab's management
bridge (containerlab's ``mgmt-net`` type, and the brief form's ``mgmt-net:<if>`` end)."""

from __future__ import annotations

from typing import ClassVar

from netknit.plan._actions import CreateVeth, Planning
from netknit.topology._context import Context
from netknit.topology._drafts import Draft, Lab
from netknit.topology._model import DEFAULT_LINK_MTU, Link
from netknit.topology._schema import Field, SingleEnded
from netknit.topology._yaml import YPath

from ._base import SingleEndedType, Step, steps


class MgmtNetDef(SingleEnded):
    host_interface: str = Field(alias="host-interface")


class MgmtNet(SingleEndedType):
    name: ClassVar[str] = "mgmt-net"
    brief_node: ClassVar[str | None] = "mgmt-net"
    schema: ClassVar[type[SingleEnded]] = MgmtNetDef
    mtu_default: ClassVar[int] = DEFAULT_LINK_MTU

    def read(self, ctx: Context, spec: SingleEnded, draft: Draft, path: YPath) -> None:
        assert isinstance(spec, MgmtNetDef)
        draft.host_interface, draft.host_path = spec.host_interface, (*path, "host-interface")

    def check(self, ctx: Context, draft: Draft, lab: Lab) -> None:
        draft.bridge = lab.bridge

    def plan(self, link: Link, site: Planning) -> list[Step]:
        assert link.host_interface is not None and link.bridge is not None
        (end,) = link.endpoints
        node_if = site.iface(end, link, f"mgmt-net:{link.host_interface}")
        host_if = site.host_iface(link.host_interface, link.mtu, str(end), master=link.bridge)
        return steps(CreateVeth(host_if, node_if, link.where, link_type=self.name))


TYPE = MgmtNet()
