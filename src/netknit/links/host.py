"""``host``: a veth pair from a node to the host namespace (containerlab's ``host``
type, and the brief form's ``host:<interface>`` end)."""

from __future__ import annotations

from typing import ClassVar

from netknit.plan._actions import Planning
from netknit.topology._context import Context
from netknit.topology._drafts import Draft, End
from netknit.topology._model import DEFAULT_LINK_MTU, Link
from netknit.topology._schema import Field, SingleEnded
from netknit.topology._yaml import YPath

from ._base import SingleEndedType, Step
from .veth import veth_steps


class HostLinkDef(SingleEnded):
    host_interface: str = Field(alias="host-interface")


class Host(SingleEndedType):
    name: ClassVar[str] = "host"
    brief_node: ClassVar[str | None] = "host"
    own_namespace: ClassVar[bool] = False
    schema: ClassVar[type[SingleEnded]] = HostLinkDef
    mtu_default: ClassVar[int] = DEFAULT_LINK_MTU

    def read(self, ctx: Context, spec: SingleEnded, draft: Draft, path: YPath) -> None:
        assert isinstance(spec, HostLinkDef)
        draft.host_interface, draft.host_path = spec.host_interface, (*path, "host-interface")

    def brief(self, ctx: Context, host: End, end: End, draft: Draft) -> Draft:
        for _, apath in host.addresses:
            ctx.add(apath, "not supported yet: an address on the host end; use a node of "
                    "kind host")
        draft.host_interface, draft.host_path = host.interface, host.path
        return draft

    def plan(self, link: Link, site: Planning) -> list[Step]:
        (end,) = link.endpoints
        assert link.host_interface is not None
        node_if = site.iface(end, link, f"host:{link.host_interface}")
        host_if = site.host_iface(link.host_interface, link.mtu, str(end))
        return veth_steps(host_if, node_if, link, site)


TYPE = Host()
