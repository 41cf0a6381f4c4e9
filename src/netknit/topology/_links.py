"""Links: the brief form (``endpoints: ["a:eth1", "b:eth1"]``, and the ends that mean a
type, such as ``host:eth1``) and the extended forms (``type: <name>``), read by their
link type (:mod:`netknit.links`) and checked here as a whole: references, interface names,
MACs, addresses, and what is used twice (per namespace; the host namespace is one per
machine of ``hosts:``).
"""

from __future__ import annotations

from functools import cache
from ipaddress import IPv4Interface, IPv6Interface
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from netknit import kinds
from netknit._impair import Impairment
from netknit.links import registry
from netknit.topology._context import Context, show, suggest
from netknit.topology._drafts import (
    Draft,
    End,
    Lab,
    Used,
    addresses,
    check_ifname,
    impairment_of,
    register,
    vars_of,
)
from netknit.topology._hosts import MTU_RANGE, Hosts, Site, place_links
from netknit.topology._model import Endpoint, Link, Node, joins_mgmt
from netknit.topology._schema import BriefLink, validate
from netknit.topology._values import parse_mac
from netknit.topology._yaml import YPath, format_path

if TYPE_CHECKING:
    from netknit.links._base import LinkType

__all__ = ["MTU_RANGE", "build_links"]



def build_links(ctx: Context, raw: Any, nodes: dict[str, Node], *, lab: str = "",
                bridge: str = "", hosts: Hosts | None = None) -> list[Link]:
    """Every link of ``topology.links``, normalised; problems go to ``ctx``.

    ``bridge`` is the lab's management bridge (for links that join it); ``lab`` names the
    lab in the identity of cross-host links (their VNI).
    """
    base: YPath = ("topology", "links")
    if raw is None:
        return []
    if not isinstance(raw, list):
        ctx.add(base, f"expected a list of links (got {show(raw)})")
        return []
    used = Used()
    for name, node in nodes.items():
        if kinds.get(node.kind).ports:  # the bridge itself is an interface of the host
            used.interfaces[("host", node.host or "", name)] = (
                ("topology", "nodes", name), " (the bridge)")
    types = registry()
    sites = []
    here = Lab(lab, nodes, used, bridge, "")
    for index, item in enumerate(raw):
        path = (*base, index)
        draft = _draft(ctx, item, path)
        if draft is not None:
            here.machine = _machine(nodes, draft.ends[0].node)
            link = _finish(ctx, draft, path, here)
            sites.append(Site(link, path, draft.spec.mtu is not None,
                              types[draft.type].spans_hosts))
    return place_links(ctx, lab, hosts or Hosts(), nodes, sites)


def _draft(ctx: Context, raw: Any, path: YPath) -> Draft | None:
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
    types = registry()
    if kind in types:
        return types[kind].parse(ctx, raw, path)
    ctx.add((*path, "type"), f"unknown link type '{written}'{suggest(kind, types)}")
    return None


def _brief(ctx: Context, raw: dict[str, Any], path: YPath) -> Draft | None:
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
        ends.append(End(node, interface, epath, epath, epath))
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
            ends[index].addresses += addresses(ctx, value, (*fpath, index), family)

    pair, special_nodes = _brief_types()
    special = [e for e in ends if e.node.strip().lower() in special_nodes]
    if len(special) == 2:
        ctx.add((*path, "endpoints"), "a link needs at least one end in a node")
        return None
    if not special:
        return Draft(pair.name, ends, spec)
    host, end = special[0], next(e for e in ends if e is not special[0])
    kind = special_nodes[host.node.strip().lower()]
    return kind.brief(ctx, host, end, Draft(kind.name, [end], spec, mtu_default=kind.mtu_default))


@cache
def _brief_types() -> tuple[LinkType, dict[str, LinkType]]:
    """The type of a brief link between two nodes, and the types named by a node name
    with a meaning in brief endpoints (``host:eth1``), as in containerlab."""
    types = registry().values()
    pair = next(t for t in types if t.brief_pair)
    return pair, {t.brief_node: t for t in types if t.brief_node}


def _finish(ctx: Context, draft: Draft, path: YPath, lab: Lab) -> Link:
    """Whole-lab checks of one link, and the :class:`Link` (only kept if all is well)."""
    kind = registry()[draft.type]
    nodes, ends = lab.nodes, draft.ends
    host_if = draft.host_interface
    known = _check_ends(ctx, ends, nodes)
    if host_if is not None:
        check_ifname(ctx, host_if, draft.host_path)

    twice = len(ends) == 2 and (ends[0].node, ends[0].interface) == (
        ends[1].node,
        ends[1].interface,
    )
    in_host = [e for e in ends if known and not kinds.get(nodes[e.node].kind).own_namespace]
    if twice:
        ctx.add(path, f"both ends of the link are {ends[0].node}:{ends[0].interface}")
        ends = ends[:1]  # so that the interface is not also reported as used twice
    elif kind.own_namespace and in_host:
        for end in in_host:
            ctx.add(end.node_path, f"node '{end.node}' is of kind {nodes[end.node].kind}: it has "
                    f"no namespace of its own for a {draft.type} link; put this end on a netns "
                    "or linux node")
    elif known and len(in_host) == len(ends):
        ctx.add(
            path,
            "a link needs at least one end in a node: "
            "every end of this one is in the host namespace",
        )

    for end in ends:
        node = nodes.get(end.node)
        if node is not None:
            register(ctx, lab.used, end.node, end.interface, end.iface_path,
                     not kinds.get(node.kind).own_namespace, node.host)
        for address, apath in end.addresses:
            _used_once(ctx, lab.used.addresses, address.ip, apath, f"address {address.ip}")
        if node is not None and end.mac is not None:  # parsed by _check_ends
            # one MAC on two interfaces: frames meant for one reach the other, or neither
            _used_once(ctx, lab.used.macs, end.mac, end.mac_path, f"MAC address {end.mac}")
    if host_if is not None and kind.owns_host_interface:
        register(ctx, lab.used, "host", host_if, draft.host_path, True, lab.machine)
    kind.check(ctx, draft, lab)

    spec = draft.spec
    mtu = draft.mtu_default if spec.mtu is None else spec.mtu
    low, high = MTU_RANGE
    if not (low <= mtu <= high or mtu == draft.mtu_default == 0):
        zero = " (or 0: the kernel decides)" if draft.mtu_default == 0 else ""
        ctx.add((*path, "mtu"), f"mtu must be between {low} and {high}{zero} (got {mtu})")
    impaired = impairment_of(ctx, spec.impairment, (*path, "impairment"))
    return Link(
        type=draft.type,
        endpoints=tuple(_endpoint(e, impaired) for e in draft.ends),
        mtu=mtu,
        host_interface=draft.host_interface,
        labels=MappingProxyType(ctx.strings(spec.labels, (*path, "labels"))),
        vars=vars_of(ctx, spec.vars, (*path, "vars")),
        where=format_path(path),
        vxlan=draft.vxlan,
        mode=draft.mode,
        hwaddr=draft.hwaddr,
        bridge=draft.bridge,
        stitch_device=draft.stitch_device,
    )


def _machine(nodes: dict[str, Node], name: str) -> str:
    """The machine (``hosts:`` entry) a node runs on; "" in a lab on one machine."""
    node = nodes.get(name)
    return (node.host or "") if node is not None else ""


def _check_ends(ctx: Context, ends: list[End], nodes: dict[str, Node]) -> bool:
    """Per-end checks; False if an end names an unknown node."""
    known = True
    for end in ends:
        node = nodes.get(end.node)
        if node is None:
            known = False
            tip = "; for the host namespace use `host:<interface>`" if end.node == "host" else ""
            ctx.add(end.node_path, f"unknown node '{end.node}'{suggest(end.node, nodes)}{tip}")
            continue
        check_ifname(ctx, end.interface, end.iface_path)
        if node.network_mode != "none":
            ctx.add(end.node_path, f"node '{end.node}' has network-mode {node.network_mode}: "
                    "it has no namespace of its own to link (not supported yet)")
        elif end.interface == "eth0" and joins_mgmt(node) and ctx.runtime != "netns":
            # containerlab's linux CheckInterfaceName: eth0 is the management interface
            ctx.add(end.iface_path, f"eth0 interface name is not allowed for {end.node} "
                    "node when network mode is not set to none: eth0 is its management "
                    "interface; use another name, or set `network-mode: none` on it")
        if kinds.get(node.kind).ports and end.addresses:
            ctx.add(end.path, f"an endpoint on bridge '{end.node}' cannot have IP addresses")
        if end.mac is not None:
            try:
                end.mac = parse_mac(end.mac)
            except ValueError as exc:
                ctx.add(end.mac_path, str(exc))
                end.mac = None  # reported; not compared with the others
    return known


def _endpoint(end: End, impaired: Impairment | None) -> Endpoint:
    """The end as the model holds it; ``impaired``: its link's impairment (the end's own,
    if written, wins)."""
    v4 = tuple(a for a, _ in end.addresses if isinstance(a, IPv4Interface))
    v6 = tuple(a for a, _ in end.addresses if isinstance(a, IPv6Interface))
    return Endpoint(end.node, end.interface, end.mac, v4, v6, end.vars,
                    end.impairment or impaired)


def _used_once(ctx: Context, table: dict[Any, YPath], key: Any, path: YPath, what: str) -> None:
    """Record that ``path`` uses ``key`` (an address, a MAC); a second use is a problem."""
    seen = table.setdefault(key, path)
    if seen is not path:
        ctx.add(path, f"{what} is already used at {ctx.at(seen)}")
