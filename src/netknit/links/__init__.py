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


def describe(action: object) -> Row | None:
    """The ``netknit plan`` row of a link's action (None: another action, or no row)."""
    found = _link_action(action)
    return found[0].describe(found[1]) if found else None


def repair_words(action: CreateVeth | CreateDevice | MoveDevice) -> str:
    """How ``reconcile`` words recreating what ``action`` made."""
    found = _link_action(action)
    assert found is not None
    return found[0].repair_words(action)


def preflight(action: object, facts: Facts) -> list[str]:
    """Problems with a link's ``action`` on this machine, before the first side effect
    (none for other actions)."""
    found = _link_action(action)
    return found[0].preflight(found[1], facts) if found else []


def hint(action: object, err: KernelError) -> str | None:
    """What to do about the kernel's refusal ``err`` of a link's ``action``."""
    found = _link_action(action)
    return found[0].hint(found[1], err) if found else None


def _link_action(action: object) -> tuple[LinkType, PlannedAction] | None:
    """The type that planned ``action`` (the generic words for one built by hand, without
    a ``link_type``), and the action; None for actions of no link."""
    from netknit.plan._actions import AttachEnd, CreateDevice, CreateVeth, MoveDevice, Stitch

    from ._base import LinkType

    if not isinstance(action, CreateVeth | AttachEnd | CreateDevice | MoveDevice | Stitch):
        return None
    return registry().get(action.link_type) or LinkType(), action
