"""Top-level ``mgmt:``: containerlab's management network, a Docker bridge network.

As containerlab (core/clab.go initMgmtNetwork, runtime/docker CreateNet): every lab with
Docker nodes has one, by default the network ``clab`` (172.20.20.0/24 and
3fff:172:20:20::/64) that labs share. Docker nodes without ``network-mode`` join it as
``eth0``; ``network-mode`` (``none`` too), netns nodes and ``--runtime netns`` stay off it.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from types import MappingProxyType
from typing import Any

from netknit import kinds
from netknit._digest import sha256
from netknit.topology._context import Context, show
from netknit.topology._model import AUTO_BRIDGE, Mgmt, Node, joins_mgmt
from netknit.topology._schema import MgmtDef, validate
from netknit.topology._values import ifname_error

#: containerlab's ``mgmt`` keys that netknit keeps in the model but does not apply: each
#: written one is a warning. (``external-access: true`` warns on its own: see below.)
NOT_HONOURED: tuple[str, ...] = ()

#: containerlab's defaults (core/config.go): one network that labs share.
DEFAULT_NETWORK = "clab"
DEFAULT_IPV4_SUBNET = IPv4Network("172.20.20.0/24")
DEFAULT_IPV6_SUBNET = IPv6Network("3fff:172:20:20::/64")

_EXTERNAL_ACCESS = ("containerlab adds DOCKER-USER firewall rules for it; netknit never "
                    "changes the host's firewall: the network is made without them (add "
                    "such rules yourself if you need them)")


def build_mgmt(ctx: Context, raw: Any, nodes: dict[str, Node]) -> Mgmt | None:
    """The management network, or None: no Docker node (or ``--runtime netns``), or
    ``skip-when-unused`` and no node joins it."""
    if ctx.runtime == "netns":
        return None
    spec = MgmtDef()
    if raw not in (None, {}, ""):  # checked even when unused: a typo deserves a word
        if not isinstance(raw, dict):
            ctx.add(("mgmt",), f"expected a mapping (got {show(raw)})")
            return None
        spec = validate(ctx, MgmtDef, raw, ("mgmt",)) or MgmtDef()
        spec = _deprecated(ctx, spec)
        for key in NOT_HONOURED:
            if raw.get(key) not in (None, "", {}):
                ctx.notices.append(f"{ctx.at(('mgmt', key))}: not honoured by netknit yet; "
                                   "ignored")
        if spec.external_access:
            ctx.notices.append(f"{ctx.at(('mgmt', 'external-access'))}: {_EXTERNAL_ACCESS}")
    docker = [n for n in nodes.values() if kinds.get(n.kind).container]
    joining = [n for n in docker if joins_mgmt(n)]
    # containerlab skips the network only when every node has ``network-mode: none``
    unused = all(n.network_mode == "none" and n.network_mode_written for n in docker)
    if not docker or (spec.skip_when_unused and unused):
        return None
    v4: IPv4Network | IPv6Network | None = None
    v6: IPv4Network | IPv6Network | None = None
    if not spec.ipv4_subnet and not spec.ipv6_subnet:
        v4, v6 = DEFAULT_IPV4_SUBNET, DEFAULT_IPV6_SUBNET
    else:  # "auto": Docker picks an IPv4 pool; an IPv6 one is a ULA (containerlab's too)
        if spec.ipv4_subnet != "auto":
            v4 = _subnet(ctx, spec.ipv4_subnet, "ipv4-subnet", 4)
        v6 = _ula(spec.network or DEFAULT_NETWORK) if spec.ipv6_subnet == "auto" else \
            _subnet(ctx, spec.ipv6_subnet, "ipv6-subnet", 6)
    assert v4 is None or isinstance(v4, IPv4Network)
    assert v6 is None or isinstance(v6, IPv6Network)
    for node in joining:
        for address, net, key in ((node.mgmt_ipv4, v4, "mgmt-ipv4"),
                                  (node.mgmt_ipv6, v6, "mgmt-ipv6")):
            if address is None:
                continue
            if net is None and not (key == "mgmt-ipv4" and spec.ipv4_subnet == "auto"):
                ctx.add(("topology", "nodes", node.name, key),
                        f"{address}: the management network has no {key[-4:]} subnet; "
                        f"set mgmt: {key[-4:]}-subnet")
            elif net is not None and address not in net:
                ctx.add(("topology", "nodes", node.name, key),
                        f"{address} is not in the management subnet {net}")
    bridge = spec.bridge if spec.bridge and ifname_error(spec.bridge) is None else ""
    gw4 = _gateway(ctx, spec.ipv4_gw, "ipv4-gw", 4)
    gw6 = _gateway(ctx, spec.ipv6_gw, "ipv6-gw", 6)
    range4 = _subnet(ctx, spec.ipv4_range, "ipv4-range", 4)
    range6 = _subnet(ctx, spec.ipv6_range, "ipv6-range", 6)
    assert gw4 is None or isinstance(gw4, IPv4Address)
    assert gw6 is None or isinstance(gw6, IPv6Address)
    assert range4 is None or isinstance(range4, IPv4Network)
    assert range6 is None or isinstance(range6, IPv6Network)
    return Mgmt(spec.network or DEFAULT_NETWORK, v4, v6, spec.mtu or 0, bridge,
                ipv4_gw=gw4, ipv6_gw=gw6, ipv4_range=range4, ipv6_range=range6,
                external_access=spec.external_access,
                skip_when_unused=bool(spec.skip_when_unused),
                driver_opts=MappingProxyType(dict(spec.driver_opts or {})))


def _ula(network: str) -> IPv6Network:
    """``ipv6-subnet: auto``: a /64 of a unique local /48 (containerlab draws it at
    random; netknit derives it from the network name, so that a redeploy keeps it)."""
    digest = sha256(network.encode("utf-8", "surrogatepass")).digest()
    prefix = (0xFD << 40) | int.from_bytes(digest[:5], "big")
    return IPv6Network((prefix << 80, 64))


def _deprecated(ctx: Context, spec: MgmtDef) -> MgmtDef:
    """``ipv4_subnet``/``ipv6_subnet``: containerlab's old spellings (types/types.go
    MgmtNet.UnmarshalYAML), used when the new one is not written, with a warning."""
    updates: dict[str, str] = {}
    for old, new in (("ipv4_subnet", "ipv4-subnet"), ("ipv6_subnet", "ipv6-subnet")):
        value = getattr(spec, f"old_{old}")
        if value:
            ctx.notices.append(f"{ctx.at(('mgmt', old))}: '{old}' is deprecated; write "
                               f"'{new}'")
            if not getattr(spec, old):
                updates[old] = value
    return spec.model_copy(update=updates) if updates else spec


def _gateway(ctx: Context, text: str | None, key: str, family: int
             ) -> IPv4Address | IPv6Address | None:
    if not text:
        return None
    try:
        address = ip_address(text)
    except ValueError:
        ctx.add(("mgmt", key), f"'{text}' is not an IPv{family} address")
        return None
    if address.version != family:
        ctx.add(("mgmt", key), f"'{text}' is an IPv{address.version} address")
        return None
    return address


def _subnet(ctx: Context, text: str | None, key: str, family: int
            ) -> IPv4Network | IPv6Network | None:
    if not text:
        return None
    try:
        net = ip_network(text, strict=True)
    except ValueError:
        ctx.add(("mgmt", key), f"'{text}' is not an IPv{family} subnet (e.g. "
                f"{DEFAULT_IPV4_SUBNET if family == 4 else DEFAULT_IPV6_SUBNET})")
        return None
    if net.version != family:
        ctx.add(("mgmt", key), f"'{text}' is an IPv{net.version} subnet")
        return None
    return net


def mgmt_bridge(ctx: Context, raw: Any, lab: str, mgmt: Mgmt | None) -> str:
    """The management bridge's name (``mgmt: {bridge: ...}``), which ``mgmt-net`` links
    join. Without it: with a Docker network, the one Docker names (resolved at deploy:
    :data:`AUTO_BRIDGE`); without one, ``br-`` and 12 hex digits derived from the lab."""
    value = raw.get("bridge") if isinstance(raw, dict) else None
    if isinstance(value, str) and value != "":
        reason = ifname_error(value)
        if reason is None:
            return value
        ctx.add(("mgmt", "bridge"), f"the management bridge's name is an interface name: {reason}")
    elif value not in (None, ""):
        ctx.add(("mgmt", "bridge"), f"expected a string (got {show(value)})")
    return AUTO_BRIDGE if mgmt is not None else _default_bridge(lab)


def _default_bridge(lab: str) -> str:
    return "br-" + sha256(lab.encode("utf-8", "surrogatepass")).hexdigest()[:12]
