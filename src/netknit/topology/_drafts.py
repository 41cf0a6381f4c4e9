"""The building blocks of link parsing, shared by the generic parser (``_links``) and the
link type modules (``netknit.links``): a link as written (:class:`Draft`), its ends, and
what the lab uses so far (interfaces per namespace, addresses, MACs).

A leaf module: it imports neither the parser nor the link types.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import field
from ipaddress import IPv4Address, IPv6Address
from types import MappingProxyType
from typing import Any, Literal

from netknit._dataclass import dataclass
from netknit._impair import KEYS, Impairment
from netknit.topology._context import Context, show
from netknit.topology._model import DEFAULT_LINK_MTU, Node, Vxlan
from netknit.topology._schema import EndpointDef, LinkCommon
from netknit.topology._values import Address, ifname_error, parse_address
from netknit.topology._yaml import YPath


@dataclass(slots=True)
class End:
    """One end as written, before the whole-lab checks."""

    node: str
    interface: str
    path: YPath  # the endpoint
    node_path: YPath
    iface_path: YPath
    mac: str | None = None
    mac_path: YPath = ()
    addresses: list[tuple[Address, YPath]] = field(default_factory=list)
    vars: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    impairment: Impairment | None = None


@dataclass(slots=True)
class Draft:
    """A link as its type read it; the generic parser checks it against the lab."""

    type: str
    ends: list[End]
    spec: LinkCommon  # the validated mapping (the type's model)
    host_interface: str | None = None
    host_path: YPath = ()
    mtu_default: int = DEFAULT_LINK_MTU  # 0: the kernel decides
    vxlan: Vxlan | None = None
    mode: str | None = None
    hwaddr: str | None = None
    hwaddr_path: YPath = ()
    bridge: str | None = None
    stitch_device: str | None = None


class Used:
    """What the lab uses so far: interfaces per namespace (the host namespace is keyed by
    machine), addresses, MACs, and per-type tables (``tables``: e.g. macvlan parents)."""

    def __init__(self) -> None:
        self.interfaces: dict[tuple[str, ...], tuple[YPath, str]] = {}
        self.addresses: dict[IPv4Address | IPv6Address, YPath] = {}
        self.macs: dict[str, YPath] = {}  # MACs written on endpoints
        self.tables: dict[str, dict[Any, Any]] = {}

    def table(self, name: str) -> dict[Any, Any]:
        """A link type's own table of what is taken (created on first use)."""
        return self.tables.setdefault(name, {})


@dataclass(slots=True)
class Lab:
    """What a link type's whole-lab checks see."""

    name: str  # the lab's
    nodes: dict[str, Node]
    used: Used
    bridge: str  # the lab's management bridge
    machine: str  # the machine of the link's first end ("" in a lab on one machine)


def end_of(ctx: Context, spec: EndpointDef, path: YPath) -> End:
    """An extended-form endpoint (``{node:, interface:, mac:, ipv4:, ipv6:}``)."""
    end = End(spec.node, spec.interface, path, (*path, "node"), (*path, "interface"))
    end.mac, end.mac_path = spec.mac, (*path, "mac")
    end.vars = vars_of(ctx, spec.vars, (*path, "vars"))
    end.impairment = impairment_of(ctx, spec.impairment, (*path, "impairment"))
    for family in (4, 6):
        value = getattr(spec, f"ipv{family}")
        end.addresses += addresses(ctx, value, (*path, f"ipv{family}"), family)
    return end


def vars_of(ctx: Context, value: Any, path: YPath) -> Mapping[str, Any]:
    """containerlab's ``vars`` of a link or an endpoint (``map[string]any``): kept as
    written, for the lab files; nothing reads them for wiring."""
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict):
        ctx.add(path, f"expected a mapping of variables (got {show(value)})")
        return MappingProxyType({})
    return MappingProxyType(copy.deepcopy(value))


def impairment_of(ctx: Context, value: Any, path: YPath) -> Impairment | None:
    """netknit's ``impairment:`` (of an endpoint or a link): containerlab's ``tools netem``
    values; None when not written or all zero."""
    if value is None:
        return None
    try:
        imp = Impairment.from_json(value)
    except ValueError as exc:
        key, _, why = str(exc).partition(": ")
        if key in KEYS:
            ctx.add((*path, key), why)
        else:
            ctx.add(path, str(exc))
        return None
    return imp or None


def addresses(
    ctx: Context, value: Any, path: YPath, family: Literal[4, 6]
) -> list[tuple[Address, YPath]]:
    """``"10.0.0.1/24"``, ``["10.0.0.1/24", ...]``, ``""`` or nothing."""
    if isinstance(value, list):
        items = [((*path, i), v) for i, v in enumerate(value)]
    elif value is None or isinstance(value, str):
        items = [(path, value)]
    else:
        ctx.add(path, f"expected an address or a list of addresses (got {show(value)})")
        return []
    out = []
    for where, text in items:
        if text is None or text == "":
            continue
        if not isinstance(text, str):
            ctx.add(where, f"expected an address like 10.0.0.1/24 (got {show(text)})")
            continue
        try:
            out.append((parse_address(text, family), where))
        except ValueError as exc:
            ctx.add(where, str(exc))
    return out


def check_ifname(ctx: Context, name: str, path: YPath) -> None:
    reason = ifname_error(name)
    if reason is None and name == "lo":
        reason = "'lo' is the loopback interface; it cannot be a link endpoint"
    if reason:
        ctx.add(path, reason)


def register(
    ctx: Context, used: Used, node: str, name: str, path: YPath, host: bool,
    machine: str | None = None,
) -> None:
    """Record interface ``name`` (of ``node``, or of the host namespace of ``machine``);
    a second use is a problem."""
    key = ("host", machine or "", name) if host else ("node", node, name)
    seen = used.interfaces.get(key)
    if seen is None:
        used.interfaces[key] = (path, "")
        return
    where = ctx.at(seen[0]) + seen[1]
    if host:
        of = f" of host {machine}" if machine else ""
        ctx.add(path, f"interface '{name}' is already used in the host namespace{of} at {where}")
    else:
        ctx.add(path, f"interface '{name}' of node '{node}' is already used at {where}")
