"""``tools veth create`` and ``tools vxlan create``: links added to a deployed lab by hand,
as containerlab's tools add them, made the way deploy makes links.

Each is made by the deploy's own steps under the lab's lock: a veth pair born with both
ends in place under their final names, carrying the lab's mark (so ``destroy`` removes
them, after a crash too); a VXLAN device in the host, stitched with tc to a host
interface of the lab. The journal records them, tagged ``tool``.

They are not in the topology file, which stays the one desired state: ``reconcile`` and
``watch`` neither remove them (a link the user added is theirs to keep) nor recreate
them when they are lost with a node's namespace, and ``deploy`` of a changed file keeps
them. A link that must survive restarts belongs in the file.
"""

from __future__ import annotations

from ipaddress import ip_address

from .. import kinds
from .._dataclass import dataclass
from .._errors import NetknitError, UsageError
from ..kernel import LinkInfo, links, links_with_alias
from ..plan import Configure, CreateDevice, CreateVeth, Iface, Stitch, VxlanSpec, derive_mac
from ..state import Effect, EffectKind, LabDir
from ..topology import Topology
from ..topology._model import DEFAULT_LINK_MTU, VXLAN_DEFAULT_PORT, VXLAN_OVERHEAD
from ._devices import local_addresses
from ._executor import Executor, desired_state
from ._parking import held_nodes
from ._reconcile import open_lab
from ._steps import run_wave

#: longest interface name the kernel takes
IFNAMSIZ = 15
#: containerlab's default VNI of `tools vxlan create`
DEFAULT_VNI = 10
#: a VXLAN device's MTU with no parent to derive it from: what fits a 1500 underlay
UNDERLAY_MTU = 1500


@dataclass(frozen=True, slots=True)
class End:
    """One end as given: ``node:if``, ``host:if`` or ``bridge:NAME:if``."""

    node: str  # a lab node, "host", or the bridge's name
    interface: str
    bridge: bool = False

    @property
    def text(self) -> str:
        return f"{self.node}:{self.interface}"


def parse_end(text: str, flag: str) -> End:
    """containerlab's endpoint syntax: ``<node>:<if>``, ``host:<if>``, or
    ``bridge:<bridge>:<if>``."""
    parts = text.strip().split(":")
    if len(parts) == 3 and parts[0] in ("bridge", "ovs-bridge"):
        if parts[0] == "ovs-bridge":
            raise UsageError(f"{flag} {text}: Open vSwitch bridges are not supported",
                             hint="use a Linux bridge: bridge:<name>:<interface>")
        end = End(parts[1], parts[2], bridge=True)
    elif len(parts) == 2:
        end = End(parts[0], parts[1])
    else:
        raise UsageError(f"{flag} {text}: malformed veth endpoint reference",
                         hint="write <node>:<interface>, host:<interface> or "
                         "bridge:<bridge>:<interface>")
    if not end.node or not _ifname_ok(end.interface):
        raise UsageError(f"{flag} {text}: {end.interface!r} is not an interface name "
                         f"(1 to {IFNAMSIZ} characters, no '/', ':' or blanks)")
    return end


def _ifname_ok(name: str) -> bool:
    return 0 < len(name.encode()) <= IFNAMSIZ and name not in (".", "..") and \
        not any(c in name for c in "/: \t\n")


@dataclass
class ToolResult:
    """What one ``tools`` command did, for its table or JSON."""

    lab: str
    what: str  # "veth a:eth9 <-> b:eth9", ...
    details: dict[str, str]


def veth_create(topo: Topology, lab_dir: LabDir, a: str, b: str, *,
                mtu: int = DEFAULT_LINK_MTU) -> ToolResult:
    """A veth pair between ``a`` and ``b`` (containerlab's endpoint syntax), both ends
    born in place, up, carrying the lab's mark; journaled into the lab."""
    ends = (parse_end(a, "-a"), parse_end(b, "-b"))
    if ends[0].text == ends[1].text:
        raise UsageError(f"both ends are {ends[0].text}", hint="give two different ends")
    if not 68 <= mtu <= 65535:
        raise UsageError(f"--mtu {mtu}: an MTU is between 68 and 65535")
    with open_lab(topo, lab_dir, "tools veth create") as (executor, state):
        held = held_nodes(state.markers)
        ifaces = [_iface(executor, end, other, mtu, held)
                  for end, other in ((ends[0], ends[1]), (ends[1], ends[0]))]
        # the host end first: it is made up (and enslaved) by the creating request
        main, peer = sorted(ifaces, key=lambda i: i.netns is not None)
        veth = CreateVeth(main, peer, where=f"tools veth create {a} {b}", link_type="veth")
        run_wave(executor, [veth])
        run_wave(executor, [Configure(i.netns, (i,)) for i in (main, peer)
                            if i.netns is not None])
        _tag(executor, main, "veth")
    return ToolResult(topo.name, f"veth {ends[0].text} <-> {ends[1].text}",
                      {"mtu": str(mtu)})


def _iface(executor: Executor, end: End, other: End, mtu: int,
           held: frozenset[str]) -> Iface:
    """The interface ``end`` will be, checked: its node is running and has no interface
    of that name; a bridge exists."""
    topo = executor.topo
    peer = other.text
    kind = kinds.get(topo.nodes[end.node].kind) if end.node in topo.nodes else None
    if end.bridge or end.node == "host" or (kind is not None and not kind.own_namespace):
        bridge = end.node if end.bridge or (kind is not None and kind.ports) else None
        host = {lk.name: lk for lk in links(executor.host)}
        if bridge is not None:
            found = host.get(bridge)
            if found is None or found.kind != "bridge":
                raise UsageError(f"there is no bridge {bridge!r} in the host namespace",
                                 hint="`ip -br link show type bridge` lists them")
            executor.bridge_index[bridge] = found.index
        _free(host, end)
        node = bridge or "host"
        return Iface(node, None, end.interface, derive_mac(topo.name, node, end.interface),
                     mtu, peer=peer, master=bridge)
    if end.node not in topo.nodes:
        raise UsageError(f"node {end.node!r} is not in lab {topo.name!r}",
                         hint=f"nodes: {', '.join(topo.nodes)}; `host:<if>` for the "
                         "host, `bridge:<bridge>:<if>` for a bridge port")
    if end.node in held:
        raise UsageError(f"node {end.node!r} is stopped",
                         hint=f"start it first: `netknit start -n {end.node}`")
    recorded = desired_state(executor.plan, executor.runtimes).nodes[end.node]
    netns = str(recorded.netns)
    if netns not in executor.namespaces:
        runtime = executor.runtimes[recorded.runtime]
        runtime.observe(recorded)  # tells the runtime which of its objects holds the node
        ns = runtime.open(recorded)
        if ns is None:
            raise NetknitError(f"node {end.node!r} is not running",
                               hint="`netknit reconcile` brings it back")
        executor.adopt(ns, made=False)
    _free({lk.name: lk for lk in links(executor.netlink(netns))}, end)
    return Iface(end.node, netns, end.interface, derive_mac(topo.name, end.node,
                                                            end.interface), mtu, peer=peer)


def _free(present: dict[str, LinkInfo], end: End) -> None:
    if end.interface in present:
        where = "the host" if end.node == "host" or end.bridge else f"node {end.node!r}"
        raise UsageError(f"{where} already has an interface {end.interface}",
                         hint="choose another interface name")


def _tag(executor: Executor, made: Iface, tool: str) -> None:
    """Say in the journal that this link was added by hand: `deploy` of a changed file
    keeps it (its record is the one the step wrote, under the same key)."""
    executor.done([Effect(EffectKind.LINK, made.name, made.netns, {"tool": tool})])


def vxlan_create(topo: Topology, lab_dir: LabDir, *, remote: str, link: str,
                 vni: int = DEFAULT_VNI, dev: str | None = None, mtu: int = 0,
                 dst_port: int = VXLAN_DEFAULT_PORT, src_port: int = 0) -> ToolResult:
    """containerlab's ``tools vxlan create``: a VXLAN device ``vx-<link>`` in the host,
    stitched with tc both ways to ``link``, a host interface of the lab (a host end of
    one of its links: one made by ``tools veth create -b host:<if>``, say)."""
    try:
        address = ip_address(remote)
    except ValueError:
        raise UsageError(f"--remote {remote!r} is not an IP address") from None
    if not 1 <= vni <= (1 << 24) - 1:
        raise UsageError(f"--id {vni}: a VNI is between 1 and {(1 << 24) - 1}")
    for flag, port in (("--dst-port", dst_port), ("--src-port", src_port)):
        if not 0 <= port <= 65535 or (flag == "--dst-port" and port == 0):
            raise UsageError(f"{flag} {port} is not a UDP port")
    name = f"vx-{link}"
    if len(name.encode()) > IFNAMSIZ:
        raise UsageError(f"{name} (vx-<link>) is longer than {IFNAMSIZ} characters",
                         hint="give the lab's host interface a shorter name")
    with open_lab(topo, lab_dir, "tools vxlan create") as (executor, _state):
        host = {item.link.name: item for item in links_with_alias(executor.host)}
        found = host.get(link)
        if found is None or found.alias != executor.mark:
            raise UsageError(
                f"{link!r} is not a host interface of lab {topo.name!r}" if found else
                f"there is no interface {link!r} in the host namespace",
                hint="netknit stitches only its own interfaces (destroy removes them "
                f"with the stitch); make one: `netknit tools veth create -a <node>:<if> "
                f"-b host:{link}`")
        if name in host:
            raise UsageError(f"the host already has an interface {name}",
                             hint="one VXLAN device per link")
        if dev is not None and dev not in host:
            raise UsageError(f"--dev {dev}: there is no such interface in the host")
        if address in local_addresses(executor.host):
            raise UsageError(f"--remote {remote} is an address of this host: it must be "
                             "the other end's")
        if not mtu and dev is None:  # no parent to derive it from
            mtu = UNDERLAY_MTU - VXLAN_OVERHEAD[address.version]
        tunnel = VxlanSpec(vni, str(address), None, dst_port,
                           (src_port, src_port) if src_port else None, dev)
        iface = Iface("host", None, name, derive_mac(topo.name, "host", name), mtu,
                      peer=f"vxlan {address} vni {vni}")
        where = f"tools vxlan create --link {link}"
        run_wave(executor, [CreateDevice(iface, "vxlan", vxlan=tunnel, where=where,
                                         link_type="vxlan")])
        _tag(executor, iface, "vxlan")
        run_wave(executor, [Stitch(name, link, where=where, link_type="vxlan-stitch")])
    return ToolResult(topo.name, f"vxlan {name} <-> {link}",
                      {"remote": str(address), "vni": str(vni), "dst-port": str(dst_port),
                       "mtu": str(mtu) if mtu else "the parent's"})

