"""The difference between a deployed lab (its recorded desired state) and a new plan:
what ``deploy`` of a changed file adds, removes, recreates or changes (apply).

Pure. What a node or a link was made from is recorded as digests (:func:`node_spec`,
:func:`link_spec`): a node whose digests differ is recreated (a new image, env, cmd, any
container setting), a link whose digest differs is made again; MACs, MTUs and addresses
are attributes, changed in place on the interfaces that stay.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from .._dataclass import dataclass
from .._digest import sha256
from .._impair import Impairment
from ..state import IfaceState, LabState, LinkState
from ..topology import DEFAULT_PRIVATE_DIRS
from ._actions import CreateVeth, LinkAction, made_by
from ._iface import Iface
from ._plan import NodePlan, Plan

#: container settings that follow from the rest of the lab, not from the node: its
#: interface list (and the env that counts them) changes when a link is added; no_proxy
#: lists every node of the lab
_DERIVED_ENV = frozenset({"CLAB_INTFS", "NETKNIT_INTFS", "no_proxy", "NO_PROXY"})


def _digest(value: object) -> str:
    return sha256(repr(value).encode()).hexdigest()[:16]


def _stable(value: object) -> object:
    """``value`` with its mappings sorted, so that its repr does not depend on order."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _stable(v)) for k, v in value.items()))
    if isinstance(value, tuple | list):
        return tuple(_stable(v) for v in value)
    return value


def node_spec(node: NodePlan) -> dict[str, str]:
    """A digest per setting of ``node`` whose change recreates it (``exec`` is not one:
    it runs after deploy; the node's interfaces are not either: links come and go)."""
    fields: dict[str, object] = {"kind": node.kind, "runtime": node.runtime,
                                 "netns": node.netns, "cmd": node.cmd, "env": node.env,
                                 "startup-delay": node.startup_delay}
    # a node's own view: written only when set, so that labs deployed before stay as made
    if node.binds:
        fields["binds"] = node.binds
    if node.private_dirs != DEFAULT_PRIVATE_DIRS:
        fields["private-dirs"] = node.private_dirs
    if node.container is not None:
        spec = node.container
        for f in dataclasses.fields(spec):
            if f.name in ("interfaces", "env", "cmd"):
                continue
            fields[f.name.replace("_", "-")] = getattr(spec, f.name)
        fields["env"] = {k: v for k, v in spec.env.items() if k not in _DERIVED_ENV}
        # who ran deploy is not a setting of the node
        fields["labels"] = {k: v for k, v in spec.labels.items() if k != "clab-owner"}
    return {name: _digest(_stable(value)) for name, value in fields.items()}


def _bare(iface: Iface) -> Iface:
    """An interface without its attributes (changed in place, never a reason to remake)."""
    return dataclasses.replace(iface, mac="", mtu=0, addresses=(), impairment=None)


def link_spec(action: LinkAction) -> str:
    """The digest of how a link is made, attributes and YAML position left out."""
    bare: Any
    if isinstance(action, CreateVeth):
        bare = dataclasses.replace(action, main=_bare(action.main), peer=_bare(action.peer),
                                   where="", parked=False)
    else:
        bare = dataclasses.replace(action, iface=_bare(action.iface), where="")
    return _digest((type(action).__name__, bare))


def link_state(action: LinkAction) -> LinkState:
    return LinkState(link_spec(action), tuple(f"{i.node}:{i.name}" for i in made_by(action)))


@dataclass(frozen=True, slots=True)
class IfaceChange:
    """An attribute of an interface that stays, changed in place."""

    node: str
    iface: str
    what: str  # mac | mtu | address | impairment
    old: str  # "" for an address added
    new: str  # "" for an address removed

    def words(self) -> str:
        if self.what == "address":
            return f"{self.node}:{self.iface} " + (f"add {self.new}" if self.new
                                                   else f"remove {self.old}")
        if self.what == "impairment":
            return (f"{self.node}:{self.iface} impairment {self.old or 'none'} -> "
                    f"{self.new or 'none'}")
        return f"{self.node}:{self.iface} {self.what} {self.old} -> {self.new}"


@dataclass(frozen=True)
class Change:
    """What apply does, by name (nodes) and plan action id (links)."""

    added_nodes: tuple[str, ...] = ()
    removed_nodes: tuple[str, ...] = ()
    recreated_nodes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # -> why
    added_links: tuple[str, ...] = ()  # ids in the new plan (a recreated node's too)
    removed_links: tuple[str, ...] = ()  # ids in the recorded state
    changed: tuple[IfaceChange, ...] = ()
    #: "node:interface" ends of each link named above, for people
    ends: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added_nodes or self.removed_nodes or self.recreated_nodes
                    or self.added_links or self.removed_links or self.changed)

    def link_words(self, aid: str) -> str:
        return " <-> ".join(self.ends.get(aid, (aid,)))

    def to_json(self) -> dict[str, Any]:
        """containerlab's apply result keys (``core/apply.go``), plus netknit's own
        ``removed-links`` and ``changed-interfaces``."""
        deleted = sorted({e for aid in self.removed_links for e in self.ends.get(aid, ())
                          if e.split(":")[0] not in self.removed_nodes})
        return {
            "added-nodes": list(self.added_nodes),
            "deleted-nodes": list(self.removed_nodes),
            "recreated-nodes": sorted(self.recreated_nodes),
            "added-links": [self.link_words(a) for a in self.added_links],
            "deleted-endpoints": deleted,
            "removed-links": [self.link_words(a) for a in self.removed_links],
            "changed-interfaces": [c.words() for c in self.changed],
            "node-change-reasons": {n: "config drift: " + ", ".join(why)
                                    for n, why in sorted(self.recreated_nodes.items())},
        }


def recorded_nodes(state: LabState, plan: Plan) -> dict[str, str]:
    """The deployed nodes' names (the ``host`` record holds only host-side interfaces
    unless the lab has a node of that name)."""
    return {name: node.kind for name, node in state.nodes.items()
            if name != "host" or node.kind != "host" or "host" in plan.nodes}


def diff(state: LabState, plan: Plan) -> Change:
    """What makes the lab ``state`` records into ``plan``'s (see the module's words)."""
    old = recorded_nodes(state, plan)
    added = tuple(n for n in plan.nodes if n not in old)
    removed = tuple(n for n in old if n not in plan.nodes)
    recreated: dict[str, tuple[str, ...]] = {}
    for name, node in plan.nodes.items():
        if name not in old:
            continue
        was, now = state.nodes[name].spec, node_spec(node)
        why = tuple(k for k in now if was.get(k) != now[k]) if was else ()
        if why:
            recreated[name] = why
    gone = set(removed) | set(recreated)
    fresh = set(added) | set(recreated)
    new_links = {a.id: a for a in plan.link_actions()}
    ends: dict[str, tuple[str, ...]] = {aid: link.ends for aid, link in state.links.items()}

    def touches(ends_of: tuple[str, ...], nodes: set[str]) -> bool:
        return any(e.split(":", 1)[0] in nodes for e in ends_of)

    removed_links = []
    for aid, link in state.links.items():
        now_link = new_links.get(aid)
        if now_link is None or link_spec(now_link) != link.spec or touches(link.ends, gone):
            removed_links.append(aid)
    added_links = []
    for aid, action in new_links.items():
        made = link_state(action)
        ends[aid] = made.ends
        was_link = state.links.get(aid)
        if was_link is None or was_link.spec != made.spec or touches(made.ends, fresh):
            added_links.append(aid)
    remade = set(added_links)
    changed = [c for aid, action in new_links.items() if aid not in remade
               for iface in made_by(action) for c in _attributes(state, iface)]
    return Change(added, removed, recreated, tuple(added_links), tuple(removed_links),
                  tuple(changed), ends)


def _attributes(state: LabState, iface: Iface) -> list[IfaceChange]:
    node = state.nodes.get(iface.node)
    was: IfaceState | None = next((i for i in node.interfaces if i.name == iface.name),
                                  None) if node else None
    if was is None:
        return []
    out = []
    if iface.mac and iface.mac != was.mac:
        out.append(IfaceChange(iface.node, iface.name, "mac", was.mac, iface.mac))
    if iface.mtu and iface.mtu != was.mtu:
        out.append(IfaceChange(iface.node, iface.name, "mtu", str(was.mtu), str(iface.mtu)))
    now = [str(a) for a in iface.addresses]
    out += [IfaceChange(iface.node, iface.name, "address", a, "")
            for a in was.addresses if a not in now]
    out += [IfaceChange(iface.node, iface.name, "address", "", a)
            for a in now if a not in was.addresses]
    old = Impairment.from_json(was.impairment) if was.impairment else None
    if old != iface.impairment:  # "" : none
        out.append(IfaceChange(iface.node, iface.name, "impairment",
                               old.words() if old else "", iface.impairment.words()
                               if iface.impairment else ""))
    return out


__all__ = ["Change", "IfaceChange", "diff", "link_spec", "link_state", "node_spec",
           "recorded_nodes"]
