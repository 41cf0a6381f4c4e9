"""Link types: one module each, registered here (one line per type).

The topology parser, the planner, ``netknit plan`` and the engine reach a link type only
through :func:`registry` and the functions below; none of them names a type.

The modules are imported on first use: the registry's users (topology, plan) are
themselves imported by the modules' leaf imports, and the CNI plugin never needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netknit._errors import KernelError
    from netknit.plan._actions import CreateDevice, CreateVeth, MoveDevice, PlannedAction

    from ._base import Facts, LinkType, Row

__all__ = ["describe", "hint", "preflight", "registry", "repair_words"]


@cache
def registry() -> Mapping[str, LinkType]:
    """Every link type by its ``type:`` name."""
    from . import (
        dummy,
        host,
        host_device,
        macvlan,
        mgmt_net,
        veth,
        veth_stitch,
        vxlan,
        vxlan_stitch,
    )

    types = (
        veth.TYPE,
        host.TYPE,
        vxlan.TYPE,
        vxlan_stitch.TYPE,
        macvlan.TYPE,
        mgmt_net.TYPE,
        host_device.TYPE,
        dummy.TYPE,
        veth_stitch.TYPE,
    )
    return {t.name: t for t in types}


def describe(action: PlannedAction) -> Row | None:
    """The ``netknit plan`` row of a link action (None: it shows no row)."""
    return _type_of(action).describe(action)


def repair_words(action: CreateVeth | CreateDevice | MoveDevice) -> str:
    """How ``reconcile`` words recreating what ``action`` made."""
    return _type_of(action).repair_words(action)


def preflight(action: PlannedAction, facts: Facts) -> list[str]:
    """Problems with ``action`` on this machine, before the first side effect."""
    return _type_of(action).preflight(action, facts)


def hint(action: PlannedAction, err: KernelError) -> str | None:
    """What to do about the kernel's refusal ``err`` of ``action``."""
    return _type_of(action).hint(action, err)


def _type_of(action: PlannedAction) -> LinkType:
    """The type that planned ``action``; the generic words for one built by hand."""
    from ._base import LinkType

    found = registry().get(action.link_type)
    return found if found is not None else LinkType()
