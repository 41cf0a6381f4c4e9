"""Links: the brief form (``endpoints: ["a:eth1", "b:eth1"]``) and the extended forms
(``type: veth`` / ``type: host``), normalised to :class:`Link` and checked as a whole:
references, interface names, MACs, addresses, and what is used twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from types import MappingProxyType
from typing import Any, Literal

from netknit.topology._context import Context, show, suggest
from netknit.topology._model import DEFAULT_LINK_MTU, Endpoint, Link, LinkType, Node
from netknit.topology._schema import BriefLink, EndpointDef, HostLink, VethLink, keys_of, validate
from netknit.topology._values import Address, ifname_error, parse_address, parse_mac
from netknit.topology._yaml import YPath, format_path

#: containerlab's link types (links/link.go) that netknit does not deploy yet.
UNSUPPORTED_TYPES = ("vxlan", "vxlan-stitch", "macvlan", "mgmt-net", "dummy")
_TYPES = ("veth", "host", *UNSUPPORTED_TYPES)
#: Node names with a meaning in brief endpoints (``host:eth1``), as in containerlab.
_SPECIAL_NODES = ("host", "mgmt-net", "macvlan")
_HOST_NS_KINDS = ("bridge", "host")
MTU_RANGE = (68, 65535)  # IPv4's minimum MTU .. the kernel's maximum for veth


@dataclass(slots=True)
class _End:
    """One end as written, before the whole-lab checks."""

    node: str
    interface: str
    path: YPath  # the endpoint
    node_path: YPath
    iface_path: YPath
    mac: str | None = None
    mac_path: YPath = ()
    addresses: list[tuple[Address, YPath]] = field(default_factory=list)


@dataclass(slots=True)
class _Draft:
    type: LinkType
    ends: list[_End]
    spec: BriefLink | VethLink | HostLink
    host_interface: str | None = None
    host_path: YPath = ()


class _Registry:
    """What the lab uses so far: interfaces per namespace, and addresses."""

    def __init__(self) -> None:
        self.interfaces: dict[tuple[str, ...], tuple[YPath, str]] = {}
        self.addresses: dict[IPv4Address | IPv6Address, YPath] = {}


def build_links(ctx: Context, raw: Any, nodes: dict[str, Node]) -> list[Link]:
    """Every link of ``topology.links``, normalised; problems go to ``ctx``."""
    base: YPath = ("topology", "links")
    if raw is None:
        return []
    if not isinstance(raw, list):
        ctx.add(base, f"expected a list of links (got {show(raw)})")
        return []
    registry = _Registry()
    for name, node in nodes.items():
        if node.kind == "bridge":  # the bridge itself is an interface of the host
            registry.interfaces[("host", name)] = (("topology", "nodes", name), " (the bridge)")
    links = []
    for index, item in enumerate(raw):
        path = (*base, index)
        draft = _draft(ctx, item, path)
        if draft is not None:
            links.append(_finish(ctx, draft, path, nodes, registry))
    return links


def _draft(ctx: Context, raw: Any, path: YPath) -> _Draft | None:
    if not isinstance(raw, dict):
        ctx.add(path, f"expected a mapping with the link's endpoints (got {show(raw)})")
        return None
    written = raw.get("type")
    if written is None:
        return _brief(ctx, raw, path)
    if not isinstance(written, str):
        ctx.add((*path, "type"), f"expected a link type name (got {show(written)})")
        return None
    kind = written.strip().lower()  # containerlab is lenient here too
    if kind == "brief":
        return _brief(ctx, raw, path)
    if kind == "veth":
        return _veth(ctx, raw, path)
    if kind == "host":
        return _host(ctx, raw, path)
    if kind in UNSUPPORTED_TYPES:
        ctx.add((*path, "type"), f"not supported yet: link type '{kind}'")
    else:
        ctx.add((*path, "type"), f"unknown link type '{written}'{suggest(kind, _TYPES)}")
    return None


def _brief(ctx: Context, raw: dict[str, Any], path: YPath) -> _Draft | None:
    if "endpoint" in raw or "host-interface" in raw:
        ctx.add(path, "this looks like a host link in extended form: add `type: host`")
        return None
    spec = validate(ctx, BriefLink, raw, path)
    if spec is None:
        return None
    if len(spec.endpoints) != 2:
        count = len(spec.endpoints)
        ctx.add((*path, "endpoints"), f"a link needs exactly 2 endpoints (got {count})")
        return None
    ends = []
    for index, text in enumerate(spec.endpoints):
        node, colon, interface = text.partition(":")  # split on the first ':' only
        epath: YPath = (*path, "endpoints", index)
        if not colon:
            ctx.add(epath, f"endpoint '{text}' is not written as node:interface")
            return None
        ends.append(_End(node, interface, epath, epath, epath))
    for family in (4, 6):
        values = getattr(spec, f"ipv{family}")
        if values is None:
            continue
        fpath: YPath = (*path, f"ipv{family}")
        if len(values) != len(ends):
            entries = f"{len(values)} entr{'y' if len(values) == 1 else 'ies'}"
            ctx.add(
                fpath,
                f"ipv{family} has {entries} but the link has {len(ends)} endpoints;"
                " write one per endpoint, '' for none",
            )
            continue
        for index, value in enumerate(values):
            ends[index].addresses += _addresses(ctx, value, (*fpath, index), family)

    special = [e for e in ends if e.node.strip().lower() in _SPECIAL_NODES]
    if len(special) == 2:
        ctx.add((*path, "endpoints"), "a link needs at least one end in a node")
        return None
    if not special:
        return _Draft("veth", ends, spec)
    host, end = special[0], next(e for e in ends if e is not special[0])
    what = host.node.strip().lower()
    if what != "host":
        ctx.add(host.path, f"not supported yet: link type '{what}' (endpoint '{what}:...')")
        return None
    for _, apath in host.addresses:
        ctx.add(apath, "not supported yet: an address on the host end; use a node of kind host")
    return _Draft("host", [end], spec, host.interface, host.path)


def _veth(ctx: Context, raw: dict[str, Any], path: YPath) -> _Draft | None:
    spec = validate(ctx, VethLink, raw, path, known=keys_of(EndpointDef))
    if spec is None:
        return None
    if len(spec.endpoints) != 2:
        count = len(spec.endpoints)
        ctx.add((*path, "endpoints"), f"a veth link needs exactly 2 endpoints (got {count})")
        return None
    ends = [_end(ctx, e, (*path, "endpoints", i)) for i, e in enumerate(spec.endpoints)]
    return _Draft("veth", ends, spec)


def _host(ctx: Context, raw: dict[str, Any], path: YPath) -> _Draft | None:
    spec = validate(ctx, HostLink, raw, path, known=keys_of(EndpointDef))
    if spec is None:
        return None
    end = _end(ctx, spec.endpoint, (*path, "endpoint"))
    return _Draft("host", [end], spec, spec.host_interface, (*path, "host-interface"))


def _end(ctx: Context, spec: EndpointDef, path: YPath) -> _End:
    end = _End(spec.node, spec.interface, path, (*path, "node"), (*path, "interface"))
    end.mac, end.mac_path = spec.mac, (*path, "mac")
    for family in (4, 6):
        value = getattr(spec, f"ipv{family}")
        end.addresses += _addresses(ctx, value, (*path, f"ipv{family}"), family)
    return end


def _addresses(
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


def _finish(
    ctx: Context, draft: _Draft, path: YPath, nodes: dict[str, Node], registry: _Registry
) -> Link:
    """Whole-lab checks of one link, and the :class:`Link` (only kept if all is well)."""
    ends = draft.ends
    host_if = draft.host_interface
    known = _check_ends(ctx, ends, nodes)
    if host_if is not None:
        _check_ifname(ctx, host_if, draft.host_path)

    twice = len(ends) == 2 and (ends[0].node, ends[0].interface) == (
        ends[1].node,
        ends[1].interface,
    )
    if twice:
        ctx.add(path, f"both ends of the link are {ends[0].node}:{ends[0].interface}")
        ends = ends[:1]  # so that the interface is not also reported as used twice
    elif known and all(nodes[e.node].kind in _HOST_NS_KINDS for e in ends):
        ctx.add(
            path,
            "a link needs at least one end in a node: "
            "every end of this one is in the host namespace",
        )

    for end in ends:
        node = nodes.get(end.node)
        if node is not None:
            in_host = node.kind in _HOST_NS_KINDS
            _register(ctx, registry, end.node, end.interface, end.iface_path, in_host)
        for address, apath in end.addresses:
            _register_address(ctx, registry, address, apath)
    if host_if is not None:
        _register(ctx, registry, "host", host_if, draft.host_path, True)

    spec = draft.spec
    mtu = DEFAULT_LINK_MTU if spec.mtu is None else spec.mtu
    low, high = MTU_RANGE
    if not low <= mtu <= high:
        ctx.add((*path, "mtu"), f"mtu must be between {low} and {high} (got {mtu})")
    return Link(
        type=draft.type,
        endpoints=tuple(_endpoint(e) for e in draft.ends),
        mtu=mtu,
        host_interface=host_if,
        labels=MappingProxyType(ctx.strings(spec.labels, (*path, "labels"))),
        where=format_path(path),
    )


def _check_ends(ctx: Context, ends: list[_End], nodes: dict[str, Node]) -> bool:
    """Per-end checks; False if an end names an unknown node."""
    known = True
    for end in ends:
        node = nodes.get(end.node)
        if node is None:
            known = False
            tip = "; for the host namespace use `host:<interface>`" if end.node == "host" else ""
            ctx.add(end.node_path, f"unknown node '{end.node}'{suggest(end.node, nodes)}{tip}")
            continue
        _check_ifname(ctx, end.interface, end.iface_path)
        if node.network_mode != "none":
            ctx.add(end.node_path, f"node '{end.node}' has network-mode {node.network_mode}: "
                    "it has no namespace of its own to link (not supported yet)")
        if node.kind == "bridge" and end.addresses:
            ctx.add(end.path, f"an endpoint on bridge '{end.node}' cannot have IP addresses")
        if end.mac is not None:
            try:
                end.mac = parse_mac(end.mac)
            except ValueError as exc:
                ctx.add(end.mac_path, str(exc))
    return known


def _endpoint(end: _End) -> Endpoint:
    v4 = tuple(a for a, _ in end.addresses if isinstance(a, IPv4Interface))
    v6 = tuple(a for a, _ in end.addresses if isinstance(a, IPv6Interface))
    return Endpoint(end.node, end.interface, end.mac, v4, v6)


def _check_ifname(ctx: Context, name: str, path: YPath) -> None:
    reason = ifname_error(name)
    if reason is None and name == "lo":
        reason = "'lo' is the loopback interface; it cannot be a link endpoint"
    if reason:
        ctx.add(path, reason)


def _register(
    ctx: Context, registry: _Registry, node: str, name: str, path: YPath, host: bool
) -> None:
    key = ("host", name) if host else ("node", node, name)
    seen = registry.interfaces.get(key)
    if seen is None:
        registry.interfaces[key] = (path, "")
        return
    where = ctx.at(seen[0]) + seen[1]
    if host:
        ctx.add(path, f"interface '{name}' is already used in the host namespace at {where}")
    else:
        ctx.add(path, f"interface '{name}' of node '{node}' is already used at {where}")


def _register_address(ctx: Context, registry: _Registry, address: Address, path: YPath) -> None:
    seen = registry.addresses.get(address.ip)
    if seen is None:
        registry.addresses[address.ip] = path
    else:
        ctx.add(path, f"address {address.ip} is already used at {ctx.at(seen)}")
