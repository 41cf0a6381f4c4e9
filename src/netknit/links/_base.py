"""What a link type is: the protocol every module of :mod:`netknit.links` implements.

A link type reads its mapping from the file (schema and validation, into a
:class:`~netknit.topology._drafts.Draft`), checks it against the whole lab, plans the
generic actions the engine executes (veth pairs, devices, moves, tc stitches), and words
them: the rows ``netknit plan`` prints, how ``reconcile`` says it repairs them, the checks
made before the first side effect of a deploy and the hint added to a kernel error.

Imports only leaf modules (the topology's model, schema, drafts and values; the plan's
actions): the parser and the planner import the registry, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field, replace
from typing import Any, ClassVar

from netknit._dataclass import dataclass
from netknit._errors import KernelError
from netknit.plan._actions import (
    CreateDevice,
    CreateVeth,
    MoveDevice,
    PlannedAction,
    Planning,
    Stitch,
    made_by,
    waits_for,
)
from netknit.plan._iface import Iface
from netknit.topology._context import Context
from netknit.topology._drafts import Draft, End, Lab, end_of
from netknit.topology._model import DEFAULT_LINK_MTU, Link
from netknit.topology._schema import EndpointDef, SingleEnded, keys_of, validate
from netknit.topology._yaml import YPath

#: One row of ``netknit plan``: what, name, where, details.
Row = dict[str, str]
#: An action and the ids it waits for.
Step = tuple[PlannedAction, list[str]]


@dataclass(slots=True)
class Facts:
    """What the checks before a deploy see of this machine."""

    host_links: Mapping[str, Any]  # host namespace: name -> kernel LinkInfo (.mac, ...)
    local_addresses: Callable[[], set[str]]  # this machine's addresses (asked lazily)
    host: str | None = None  # this machine's name in ``hosts:``
    _local: set[str] | None = field(default=None, repr=False)

    def local(self) -> set[str]:
        if self._local is None:
            self._local = self.local_addresses()
        return self._local


def steps(*actions: PlannedAction) -> list[Step]:
    """Actions that wait for what their interfaces need (nodes' create-links, bridges)."""
    return [(a, waits_for(made_by(a))) for a in actions]


def mtu_text(iface: Iface) -> str:
    return f"mtu {iface.mtu}" if iface.mtu else "mtu: kernel's"


def impaired_text(*ifaces: Iface) -> list[str]:
    """``a:eth1 rate 1000 kbit`` for each interface with an impairment."""
    return [f"{i.node}:{i.name} {i.impairment.words()}" for i in ifaces if i.impairment]


class LinkType:
    """A link type. Subclasses set :attr:`name` and override what differs."""

    #: the value of ``type:``
    name: ClassVar[str]
    #: a brief link between two nodes is of this type (one type is)
    brief_pair: ClassVar[bool] = False
    #: the node name that means this type in a brief endpoint (``macvlan:enp0s3``)
    brief_node: ClassVar[str | None] = None
    #: its node ends need a namespace of their own (not a bridge or host node)
    own_namespace: ClassVar[bool] = True
    #: its two ends may be on different machines of ``hosts:`` (joined by VXLAN)
    spans_hosts: ClassVar[bool] = False
    #: the MTU when none is written (0: the kernel decides)
    mtu_default: ClassVar[int] = DEFAULT_LINK_MTU
    #: its ``host_interface`` is its own (False: a parent other links may share)
    owns_host_interface: ClassVar[bool] = True

    # -- the file ---------------------------------------------------------------------

    def parse(self, ctx: Context, raw: dict[str, Any], path: YPath) -> Draft | None:
        """The extended form (``type: <name>``); problems go to ``ctx``."""
        raise NotImplementedError

    def brief(self, ctx: Context, host: End, end: End, draft: Draft) -> Draft:
        """The brief form with ``brief_node`` as one end (``host``), ``end`` the node's:
        the host end names the host-side interface."""
        for _, apath in host.addresses:
            ctx.add(apath, f"the {self.brief_node} end has no address netknit sets: write '' "
                    "for it")
        draft.host_interface, draft.host_path = host.interface, host.path
        return draft

    def check(self, ctx: Context, draft: Draft, lab: Lab) -> None:
        """Whole-lab checks of the type's own fields (the generic ones are done)."""

    # -- the plan -----------------------------------------------------------------------

    def plan(self, link: Link, site: Planning) -> list[Step]:
        raise NotImplementedError

    # -- words and checks the engine uses -----------------------------------------------

    def describe(self, action: PlannedAction) -> Row | None:
        """The row ``netknit plan`` prints for ``action`` (None: no row)."""
        if isinstance(action, CreateVeth):
            a, b = action.main, action.peer
            return {"what": "veth", "name": f"{a.node}:{a.name} <-> {b.node}:{b.name}",
                    "where": f"{a.netns or 'host'} / {b.netns or 'host'}",
                    "details": ", ".join([mtu_text(a) + (f", port of {a.master}" if a.master
                                                         else ""), *impaired_text(a, b)])}
        if isinstance(action, CreateDevice):
            i = action.iface
            details = [*self.device_details(action), mtu_text(i)]
            if action.parent:
                details.append(f"on {action.parent}, mode {action.mode}")
            details.append(f"to {i.peer}")
            details += impaired_text(i)
            return {"what": action.kind, "name": f"{i.node}:{i.name}",
                    "where": i.netns or "host", "details": ", ".join(details)}
        if isinstance(action, Stitch):
            return {"what": "tc stitch", "name": f"{action.a} <-> {action.b}",
                    "where": "host", "details": "both ways"}
        return None

    def device_details(self, action: CreateDevice) -> list[str]:
        """Details of a device row before its MTU (a tunnel's VNI, remote, port)."""
        return []

    def repair_words(self, action: CreateVeth | CreateDevice | MoveDevice) -> str:
        """How ``reconcile`` words recreating what ``action`` made."""
        if isinstance(action, CreateVeth):
            return (f"recreate link {action.main.node}:{action.main.name} <-> "
                    f"{action.peer.node}:{action.peer.name}")
        if isinstance(action, CreateDevice):
            return f"recreate {action.kind} {action.iface.node}:{action.iface.name}"
        raise NotImplementedError(f"{self.name} makes no {type(action).__name__}")

    def preflight(self, action: PlannedAction, facts: Facts) -> list[str]:
        """Problems with ``action`` on this machine, found before the first side effect."""
        return []

    def hint(self, action: PlannedAction, err: KernelError) -> str | None:
        """What to do about ``err``, the kernel's refusal of ``action``."""
        return None


class SingleEndedType(LinkType):
    """A type written with one ``endpoint`` (the node side)."""

    schema: ClassVar[type[SingleEnded]]
    mtu_default: ClassVar[int] = 0

    def parse(self, ctx: Context, raw: dict[str, Any], path: YPath) -> Draft | None:
        spec = validate(ctx, self.schema, raw, path, known=keys_of(EndpointDef))
        if spec is None:
            return None
        end = end_of(ctx, spec.endpoint, (*path, "endpoint"))
        draft = Draft(self.name, [end], spec, mtu_default=self.mtu_default)
        self.read(ctx, spec, draft, path)
        return draft

    def read(self, ctx: Context, spec: SingleEnded, draft: Draft, path: YPath) -> None:
        """The type's own keys of ``spec`` into ``draft``."""


def with_mtu(iface: Iface, mtu: int) -> Iface:
    return replace(iface, mtu=mtu)


def parent_missing(parent: str | None, facts: Facts, action: CreateDevice) -> list[str]:
    """A device's host parent (macvlan's, a tunnel's underlay) must exist."""
    if not parent or parent in facts.host_links:
        return []
    return [f"host interface {parent} does not exist "
            f"({action.where}: {action.iface.node}:{action.iface.name})"]
