"""``dummy``: a dummy device in the node (containerlab's ``dummy`` type)."""

from __future__ import annotations

from typing import ClassVar

from netknit._errors import KernelError
from netknit.plan._actions import CreateDevice, PlannedAction, Planning
from netknit.topology._model import Link
from netknit.topology._schema import SingleEnded

from ._base import SingleEndedType, Step, steps


class DummyDef(SingleEnded):
    pass


class Dummy(SingleEndedType):
    name: ClassVar[str] = "dummy"
    schema: ClassVar[type[SingleEnded]] = DummyDef

    def plan(self, link: Link, site: Planning) -> list[Step]:
        iface = site.iface(link.endpoints[0], link, self.name)
        return steps(CreateDevice(iface, "dummy", where=link.where, link_type=self.name))

    def hint(self, action: PlannedAction, err: KernelError) -> str | None:
        if err.errno in (95, 2):
            return "this kernel has no dummy driver: `modprobe dummy`, or use another link type"
        return None


TYPE = Dummy()
