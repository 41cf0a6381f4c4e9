"""Top-level ``hosts:`` (netknit's own: a lab that spans machines) and what it means for
links: which node runs where, the VXLAN tunnel of a link whose ends are on different
hosts (its VNI and MTU), and the VNIs of the links that write their own tunnel.

Auto VNIs are stable across redeploys of the same file: each cross-host link prefers a
VNI derived from its identity (lab name and endpoints), and only moves on (to the next
free VNI of its hosts' common range) when that one is taken.
"""

from __future__ import annotations

from dataclasses import field, replace
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from netknit._dataclass import dataclass
from netknit._digest import sha256
from netknit.topology._context import Context, show, suggest
from netknit.topology._model import (
    DEFAULT_UNDERLAY_MTU,
    VNI_MAX,
    VXLAN_DEFAULT_PORT,
    VXLAN_OVERHEAD,
    Host,
    Link,
    Node,
    Vxlan,
)
from netknit.topology._schema import HostDef, validate
from netknit.topology._values import NAME_RE, parse_ip, parse_range
from netknit.topology._yaml import YPath, format_path

#: IPv4's minimum MTU .. the kernel's maximum.
MTU_RANGE = (68, 65535)


@dataclass(slots=True)
class Hosts:
    """``hosts:`` as read: the valid hosts, every name written, and whether a map is there."""

    hosts: dict[str, Host] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    written: bool = False  # a ``hosts:`` key is in the file
    readable: bool = True  # it is a mapping (else node ``host:`` values are not checked)


@dataclass(slots=True)
class Site:
    """A link as built, where it is written, and whether the file gives its ``mtu``."""

    link: Link
    path: YPath
    mtu_written: bool
    spans_hosts: bool = False  # its type joins ends on different hosts with a tunnel


def build_hosts(ctx: Context, raw: Any) -> Hosts:
    out = Hosts(written=raw is not None)
    if raw is None:
        return out
    if not isinstance(raw, dict):
        ctx.add(("hosts",), f"expected a mapping of host names to their settings (got {show(raw)})")
        out.readable = False
        return out
    owners: dict[IPv4Address | IPv6Address, tuple[str, YPath]] = {}
    for name, value in raw.items():
        path: YPath = ("hosts", name)
        out.names.append(name)
        if not NAME_RE.match(name):
            ctx.add(path, f"host name '{name}' may only contain letters, digits, '-', '_' and '.'")
        if not isinstance(value, dict):
            ctx.add(path, f"expected a mapping with the host's address (got {show(value)})")
            continue
        spec = validate(ctx, HostDef, value, path)
        if spec is None:
            continue
        apath: YPath = (*path, "address")
        try:
            address = parse_ip(spec.address, f"host {name}")
        except ValueError as exc:
            ctx.add(apath, str(exc))
            continue
        vni_range = (1, VNI_MAX)
        if spec.vni_range is not None:
            try:
                vni_range = parse_range(spec.vni_range, 1, VNI_MAX, single=False)
            except ValueError as exc:
                ctx.add((*path, "vni-range"), f"vni-range: {exc}")
        mtu = DEFAULT_UNDERLAY_MTU if spec.mtu is None else spec.mtu
        low, high = MTU_RANGE
        if not low <= mtu <= high:
            ctx.add((*path, "mtu"), f"mtu must be between {low} and {high} (got {mtu})")
        seen = owners.get(address)
        if seen is not None:
            ctx.add(apath, f"address {address} is also the address of host '{seen[0]}' at "
                    f"{ctx.at(seen[1])}: each host needs its own underlay address")
            continue
        owners[address] = (name, apath)
        out.hosts[name] = Host(name, address, vni_range, mtu, format_path(path))
    return out


def check_node_host(
    ctx: Context, hosts: Hosts, node: str, host: str | None, host_path: YPath, node_path: YPath
) -> None:
    """A node's ``host:`` (merged from node, kind, defaults) against ``hosts:``."""
    if host is None:
        if hosts.names:
            first = hosts.names[0]
            ctx.add(node_path, f"node '{node}' has no host, but this lab spans hosts "
                    f"({', '.join(hosts.names)}): set `host:` on the node, or "
                    f"`defaults: {{host: {first}}}`")
        return
    if not hosts.written:
        ctx.add(host_path, f"host '{host}' is not defined: add a top-level hosts: map")
    elif hosts.readable and host not in hosts.names:
        known = ", ".join(hosts.names) or "none"
        ctx.add(host_path, f"unknown host '{host}'{suggest(host, hosts.names)}; the hosts of "
                f"this lab (top-level hosts:) are: {known}")


def place_links(ctx: Context, lab: str, hosts: Hosts, nodes: dict[str, Node],
                sites: list[Site]) -> list[Link]:
    """Check the VNIs of links that write their tunnel, and give each link whose ends are
    on different hosts its tunnel (auto VNI) and MTU."""
    taken = _explicit_vnis(ctx, hosts, nodes, sites)
    links = [site.link for site in sites]
    wanted: list[tuple[str, int, int, int, int, str]] = []  # identity, index, lo, hi, mtu, pair
    for index, site in enumerate(sites):
        pair = _hosts_of(hosts, nodes, site)
        if pair is None:
            continue
        first, second = pair
        checked = _cross_host(ctx, site, first, second)
        if checked is None:
            continue
        mtu, (low, high) = checked
        ends = "\0".join(sorted(str(e) for e in site.link.endpoints))
        wanted.append((f"{lab}\0{ends}", index, low, high, mtu, f"{first.name}/{second.name}"))
    used = set(taken)
    for identity, index, low, high, mtu, names in sorted(wanted):
        vni = _allocate(identity, low, high, used)
        site = sites[index]
        if vni is None:
            ctx.add(site.path, f"no free VNI for this cross-host link: the vni-range {low}-{high} "
                    f"shared by hosts {names} is used up by other links; widen the hosts' "
                    "vni-range")
            continue
        used.add(vni)
        links[index] = replace(site.link, mtu=mtu, vxlan=Vxlan(vni=vni, remote=None,
                                                              dst_port=VXLAN_DEFAULT_PORT))
    return links


def vni_for(identity: str, low: int, high: int) -> int:
    """The VNI a cross-host link prefers: stable for the same lab and endpoints."""
    digest = sha256(identity.encode("utf-8", "surrogatepass")).digest()
    return low + int.from_bytes(digest[:8], "big") % (high - low + 1)


def _allocate(identity: str, low: int, high: int, used: set[int]) -> int | None:
    """The preferred VNI, or the next free one after it (wrapping inside the range)."""
    size = high - low + 1
    start = vni_for(identity, low, high) - low
    for step in range(size):  # ends at most len(used) + 1 steps in
        candidate = low + (start + step) % size
        if candidate not in used:
            return candidate
    return None


def _explicit_vnis(ctx: Context, hosts: Hosts, nodes: dict[str, Node],
                   sites: list[Site]) -> set[int]:
    """The VNIs of links that write their tunnel, on the default port (auto VNIs avoid
    them anywhere in the lab); collisions on one host and remotes that are the node's own
    host are problems."""
    taken: set[int] = set()
    devices: dict[tuple[str | None, int, int, int], YPath] = {}
    for site in sites:
        link, vxlan = site.link, site.link.vxlan
        if vxlan is None or not link.endpoints:  # cross-host tunnels come later
            continue
        node = nodes.get(link.endpoints[0].node)
        machine = node.host if node is not None else None
        own = hosts.hosts.get(machine) if machine is not None else None
        if own is not None and vxlan.remote == own.address:
            ctx.add((*site.path, "remote"), f"remote {vxlan.remote} is host {own.name}'s own "
                    "address; a VXLAN link needs the other end's address")
        if vxlan.dst_port == VXLAN_DEFAULT_PORT:
            taken.add(vxlan.vni)
        # The kernel refuses a second VXLAN device with the same VNI, port and family.
        family = vxlan.remote.version if vxlan.remote is not None else 0
        key = (machine, vxlan.vni, vxlan.dst_port, family)
        seen = devices.get(key)
        if seen is None:
            devices[key] = site.path
            continue
        on = f" on host {machine}" if machine is not None else ""
        ctx.add((*site.path, "vni"), f"vni {vxlan.vni} with UDP port {vxlan.dst_port} is already "
                f"used{on} by the link at {ctx.at(seen)}; the kernel refuses a second VXLAN "
                "device with the same VNI and port: change vni or udp-port")
    return taken


def _hosts_of(hosts: Hosts, nodes: dict[str, Node], site: Site) -> tuple[Host, Host] | None:
    """The two hosts of a link whose ends run on different machines."""
    link = site.link
    if not site.spans_hosts or len(link.endpoints) != 2:
        return None
    names = [nodes[e.node].host if e.node in nodes else None for e in link.endpoints]
    if names[0] is None or names[1] is None or names[0] == names[1]:
        return None
    first, second = hosts.hosts.get(names[0]), hosts.hosts.get(names[1])
    if first is None or second is None:
        return None  # reported with the node (or the host entry)
    return first, second


def _cross_host(ctx: Context, site: Site, first: Host, second: Host
                ) -> tuple[int, tuple[int, int]] | None:
    """The MTU and VNI range of a cross-host link, or None (problems reported)."""
    pair = f"{first.name}/{second.name}"
    family = first.address.version
    if second.address.version != family:
        ctx.add(site.path, f"this link joins hosts {first.name} (IPv{family}) and {second.name} "
                f"(IPv{second.address.version}); a VXLAN underlay needs one address family: "
                "give both hosts addresses of the same family")
        return None
    overhead = VXLAN_OVERHEAD[family]
    underlay = min(first.mtu, second.mtu)
    shown = str(underlay) if first.mtu == second.mtu else f"{first.mtu}/{second.mtu}"
    ok = True
    if site.mtu_written:
        mtu = site.link.mtu
        if mtu + overhead > underlay:
            ctx.add((*site.path, "mtu"), f"mtu {mtu} cannot be carried over the underlay: hosts "
                    f"{pair} have MTU {shown}, VXLAN needs {overhead} bytes: at most "
                    f"{underlay - overhead}")
            ok = False
    else:
        mtu = underlay - overhead
        if mtu < MTU_RANGE[0]:
            ctx.add(site.path, f"hosts {pair} have MTU {shown}: too small for VXLAN ({overhead} "
                    f"bytes) and a link MTU of at least {MTU_RANGE[0]}; raise the hosts' mtu")
            ok = False
    low = max(first.vni_range[0], second.vni_range[0])
    high = min(first.vni_range[1], second.vni_range[1])
    if low > high:
        ctx.add(site.path, f"hosts {first.name} (vni-range {_range(first)}) and {second.name} "
                f"(vni-range {_range(second)}) have no VNI in common for this link: make their "
                "vni-range overlap")
        return None
    return (mtu, (low, high)) if ok else None


def _range(host: Host) -> str:
    return f"{host.vni_range[0]}-{host.vni_range[1]}"
