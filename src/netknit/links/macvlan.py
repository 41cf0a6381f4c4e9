"""``macvlan``: a macvlan device in the node on a host interface (its parent), in one of
the kernel's modes (containerlab's default: bridge). Parents are shared between links,
except in passthru mode."""

from __future__ import annotations

from typing import ClassVar

from netknit.plan._actions import CreateDevice, PlannedAction, Planning
from netknit.topology._context import Context, suggest
from netknit.topology._drafts import Draft, End, Lab
from netknit.topology._model import MACVLAN_MODES, Link
from netknit.topology._schema import Field, SingleEnded
from netknit.topology._yaml import YPath

from ._base import Facts, SingleEndedType, Step, parent_missing, steps


class MacvlanDef(SingleEnded):
    host_interface: str = Field(alias="host-interface")
    mode: str | None = None


def read_mode(ctx: Context, written: str | None, path: YPath) -> str:
    if written is None or written.strip() == "":
        return "bridge"  # containerlab's default
    mode = written.strip().lower()
    if mode not in MACVLAN_MODES:
        ctx.add(path, f"macvlan mode '{written}' is not one of {', '.join(MACVLAN_MODES)}"
                f"{suggest(mode, MACVLAN_MODES)}")
    return mode


class Macvlan(SingleEndedType):
    name: ClassVar[str] = "macvlan"
    brief_node: ClassVar[str | None] = "macvlan"
    schema: ClassVar[type[SingleEnded]] = MacvlanDef
    owns_host_interface: ClassVar[bool] = False

    def read(self, ctx: Context, spec: SingleEnded, draft: Draft, path: YPath) -> None:
        assert isinstance(spec, MacvlanDef)
        draft.host_interface, draft.host_path = spec.host_interface, (*path, "host-interface")
        draft.mode = read_mode(ctx, spec.mode, (*path, "mode"))

    def brief(self, ctx: Context, host: End, end: End, draft: Draft) -> Draft:
        draft = super().brief(ctx, host, end, draft)
        draft.mode = "bridge"  # containerlab's brief macvlan
        return draft

    def check(self, ctx: Context, draft: Draft, lab: Lab) -> None:
        """Parents are shared, except in passthru mode (the kernel allows one then)."""
        if draft.host_interface is None:
            return
        parents = lab.used.table("macvlan parents")
        key = (lab.machine, draft.host_interface)
        mode = draft.mode or "bridge"
        seen = parents.get(key)
        if seen is None:
            parents[key] = (draft.host_path, mode)
        elif "passthru" in (mode, seen[1]):
            ctx.add(draft.host_path, f"host interface '{draft.host_interface}' is already the "
                    f"parent of the macvlan link at {ctx.at(seen[0])}; in passthru mode a "
                    "parent takes one macvlan only: use another parent or another mode")

    def plan(self, link: Link, site: Planning) -> list[Step]:
        iface = site.iface(link.endpoints[0], link, f"macvlan on host:{link.host_interface}")
        return steps(CreateDevice(iface, "macvlan", parent=link.host_interface,
                                  mode=link.mode or "bridge", where=link.where,
                                  link_type=self.name))

    def preflight(self, action: PlannedAction, facts: Facts) -> list[str]:
        if not isinstance(action, CreateDevice):
            return []
        return parent_missing(action.parent, facts, action)


TYPE = Macvlan()
