"""The impairments ``tools netem`` set on a lab's interfaces, as the journal records them
(marker :data:`OVERRIDES`), and the plans that carry them: every plan that repairs a lab
(reconcile, watch, start, restart, apply) impairs those interfaces as the tool left them,
not as the file says, until the lab is destroyed.
"""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Iterable, Mapping
from typing import Any

from .._errors import KernelError
from .._impair import Impairment
from ..kernel._qdisc import NETEM_HINT, netem_available
from ..plan import Configure, Iface, Plan

#: journal marker: "node:interface" -> Impairment.to_json() (None: no impairment)
OVERRIDES = "impairments"


def overrides(markers: Mapping[str, Any]) -> dict[str, Impairment | None]:
    """What ``tools netem`` set on lab interfaces, as the journal's markers record it."""
    raw = markers.get(OVERRIDES)
    out: dict[str, Impairment | None] = {}
    for key, value in (raw.items() if isinstance(raw, dict) else ()):
        try:
            out[str(key)] = (Impairment.from_json(value) or None) if value else None
        except ValueError:
            continue  # `tools netem` writes them checked; never fatal to a repair
    return out


def overridden(plan: Plan, markers: Mapping[str, Any]) -> Plan:
    """``plan`` with the impairments ``tools netem`` recorded instead of the file's."""
    table = overrides(markers)
    if not table:
        return plan

    def fix(iface: Iface) -> Iface:
        key = f"{iface.node}:{iface.name}"
        return dataclasses.replace(iface, impairment=table[key]) if key in table else iface

    actions = {aid: dataclasses.replace(a, interfaces=tuple(fix(i) for i in a.interfaces))
               if isinstance(a, Configure) else a for aid, a in plan.actions.items()}
    return dataclasses.replace(plan, interfaces=tuple(fix(i) for i in plan.interfaces),
                               actions=actions)


def require_netem(wanted: Iterable[tuple[str, Impairment | None]]) -> None:
    """Refuse, before any change, impairments that need sch_netem (delay, jitter, loss,
    corruption) where the kernel has none; ``wanted``: ("node:interface", impairment)."""
    needy = [where for where, imp in wanted if imp is not None and imp.netem]
    if needy and not netem_available():
        more = f" and {len(needy) - 1} more" if len(needy) > 1 else ""
        raise KernelError(f"impair {needy[0]}{more} with delay, jitter, loss or corruption",
                          errno.EOPNOTSUPP, detail="the kernel has no sch_netem module",
                          hint=NETEM_HINT)


def require_netem_for(plan: Plan) -> None:
    """:func:`require_netem` for every interface of ``plan``."""
    require_netem((f"{i.node}:{i.name}", i.impairment) for i in plan.interfaces)
