"""``vxlan``: a VXLAN device in the node, its tunnel socket in the host (underlay)
namespace; containerlab's keys plus ``dst-port``/``src-port``.

Also the tunnel every type that makes a VXLAN device shares (:class:`Tunnelled`): its
spec, its plan row details, its checks before deploy and its kernel error hint.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import Any, ClassVar

from netknit._errors import KernelError
from netknit.plan._actions import CreateDevice, PlannedAction, Planning, VxlanSpec
from netknit.plan._iface import Iface
from netknit.topology._context import Context
from netknit.topology._drafts import Draft, check_ifname
from netknit.topology._model import (
    DEFAULT_UNDERLAY_MTU,
    VNI_MAX,
    VXLAN_DEFAULT_PORT,
    VXLAN_OVERHEAD,
    Link,
    Vxlan,
)
from netknit.topology._schema import Field, SingleEnded
from netknit.topology._values import parse_ip, parse_range
from netknit.topology._yaml import YPath

from ._base import Facts, LinkType, SingleEndedType, Step, parent_missing, steps, with_mtu


class VxlanDef(SingleEnded):
    """``vxlan`` and ``vxlan-stitch`` (containerlab's keys, plus ``dst-port``/``src-port``)."""

    remote: str
    vni: int
    udp_port: int | None = Field(default=None, alias="udp-port")
    dst_port: int | None = Field(default=None, alias="dst-port")
    src_port: Any = Field(default=None, alias="src-port")  # checked in read_tunnel
    parent_interface: str | None = Field(default=None, alias="parent-interface")


def read_tunnel(ctx: Context, spec: VxlanDef, path: YPath) -> Vxlan:
    """The tunnel of a written VXLAN link (problems reported, values kept)."""
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
        check_ifname(ctx, spec.parent_interface, (*path, "parent-interface"))
    port = next(iter(ports.values()), VXLAN_DEFAULT_PORT)
    return Vxlan(spec.vni, remote, port, src, spec.parent_interface)


def tunnel_spec(vxlan: Vxlan, remote: IPv4Address | IPv6Address,
                local: IPv4Address | IPv6Address | None) -> VxlanSpec:
    return VxlanSpec(vxlan.vni, str(remote), str(local) if local else None, vxlan.dst_port,
                     vxlan.src_ports, vxlan.parent)


def tunnel_device(iface: Iface, tunnel: VxlanSpec, link: Link) -> list[Step]:
    """``iface`` made as a VXLAN device with ``tunnel``."""
    return steps(CreateDevice(iface, "vxlan", vxlan=tunnel, where=link.where,
                              link_type=link.type))


def written_tunnel(link: Link, site: Planning) -> tuple[Vxlan, VxlanSpec, int]:
    """A written link's tunnel, its spec and the MTU its frames fit in over an underlay
    of the default MTU."""
    assert link.vxlan is not None and link.vxlan.remote is not None
    node = site.topo.nodes[link.endpoints[0].node]
    local = site.topo.hosts[node.host].address if node.host else None
    fits = DEFAULT_UNDERLAY_MTU - VXLAN_OVERHEAD[link.vxlan.remote.version]
    return link.vxlan, tunnel_spec(link.vxlan, link.vxlan.remote, local), fits


def remote_words(vxlan: Vxlan) -> str:
    return f"vxlan {vxlan.remote} vni {vxlan.vni}"


class Tunnelled(LinkType):
    """A type whose actions include VXLAN devices."""

    def device_details(self, action: CreateDevice) -> list[str]:
        t = action.vxlan
        if t is None:
            return []
        return [f"vni {t.vni}", f"remote {t.remote}", *([f"local {t.local}"] if t.local else []),
                f"port {t.dst_port}"]

    def preflight(self, action: PlannedAction, facts: Facts) -> list[str]:
        """The underlay parent must exist; the remote must not be here, the local must."""
        if not isinstance(action, CreateDevice) or action.vxlan is None:
            return []
        tunnel = action.vxlan
        problems = parent_missing(tunnel.parent, facts, action)
        local = facts.local()
        if tunnel.remote in local:
            problems.append(f"VXLAN remote {tunnel.remote} is an address of this "
                            f"host ({action.where}): it must be the other end's")
        if tunnel.local and tunnel.local not in local:
            problems.append(f"{tunnel.local} (host {facts.host}'s address in hosts:) is not "
                            f"configured on this machine: is this really host {facts.host}? "
                            f"({action.where})")
        return problems

    def hint(self, action: PlannedAction, err: KernelError) -> str | None:
        if err.errno == 17 and isinstance(action, CreateDevice) and action.vxlan is not None:
            return (f"another VXLAN device on this host already uses VNI {action.vxlan.vni} on "
                    f"port {action.vxlan.dst_port}: give this link another vni")
        return None


class VxlanType(Tunnelled, SingleEndedType):
    name: ClassVar[str] = "vxlan"
    schema: ClassVar[type[SingleEnded]] = VxlanDef

    def read(self, ctx: Context, spec: SingleEnded, draft: Draft, path: YPath) -> None:
        assert isinstance(spec, VxlanDef)
        draft.vxlan = read_tunnel(ctx, spec, path)

    def plan(self, link: Link, site: Planning) -> list[Step]:
        vxlan, tunnel, fits = written_tunnel(link, site)
        iface = site.iface(link.endpoints[0], link, remote_words(vxlan))
        if not link.mtu and not vxlan.parent:
            # no parent to derive it from: the kernel would say 1500 and large frames
            # would not fit the underlay; assume a 1500 underlay, as for a stitch
            iface = with_mtu(iface, fits)
        return tunnel_device(iface, tunnel, link)


TYPE = VxlanType()
