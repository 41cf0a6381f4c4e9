"""Links: the brief form (``endpoints: ["a:eth1", "b:eth1"]``, ``host:``/``macvlan:``/
``mgmt-net:`` ends) and the extended forms (``type: veth``, ``host``, ``vxlan``,
``vxlan-stitch``, ``macvlan``, ``mgmt-net``, ``host-device``, ``dummy``), normalised to
:class:`Link` and checked as a whole: references, interface names, MACs, addresses, and
what is used twice (per namespace; the host namespace is one per machine of ``hosts:``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from types import MappingProxyType
from typing import Any, Literal, cast

from netknit.topology._context import Context, show, suggest
from netknit.topology._hosts import MTU_RANGE, Hosts, Site, place_links
from netknit.topology._model import (
    DEFAULT_LINK_MTU,
    MACVLAN_MODES,
    VNI_MAX,
    VXLAN_DEFAULT_PORT,
    Endpoint,
    Link,
    LinkType,
    Node,
    Vxlan,
)
from netknit.topology._schema import (
    BriefLink,
    DummyLink,
    EndpointDef,
    HostDeviceLink,
    HostLink,
    MacvlanLink,
    MgmtNetLink,
    SingleEnded,
    VethLink,
    VxlanLink,
    keys_of,
    validate,
)
from netknit.topology._values import (
    IFNAME_MAX,
    Address,
    ifname_error,
    parse_address,
    parse_ip,
    parse_mac,
    parse_range,
)
from netknit.topology._yaml import YPath, format_path

__all__ = ["MTU_RANGE", "build_links"]

#: The extended forms with one endpoint (the node side), and their keys.
_SINGLE: dict[str, type[SingleEnded]] = {
    "host": HostLink,
    "vxlan": VxlanLink,
    "vxlan-stitch": VxlanLink,
    "macvlan": MacvlanLink,
    "mgmt-net": MgmtNetLink,
    "host-device": HostDeviceLink,
    "dummy": DummyLink,
}
_TYPES = ("veth", *_SINGLE)
#: Node names with a meaning in brief endpoints (``host:eth1``), as in containerlab.
_SPECIAL_NODES = ("host", "mgmt-net", "macvlan")
_HOST_NS_KINDS = ("bridge", "host")


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
    spec: BriefLink | VethLink | SingleEnded
    host_interface: str | None = None
    host_path: YPath = ()
    shared: bool = False  # host_interface is a parent many links may share (macvlan)
    mtu_default: int = DEFAULT_LINK_MTU  # 0: the kernel decides
    vxlan: Vxlan | None = None
    mode: str | None = None
    hwaddr: str | None = None
    hwaddr_path: YPath = ()


class _Registry:
    """What the lab uses so far: interfaces per namespace (the host namespace is keyed by
    machine), addresses, macvlan parents and host devices moved by MAC."""

    def __init__(self) -> None:
        self.interfaces: dict[tuple[str, ...], tuple[YPath, str]] = {}
        self.addresses: dict[IPv4Address | IPv6Address, YPath] = {}
        self.macs: dict[str, YPath] = {}  # MACs written on endpoints
        self.parents: dict[tuple[str, str], tuple[YPath, str]] = {}  # macvlan: path, mode
        self.hwaddrs: dict[tuple[str, str], YPath] = {}


def build_links(ctx: Context, raw: Any, nodes: dict[str, Node], *, lab: str = "",
                bridge: str = "", hosts: Hosts | None = None) -> list[Link]:
    """Every link of ``topology.links``, normalised; problems go to ``ctx``.

    ``bridge`` is the lab's management bridge (for ``mgmt-net`` links); ``lab`` names the
    lab in the identity of cross-host links (their VNI).
    """
    base: YPath = ("topology", "links")
    if raw is None:
        return []
    if not isinstance(raw, list):
        ctx.add(base, f"expected a list of links (got {show(raw)})")
        return []
    registry = _Registry()
    for name, node in nodes.items():
        if node.kind == "bridge":  # the bridge itself is an interface of the host
            registry.interfaces[("host", node.host or "", name)] = (
                ("topology", "nodes", name), " (the bridge)")
    sites = []
    for index, item in enumerate(raw):
        path = (*base, index)
        draft = _draft(ctx, item, path)
        if draft is not None:
            link = _finish(ctx, draft, path, nodes, registry, bridge)
            sites.append(Site(link, path, draft.spec.mtu is not None))
    return place_links(ctx, lab, hosts or Hosts(), nodes, sites)


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
    if kind in _SINGLE:
        return _single(ctx, kind, raw, path)
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
    for _, apath in host.addresses:
        if what == "host":
            ctx.add(apath, "not supported yet: an address on the host end; use a node of kind host")
        else:
            ctx.add(apath, f"the {what} end has no address netknit sets: write '' for it")
    if what == "macvlan":  # containerlab's brief macvlan: mode bridge
        return _Draft("macvlan", [end], spec, host.interface, host.path, shared=True,
                      mtu_default=0, mode="bridge")
    if what == "mgmt-net":
        return _Draft("mgmt-net", [end], spec, host.interface, host.path)
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


def _single(ctx: Context, kind: str, raw: dict[str, Any], path: YPath) -> _Draft | None:
    spec = validate(ctx, _SINGLE[kind], raw, path, known=keys_of(EndpointDef))
    if spec is None:
        return None
    end = _end(ctx, spec.endpoint, (*path, "endpoint"))
    draft = _Draft(cast(LinkType, kind), [end], spec)
    host_path: YPath = (*path, "host-interface")
    if isinstance(spec, HostLink | MgmtNetLink):
        draft.host_interface, draft.host_path = spec.host_interface, host_path
    elif isinstance(spec, VxlanLink):
        draft.vxlan, draft.mtu_default = _vxlan(ctx, spec, path), 0
    elif isinstance(spec, MacvlanLink):
        draft.host_interface, draft.host_path = spec.host_interface, host_path
        draft.shared, draft.mtu_default = True, 0
        draft.mode = _macvlan_mode(ctx, spec.mode, (*path, "mode"))
    elif isinstance(spec, HostDeviceLink):
        draft.mtu_default = 0  # keep the device's
        if (spec.host_interface is None) == (spec.hwaddr is None):
            ctx.add(path, "a host-device link needs exactly one of host-interface (the "
                    "device's name) or hwaddr (its MAC)" + (": remove one" if spec.hwaddr else ""))
        draft.host_interface, draft.host_path = spec.host_interface, host_path
        draft.hwaddr, draft.hwaddr_path = spec.hwaddr, (*path, "hwaddr")
    elif isinstance(spec, DummyLink):
        draft.mtu_default = 0
    return draft


def _vxlan(ctx: Context, spec: VxlanLink, path: YPath) -> Vxlan:
    """The tunnel of a ``vxlan``/``vxlan-stitch`` link (problems reported, values kept)."""
    remote = None
    try:
        remote = parse_ip(spec.remote, "the remote", multicast=True)
    except ValueError as exc:
        ctx.add((*path, "remote"), str(exc))
    if remote is not None and remote.is_multicast and spec.parent_interface is None:
        ctx.add((*path, "remote"), f"remote {remote} is a multicast group: set "
                "parent-interface, the underlay interface to join it on")
    if not 1 <= spec.vni <= VNI_MAX:
        ctx.add((*path, "vni"), f"vni must be between 1 and {VNI_MAX} (got {spec.vni})")
    ports = {}
    for key, value in (("udp-port", spec.udp_port), ("dst-port", spec.dst_port)):
        if value:  # 0 is containerlab's "unset"
            ports[key] = value
            if not 1 <= value <= 65535:
                ctx.add((*path, key), f"{key} must be a UDP port, 1 to 65535 (got {value})")
    if len(set(ports.values())) > 1:
        ctx.add((*path, "dst-port"), f"dst-port {spec.dst_port} contradicts udp-port "
                f"{spec.udp_port}: both set the destination port; write only one")
    src = None
    if spec.src_port is not None:
        try:
            src = parse_range(spec.src_port, 1, 65535, single=True)
        except ValueError as exc:
            ctx.add((*path, "src-port"), f"src-port: {exc}")
    if spec.parent_interface is not None:
        _check_ifname(ctx, spec.parent_interface, (*path, "parent-interface"))
    port = next(iter(ports.values()), VXLAN_DEFAULT_PORT)
    return Vxlan(spec.vni, remote, port, src, spec.parent_interface)


def _macvlan_mode(ctx: Context, written: str | None, path: YPath) -> str:
    if written is None or written.strip() == "":
        return "bridge"  # containerlab's default
    mode = written.strip().lower()
    if mode not in MACVLAN_MODES:
        ctx.add(path, f"macvlan mode '{written}' is not one of {', '.join(MACVLAN_MODES)}"
                f"{suggest(mode, MACVLAN_MODES)}")
    return mode


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


def _finish(ctx: Context, draft: _Draft, path: YPath, nodes: dict[str, Node],
            registry: _Registry, bridge: str) -> Link:
    """Whole-lab checks of one link, and the :class:`Link` (only kept if all is well)."""
    ends = draft.ends
    host_if = draft.host_interface
    known = _check_ends(ctx, ends, nodes)
    if host_if is not None:
        _check_ifname(ctx, host_if, draft.host_path)
    single = draft.type not in ("veth", "host")  # the node side of a device netknit makes
    machine = _machine(nodes, ends[0].node)  # where the host side of a single-ended link is

    twice = len(ends) == 2 and (ends[0].node, ends[0].interface) == (
        ends[1].node,
        ends[1].interface,
    )
    if twice:
        ctx.add(path, f"both ends of the link are {ends[0].node}:{ends[0].interface}")
        ends = ends[:1]  # so that the interface is not also reported as used twice
    elif single and known and nodes[ends[0].node].kind in _HOST_NS_KINDS:
        kind = nodes[ends[0].node].kind
        ctx.add(ends[0].node_path, f"node '{ends[0].node}' is of kind {kind}: it has no "
                f"namespace of its own for a {draft.type} link; put this end on a netns or "
                "linux node")
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
            _register(ctx, registry, end.node, end.interface, end.iface_path, in_host,
                      node.host)
        for address, apath in end.addresses:
            _used_once(ctx, registry.addresses, address.ip, apath, f"address {address.ip}")
        if node is not None and end.mac is not None:  # parsed by _check_ends
            # one MAC on two interfaces: frames meant for one reach the other, or neither
            _used_once(ctx, registry.macs, end.mac, end.mac_path, f"MAC address {end.mac}")
    if host_if is not None:
        if draft.shared:
            _register_parent(ctx, registry, machine, host_if, draft)
        else:
            _register(ctx, registry, "host", host_if, draft.host_path, True, machine)
    hwaddr = _hwaddr(ctx, registry, machine, draft)
    if draft.type == "vxlan-stitch":  # containerlab's host side: the veth ve-<node>_<if>
        host_if = _stitch_names(ctx, registry, machine, ends[0])

    spec = draft.spec
    mtu = draft.mtu_default if spec.mtu is None else spec.mtu
    low, high = MTU_RANGE
    if not (low <= mtu <= high or mtu == draft.mtu_default == 0):
        zero = " (or 0: the kernel decides)" if draft.mtu_default == 0 else ""
        ctx.add((*path, "mtu"), f"mtu must be between {low} and {high}{zero} (got {mtu})")
    return Link(
        type=draft.type,
        endpoints=tuple(_endpoint(e) for e in draft.ends),
        mtu=mtu,
        host_interface=host_if,
        labels=MappingProxyType(ctx.strings(spec.labels, (*path, "labels"))),
        where=format_path(path),
        vxlan=draft.vxlan,
        mode=draft.mode,
        hwaddr=hwaddr,
        bridge=bridge if draft.type == "mgmt-net" else None,
    )


def _machine(nodes: dict[str, Node], name: str) -> str:
    """The machine (``hosts:`` entry) a node runs on; "" in a lab on one machine."""
    node = nodes.get(name)
    return (node.host or "") if node is not None else ""


def _register_parent(
    ctx: Context, registry: _Registry, machine: str, parent: str, draft: _Draft
) -> None:
    """macvlan parents are shared, except in passthru mode (the kernel allows one then)."""
    mode = draft.mode or "bridge"
    seen = registry.parents.get((machine, parent))
    if seen is None:
        registry.parents[(machine, parent)] = (draft.host_path, mode)
    elif "passthru" in (mode, seen[1]):
        ctx.add(draft.host_path, f"host interface '{parent}' is already the parent of the "
                f"macvlan link at {ctx.at(seen[0])}; in passthru mode a parent takes one "
                "macvlan only: use another parent or another mode")


def _hwaddr(ctx: Context, registry: _Registry, machine: str, draft: _Draft) -> str | None:
    """A host-device's MAC, normalised; a device is moved by one link only."""
    if draft.hwaddr is None:
        return None
    try:
        mac = parse_mac(draft.hwaddr)
    except ValueError as exc:
        ctx.add(draft.hwaddr_path, str(exc))
        return draft.hwaddr
    seen = registry.hwaddrs.get((machine, mac))
    if seen is None:
        registry.hwaddrs[(machine, mac)] = draft.hwaddr_path
    else:
        ctx.add(draft.hwaddr_path, f"the host device with MAC {mac} is already moved by the "
                f"link at {ctx.at(seen)}")
    return mac


def _stitch_names(ctx: Context, registry: _Registry, machine: str, end: _End) -> str:
    """containerlab's host-side names of a stitched VXLAN: ``ve-<node>_<if>`` (the veth,
    returned) and ``vx-<node>_<if>`` (the VXLAN device)."""
    names = [f"{prefix}-{end.node}_{end.interface}" for prefix in ("ve", "vx")]
    size = len(names[0].encode("utf-8", "surrogatepass"))
    if size > IFNAME_MAX:
        ctx.add(end.path, f"vxlan-stitch names its host interfaces '{names[0]}' and "
                f"'{names[1]}' ({size} bytes; Linux allows at most {IFNAME_MAX}): shorten the "
                "node or interface name")
        return names[0]
    if any(ifname_error(name) for name in names):
        return names[0]  # the node or interface name is reported itself
    for name in names:
        _register(ctx, registry, "host", name, end.path, True, machine)
    return names[0]


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
                end.mac = None  # reported; not compared with the others
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
    ctx: Context, registry: _Registry, node: str, name: str, path: YPath, host: bool,
    machine: str | None = None,
) -> None:
    key = ("host", machine or "", name) if host else ("node", node, name)
    seen = registry.interfaces.get(key)
    if seen is None:
        registry.interfaces[key] = (path, "")
        return
    where = ctx.at(seen[0]) + seen[1]
    if host:
        of = f" of host {machine}" if machine else ""
        ctx.add(path, f"interface '{name}' is already used in the host namespace{of} at {where}")
    else:
        ctx.add(path, f"interface '{name}' of node '{node}' is already used at {where}")


def _used_once(ctx: Context, table: dict[Any, YPath], key: Any, path: YPath, what: str) -> None:
    """Record that ``path`` uses ``key`` (an address, a MAC); a second use is a problem."""
    seen = table.setdefault(key, path)
    if seen is not path:
        ctx.add(path, f"{what} is already used at {ctx.at(seen)}")
