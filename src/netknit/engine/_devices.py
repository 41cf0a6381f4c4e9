"""Steps for links that are not veth pairs: devices born in place (VXLAN, macvlan,
dummy), host devices moved into nodes, tc stitches. Free functions given the executor.

Every effect is journaled before it is made, like the veth steps: a device in a node's
namespace goes with the namespace; one in the host is deleted by destroy; a moved host
device is moved home (name, MAC, MTU, up-state) before its namespace is removed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address

from .. import links as link_types
from .._errors import KernelError, NetknitError, StateError
from ..kernel import (
    Device,
    DeviceState,
    LinkInfo,
    MoveResult,
    Namespace,
    Netlink,
    VxlanParams,
    addresses,
    links,
    move_and_rename,
    move_back,
    set_link_request,
    stitch,
)
from ..kernel import create_devices as kernel_create_devices
from ..kernel import netns as kernel_netns
from ..plan import CreateDevice, MoveDevice, Plan, Stitch
from ..state import Effect, EffectKind
from ..topology import Topology
from ._executor import Executor

# -- checks before the first side effect ----------------------------------------------


def link_preflight(plan: Plan, host: Netlink, host_links: dict[str, LinkInfo]) -> list[str]:
    """What each link type checks on this machine (parents, moved devices, tunnel
    addresses), before the first side effect."""
    from ..links._base import Facts  # the link types' schemas: not on destroy's path

    facts = Facts(host_links, lambda: {str(ip) for ip in local_addresses(host)}, plan.host)
    return [problem for action in plan.actions.values()
            for problem in link_types.preflight(action, facts)]


# -- devices born in place ----------------------------------------------------------


def create_devices(executor: Executor, actions: Sequence[CreateDevice]) -> None:
    effects = [Effect(EffectKind.LINK, a.iface.name, a.iface.netns, {"device": a.kind})
               for a in actions]
    executor.intend(effects)
    executor.report.step("devices", len(actions))
    host_links = {lk.name: lk.index for lk in links(executor.host)}
    devices = [_device(executor, a, host_links) for a in actions]
    errors = kernel_create_devices(executor.host, devices)
    for action, err in zip(actions, errors, strict=True):
        if err is not None:
            raise KernelError(f"create {action.kind} {action.iface.node}:"
                              f"{action.iface.name} ({action.where})", err.errno,
                              detail=_kernel_words(err), hint=link_types.hint(action, err))
    executor.report.advance(len(actions))
    executor.done(effects)


def _device(executor: Executor, action: CreateDevice, host_links: dict[str, int]) -> Device:
    iface = action.iface
    in_host = iface.netns is None
    ns_fd = None if in_host else executor.namespaces[str(iface.netns)].fd
    vxlan = None
    if action.vxlan is not None:
        tunnel = action.vxlan
        vxlan = VxlanParams(vni=tunnel.vni, remote=tunnel.remote, local=tunnel.local,
                            dst_port=tunnel.dst_port, src_ports=tunnel.src_ports,
                            parent_index=host_links[tunnel.parent] if tunnel.parent else None)
    return Device(
        kind=action.kind, name=iface.name, ns_fd=ns_fd, mac=iface.mac or None,
        mtu=iface.mtu or None, index=0 if in_host else executor.pin(iface.netns, iface.name),
        master=executor.bridge_index.get(iface.master) if iface.master else None,
        # a host-side device comes up in the creating request; one in a node comes up
        # with its namespace's configuration, like a veth end
        up=in_host, vxlan=vxlan,
        parent=host_links[action.parent] if action.parent else None,
        macvlan_mode=action.mode, alias=executor.mark,
    )


# -- host devices moved into nodes --------------------------------------------------


def move_devices(executor: Executor, actions: Sequence[MoveDevice]) -> None:
    host_links = {lk.name: lk for lk in links(executor.host)}
    for action in actions:
        iface = action.iface
        found = action.found_in(host_links)
        if found is None:
            raise StateError(f"{action.wanted} is not in the host namespace any more "
                             f"({action.where})")
        target = executor.namespaces[str(iface.netns)]
        # the original state goes into the intent: destroy after a crash finds the
        # device by its new name (or old one) and knows what to restore
        effect = Effect(EffectKind.HOSTDEV, iface.name, iface.netns, {
            "original": found.name, "mac": found.mac, "mtu": found.mtu, "up": found.up,
            "kind": found.kind, "index": found.index, "target_inode": target.inode})
        executor.intend([effect])
        moved = move_and_rename(executor.host, found.name, target, iface.name)
        effect.info["strategy"] = moved.strategy
        mac = iface.mac if iface.mac and iface.mac != moved.mac else None
        mtu = iface.mtu if iface.mtu and iface.mtu != moved.mtu else None
        if mac or mtu:
            target.nl.request(set_link_request(moved.index, mac=mac, mtu=mtu,
                                               what=f"set {iface.name} in {target.name}"))
        executor.done([effect])


# -- stitches -------------------------------------------------------------------------


def stitch_links(executor: Executor, actions: Sequence[Stitch]) -> None:
    now = {lk.name: lk.index for lk in links(executor.host)}
    for action in actions:
        used = stitch(executor.host, now[action.a], now[action.b])
        executor.report.note(f"stitched {action.a} <-> {action.b} with tc {used}")


def local_addresses(nl: Netlink) -> set[IPv4Address | IPv6Address]:
    """Every address configured in ``nl``'s namespace."""
    return {a.ip for found in addresses(nl).values() for a in found}


def which_host(topo: Topology) -> str:
    """This machine's host in a lab that spans ``hosts:``: the one whose underlay address
    is configured here. Raises NetknitError when none or several are."""
    with Netlink.here() as nl:
        local = local_addresses(nl)
    mine = [h.name for h in topo.hosts.values() if h.address in local]
    if len(mine) == 1:
        return mine[0]
    listed = ", ".join(f"{h.name} ({h.address})" for h in topo.hosts.values())
    why = "none of their addresses" if not mine else f"several ({', '.join(mine)})"
    raise NetknitError(f"lab {topo.name!r} spans hosts {listed}; {why} is configured here",
                       hint="say which one this machine is: --host NAME")


def move_home(host: Netlink, effect: Effect) -> bool:
    """Bring a moved host device home: its original MAC and MTU, then its original name
    and up-state in the host. Idempotent; False when it was home already or is gone (a
    virtual device dies with its namespace)."""
    info = effect.info
    target: Namespace | None = None
    if effect.ns and kernel_netns.inode_of(effect.ns) == info.get("target_inode"):
        target = kernel_netns.open_existing(effect.ns)
    try:
        for nl in ([target.nl] if target else []) + [host]:
            found = next((lk for lk in links(nl) if lk.name in (effect.name, info["original"])
                          and lk.kind == info["kind"]), None)
            if found is not None:  # MAC first: the mover knows the device by it
                mac = info["mac"] if info["mac"] and found.mac != info["mac"] else None
                mtu = info["mtu"] if found.mtu != info["mtu"] else None
                if mac or mtu:
                    nl.request(set_link_request(found.index, mac=mac, mtu=mtu,
                                                what=f"restore {found.name}"))
                break
        home_inode = os.stat("/proc/thread-self/ns/net").st_ino  # where ``host`` was opened
        original = DeviceState(name=info["original"], index=int(info["index"]),
                               kind=info["kind"], mac=info["mac"], mtu=int(info["mtu"]),
                               up=bool(info["up"]), netns=host.label, netns_inode=home_inode)
        moved = MoveResult(original=original, target=effect.ns or "",
                           target_inode=int(info.get("target_inode") or 0), name=effect.name,
                           index=0, mac=info["mac"], mtu=int(info["mtu"]), up=True,
                           strategy=info.get("strategy", "via-temp-ns"))
        gone = Namespace(effect.ns or "", -1, 0)  # closed: only home is searched
        return move_back(host, target or gone, moved)
    finally:
        if target is not None:
            target.close()


def _kernel_words(err: KernelError) -> str:
    """The kernel's own explanation in ``err`` (its extack text), without the operation."""
    prefix = f"{err.operation}: {os.strerror(err.errno) if err.errno else 'failed'}"
    rest = err.message[len(prefix):].strip() if err.message.startswith(prefix) else ""
    return rest[1:-1] if rest.startswith("(") and rest.endswith(")") else rest


__all__ = ["create_devices", "move_devices", "move_home",
           "stitch_links", "which_host"]
