"""``host-device`` (netknit's own): an existing host interface, by name or by MAC, moved
into a node under its endpoint's name; destroy brings it home."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from netknit.plan._actions import CreateDevice, CreateVeth, MoveDevice, PlannedAction, Planning
from netknit.topology._context import Context
from netknit.topology._drafts import Draft, Lab
from netknit.topology._model import Link
from netknit.topology._schema import Field, SingleEnded
from netknit.topology._values import parse_mac
from netknit.topology._yaml import YPath

from ._base import Facts, Row, SingleEndedType, Step, steps


class HostDeviceDef(SingleEnded):
    host_interface: str | None = Field(default=None, alias="host-interface")
    hwaddr: str | None = None


class HostDevice(SingleEndedType):
    name: ClassVar[str] = "host-device"
    schema: ClassVar[type[SingleEnded]] = HostDeviceDef  # mtu: the device's own

    def read(self, ctx: Context, spec: SingleEnded, draft: Draft, path: YPath) -> None:
        assert isinstance(spec, HostDeviceDef)
        if (spec.host_interface is None) == (spec.hwaddr is None):
            ctx.add(path, "a host-device link needs exactly one of host-interface (the "
                    "device's name) or hwaddr (its MAC)" + (": remove one" if spec.hwaddr else ""))
        draft.host_interface, draft.host_path = spec.host_interface, (*path, "host-interface")
        draft.hwaddr, draft.hwaddr_path = spec.hwaddr, (*path, "hwaddr")

    def check(self, ctx: Context, draft: Draft, lab: Lab) -> None:
        """The MAC normalised; a device is moved by one link only."""
        if draft.hwaddr is None:
            return
        try:
            mac = parse_mac(draft.hwaddr)
        except ValueError as exc:
            ctx.add(draft.hwaddr_path, str(exc))
            return
        moved = lab.used.table("host devices by MAC")
        seen = moved.get((lab.machine, mac))
        if seen is None:
            moved[(lab.machine, mac)] = draft.hwaddr_path
        else:
            ctx.add(draft.hwaddr_path, f"the host device with MAC {mac} is already moved by "
                    f"the link at {ctx.at(seen)}")
        draft.hwaddr = mac

    def plan(self, link: Link, site: Planning) -> list[Step]:
        source = link.host_interface or f"hwaddr {link.hwaddr}"
        (end,) = link.endpoints
        iface = replace(site.iface(end, link, f"host device {source}"), mac=end.mac or "")
        return steps(MoveDevice(iface, link.host_interface, link.hwaddr, link.where,
                                link_type=self.name))

    def describe(self, action: PlannedAction) -> Row | None:
        if isinstance(action, MoveDevice):
            i = action.iface
            return {"what": self.name, "name": f"{i.node}:{i.name}",
                    "where": i.netns or "host", "details": f"moved in: {action.wanted}"}
        return super().describe(action)

    def repair_words(self, action: CreateVeth | CreateDevice | MoveDevice) -> str:
        if isinstance(action, MoveDevice):
            return f"move {action.wanted} in again as {action.iface.name}"
        return super().repair_words(action)

    def preflight(self, action: PlannedAction, facts: Facts) -> list[str]:
        if not isinstance(action, MoveDevice) or action.found_in(facts.host_links):
            return []
        return [f"{action.wanted} does not exist in the host namespace "
                f"({action.where}: for {action.iface.node}:{action.iface.name})"]


TYPE = HostDevice()
