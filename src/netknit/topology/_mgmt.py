"""Top-level ``mgmt:``: containerlab's management network, a Docker bridge network.

netknit's lab nodes have ``network-mode: none`` by default (only their lab links), so the
network exists only when asked for: a ``mgmt:`` section, or a node with ``mgmt-ipv4`` /
``mgmt-ipv6``. Then every Docker node with a namespace of its own joins it as ``eth0``.
"""

from __future__ import annotations

from hashlib import sha256
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from types import MappingProxyType
from typing import Any

from netknit import kinds
from netknit.topology._context import Context, show
from netknit.topology._model import Mgmt, Node
from netknit.topology._schema import MgmtDef, validate
from netknit.topology._values import ifname_error

#: containerlab's ``mgmt`` keys that netknit keeps in the model but does not apply yet:
#: each written one is a warning.
NOT_HONOURED = ("ipv4-gw", "ipv6-gw", "ipv4-range", "ipv6-range", "external-access",
                "skip-when-unused", "driver-opts")

#: containerlab's defaults (its ``mgmt`` section), except that the network is per lab.
DEFAULT_IPV4_SUBNET = IPv4Network("172.20.20.0/24")
DEFAULT_IPV6_SUBNET = IPv6Network("3fff:172:20:20::/64")


def build_mgmt(ctx: Context, raw: Any, lab: str, nodes: dict[str, Node]) -> Mgmt | None:
    """The management network, or None when no Docker node uses one."""
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
    docker = [n for n in nodes.values()
              if kinds.get(n.kind).container and n.network_mode == "none"]
    wanted = raw not in (None, {}, "") or any(n.mgmt_ipv4 or n.mgmt_ipv6 for n in docker)
    if not docker or not wanted:
        return None
    v4 = _subnet(ctx, spec.ipv4_subnet, "ipv4-subnet", 4) or DEFAULT_IPV4_SUBNET
    v6 = _subnet(ctx, spec.ipv6_subnet, "ipv6-subnet", 6)
    if v6 is None and any(n.mgmt_ipv6 for n in docker):
        v6 = DEFAULT_IPV6_SUBNET
    assert v4 is None or isinstance(v4, IPv4Network)
    assert v6 is None or isinstance(v6, IPv6Network)
    for node in docker:
        for address, net, key in ((node.mgmt_ipv4, v4, "mgmt-ipv4"),
                                  (node.mgmt_ipv6, v6, "mgmt-ipv6")):
            if address is not None and net is not None and address not in net:
                ctx.add(("topology", "nodes", node.name, key),
                        f"{address} is not in the management subnet {net}")
    bridge = spec.bridge if spec.bridge and ifname_error(spec.bridge) is None else \
        _default_bridge(lab)  # a bad name is reported by mgmt_bridge()
    gw4 = _gateway(ctx, spec.ipv4_gw, "ipv4-gw", 4)
    gw6 = _gateway(ctx, spec.ipv6_gw, "ipv6-gw", 6)
    range4 = _subnet(ctx, spec.ipv4_range, "ipv4-range", 4)
    range6 = _subnet(ctx, spec.ipv6_range, "ipv6-range", 6)
    assert gw4 is None or isinstance(gw4, IPv4Address)
    assert gw6 is None or isinstance(gw6, IPv6Address)
    assert range4 is None or isinstance(range4, IPv4Network)
    assert range6 is None or isinstance(range6, IPv6Network)
    return Mgmt(spec.network or f"clab-{lab}", v4, v6, spec.mtu or 0, bridge,
                ipv4_gw=gw4, ipv6_gw=gw6, ipv4_range=range4, ipv6_range=range6,
                external_access=spec.external_access,
                skip_when_unused=bool(spec.skip_when_unused),
                driver_opts=MappingProxyType(dict(spec.driver_opts or {})))


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


def mgmt_bridge(ctx: Context, raw: Any, lab: str) -> str:
    """The management bridge's name (``mgmt: {bridge: ...}``), which ``mgmt-net`` links
    join, in either runtime; by default ``br-`` and 12 hex digits derived from the lab."""
    value = raw.get("bridge") if isinstance(raw, dict) else None
    if isinstance(value, str) and value != "":
        reason = ifname_error(value)
        if reason is None:
            return value
        ctx.add(("mgmt", "bridge"), f"the management bridge's name is an interface name: {reason}")
    elif value not in (None, ""):
        ctx.add(("mgmt", "bridge"), f"expected a string (got {show(value)})")
    return _default_bridge(lab)


def _default_bridge(lab: str) -> str:
    return "br-" + sha256(lab.encode("utf-8", "surrogatepass")).hexdigest()[:12]
