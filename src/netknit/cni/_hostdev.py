"""``type: netknit-host-device``: a host interface moved into the container and back.

The device leaves the host under its own name and appears in the container only as
CNI_IFNAME (the kernel layer's move: on this kernel ADD is one move while the container's
lo lends the old name as an altname). On DEL the host, too, sees it only under its own
name. The container, which is letting it go, sees it set down and renamed to that name
before it leaves, so that one plain move brings it home (the host's lo is not the
plugin's to lend); when that name is taken in the container, it goes through a private
temporary namespace instead (two moves). Its original name and up-state are written on
the device itself, in its alias, so DEL can bring it home without any local state; a
small file under /run only remembers which namespace it went to, for runtimes that call
DEL without CNI_NETNS (ctr does, after the task exited).

Every call is a process: the ADD/DEL path imports no dataclasses, typing, ipaddress,
json or contextlib (IPAM and CHECK import what they need when they run), asks the kernel
for the interfaces it needs by name instead of dumping them all, and leaves the
interpreter with ``os._exit`` (:func:`._plugin.launch`).
"""

from __future__ import annotations

import errno
import os
import sys

from .._errors import KernelError, MoveError
from .._ifname import ifname_error
from ..kernel._lookup import (
    TC_H_INGRESS,
    TC_H_ROOT,
    AliasedLink,
    del_qdisc_request,
    link_by_index,
    link_with_alias,
    links_with_alias,
    names_by_pci,
    qdiscs,
    route_request,
    set_alias_request,
    set_mac_request,
)
from ..kernel._move import DeviceState, MoveResult, move_and_rename, move_back
from ..kernel._msg import set_link_request
from ..kernel._nl import Netlink
from ..kernel._ns import Namespace
from . import _spec
from ._codec import dumps, loads
from ._spec import CniError, Env

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from ..kernel._msg import LinkInfo

MARK = "netknit-cni"


def state_dir() -> str:
    """Where calls keep state (read per call: a resident process serves many callers)."""
    return os.environ.get("NETKNIT_CNI_STATE_DIR", "/run/netknit/cni")


def log(text: str) -> None:
    print(f"netknit-cni: {text}", file=sys.stderr)


class Note:
    """What the alias of a moved device says: where it came from (name, up-state, MAC:
    a chained ``tuning`` may change it, and cannot put it back when DEL comes without
    CNI_NETNS) and for whom."""

    __slots__ = ("container_id", "ifname", "mac", "name", "up")

    def __init__(self, name: str, up: bool, ifname: str, container_id: str,
                 mac: str = "") -> None:
        self.name = name
        self.up = up
        self.ifname = ifname
        self.container_id = container_id
        self.mac = mac

    def render(self) -> str:
        text = (f"{MARK} {self.name} {'up' if self.up else 'down'} {self.ifname} "
                f"{self.mac or '-'} {self.container_id}")
        return text[:127]  # IFALIASZ; a long container id is compared by prefix

    @classmethod
    def parse(cls, alias: str) -> Note | None:
        parts = alias.split(" ")
        if len(parts) == 5:  # written before the MAC was noted
            parts.insert(4, "-")
        if len(parts) != 6 or parts[0] != MARK or parts[2] not in ("up", "down"):
            return None
        return cls(parts[1], parts[2] == "up", parts[3], parts[5],
                   "" if parts[4] == "-" else parts[4])

    def owned_by(self, env: Env) -> bool:
        return self.ifname == env.ifname and env.container_id.startswith(self.container_id)


# -- namespaces, strategy, state ---------------------------------------------------------


def open_netns(path: str, *, required: bool) -> Namespace | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        if required:
            raise CniError(_spec.UNKNOWN_CONTAINER, f"cannot open CNI_NETNS {path}",
                           os.strerror(exc.errno or 0)) from None
        return None
    ns = Namespace(name=path, fd=fd, inode=os.fstat(fd).st_ino)
    try:
        ns.nl  # noqa: B018 - setns proves it is a network namespace
    except KernelError:
        ns.close()
        if required:
            raise CniError(_spec.UNKNOWN_CONTAINER,
                           f"CNI_NETNS {path} is not a network namespace") from None
        return None
    return ns


def _bind_mounts_of(target: str, mountinfo: str, root: str) -> list[str]:
    """Where the namespace ``target`` ("net:[inode]") is bind-mounted, as paths seen
    from ``root``, according to a /proc/<pid>/mountinfo."""
    try:
        with open(mountinfo) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        fields = line.split(" ")
        # mount ID, parent ID, major:minor, root, mount point, ...; nsfs roots name
        # the namespace, mount points escape spaces as \040
        if len(fields) > 4 and fields[3] == target:
            point = fields[4].replace("\\040", " ").replace("\\134", "\\")
            out.append(root.rstrip("/") + point)
    return out


def _holders(target: str) -> Iterator[str]:
    """Paths that may hold the namespace ``target``, cheapest first (found early, the
    rest is never listed): this mount namespace's bind mounts, every process's
    namespace and fds, then the bind mounts of the other mount namespaces."""
    yield from _bind_mounts_of(target, "/proc/self/mountinfo", "/")
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    for pid in pids:
        yield f"/proc/{pid}/ns/net"
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        yield from (f"/proc/{pid}/fd/{fd}" for fd in fds)
    seen = set()
    try:  # noqa: SIM105 - no contextlib on the plugin's path (import cost)
        seen.add(os.readlink("/proc/self/ns/mnt"))
    except OSError:
        pass
    for pid in pids:
        try:
            mnt = os.readlink(f"/proc/{pid}/ns/mnt")
        except OSError:
            continue
        if mnt not in seen:
            seen.add(mnt)
            yield from _bind_mounts_of(target, f"/proc/{pid}/mountinfo", f"/proc/{pid}/root")


def find_netns_by_inode(inode: int) -> Namespace | None:
    """A namespace someone still holds, by inode: a bind mount (``ip netns``, a runtime's
    pinned namespace), a process in it, or an open fd."""
    target = f"net:[{inode}]"
    for path in _holders(target):
        try:
            if os.path.islink(path) and os.readlink(path) != target:
                continue
            if os.stat(path).st_ino != inode:
                continue
        except OSError:
            continue
        ns = open_netns(path, required=False)
        if ns is not None and ns.inode == inode:
            return ns
    return None


def strategy() -> str:
    """The kernel layer's probe answer, cached per boot (the probe makes namespaces)."""
    from ..kernel._move import probe_move_strategy

    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:
        boot = ""
    cache = os.path.join(state_dir(), "move-strategy")
    try:
        with open(cache) as f:
            seen_boot, answer = f.read().split()
        if seen_boot == boot and answer in ("atomic", "altname", "via-temp-ns"):
            return answer
    except (OSError, ValueError):
        pass
    answer = probe_move_strategy()
    write_small(cache, f"{boot} {answer}\n")
    return answer


def write_small(path: str, text: str) -> None:
    """Atomic replace for the plugin's small files (no fsync: they live on tmpfs)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _state_dir(conf: dict[str, Any]) -> str:
    """One directory per network: GC is told the valid attachments of *its* network
    and must never judge another network's."""
    name = str(conf["name"]).replace("/", "_")
    return os.path.join(state_dir(), "host-device", "_" + name if name in (".", "..") else name)


def _state_paths(env: Env, conf: dict[str, Any]) -> tuple[str, str]:
    """This attachment's state file, and where versions before per-network directories
    kept it (still read and removed, for pods added before an upgrade)."""
    file = f"{env.container_id}:{env.ifname}.json"
    return (os.path.join(_state_dir(conf), file),
            os.path.join(state_dir(), "host-device", file))


def _remove_state(env: Env, conf: dict[str, Any]) -> None:
    for path in _state_paths(env, conf):
        try:  # noqa: SIM105 - no contextlib on the plugin's path (import cost)
            os.unlink(path)
        except (FileNotFoundError, IsADirectoryError):
            pass
    try:  # noqa: SIM105 - the network's directory goes with its last attachment
        os.rmdir(_state_dir(conf))
    except OSError:
        pass


# -- selecting the device --------------------------------------------------------------


def _selector(conf: dict[str, Any]) -> tuple[str, str]:
    """How the config selects the device: (key, value). ``runtimeConfig.deviceID`` (the
    ``deviceID`` capability: a device plugin's PCI address) stands for ``pciBusID`` and
    overrides it, as in the reference plugin."""
    if conf.get("kernelpath"):
        raise CniError(_spec.UNSUPPORTED_FIELD,
                       f"kernelpath is not supported (given: {conf['kernelpath']!r})",
                       "select the device by device, hwaddr or pciBusID")
    runtime = conf.get("runtimeConfig")
    device_id = runtime.get("deviceID") if isinstance(runtime, dict) else None
    chosen = {**conf, "pciBusID": device_id} if device_id else conf
    given = [(key, chosen[key]) for key in ("device", "hwaddr", "pciBusID") if chosen.get(key)]
    if len(given) != 1:
        raise CniError(_spec.INVALID_CONFIG,
                       "give exactly one of device, hwaddr, pciBusID",
                       f"given: {', '.join(k for k, _ in given) or 'none'}"
                       + (" (runtimeConfig.deviceID counts as pciBusID)" if device_id else ""))
    key, value = given[0]
    if not isinstance(value, str):
        raise CniError(_spec.INVALID_CONFIG, f"{key} must be a string")
    return key, value.lower() if key == "hwaddr" else value


def _named(nl: Netlink, name: str) -> AliasedLink | None:
    """The interface ``name`` (one RTM_GETLINK by name), None if there is none or the
    name is not one the kernel would accept."""
    if ifname_error(name, kernel_only=True):
        return None
    return link_with_alias(nl, name)


def _select(host: Netlink, conf: dict[str, Any]) -> LinkInfo:
    key, value = _selector(conf)
    if key == "device":
        item = _named(host, value)
        found = [item.link] if item is not None else []
    elif key == "hwaddr":
        found = [i.link for i in links_with_alias(host) if i.link.mac == value]
    else:
        found = [i.link for i in (_named(host, n) for n in names_by_pci(value)) if i is not None]
    if len(found) != 1:
        raise CniError(_spec.DEVICE_NOT_FOUND,
                       f"no single host interface with {key} {value}",
                       f"found {len(found)} in the host namespace")
    return found[0]


# -- ADD -------------------------------------------------------------------------------


def _apply_ipam(ns: Namespace, index: int, ifname: str, result: dict[str, Any]) -> None:
    first = []
    if result.get("ips") or result.get("routes"):
        from ipaddress import ip_address, ip_interface, ip_network

        from ..kernel._link import address_request
    gateways: dict[int, Any] = {}  # family → the first address's gateway, as the reference
    for ip in result.get("ips", []):
        addr = ip_interface(ip["address"])
        first.append(address_request(index, addr, f"add {addr} to {ifname}"))
        if ip.get("gateway"):
            gateways.setdefault(addr.version, ip_address(ip["gateway"]))
    first.append(set_link_request(index, up=True, what=f"set {ifname} up"))
    for err in ns.nl.batch(first):
        if err is not None and err.errno != errno.EEXIST:
            raise err
    routes = []
    for route in result.get("routes", []):
        dst = ip_network(route["dst"], strict=False)
        # a route without "gw" goes via the gateway of the interface's address of its
        # family (pkg/ipam ConfigureIface), on-link only when there is none
        gw = ip_address(route["gw"]) if route.get("gw") else gateways.get(dst.version)
        routes.append(route_request(index, dst, gw, f"add route {dst} via {gw or 'link'} "
                                    f"on {ifname}"))
    for err in ns.nl.batch(routes) if routes else ():
        if err is not None and err.errno != errno.EEXIST:
            raise err


def _ipam_type(conf: dict[str, Any]) -> str:
    """The IPAM plugin's type, "" without IPAM."""
    ipam = conf.get("ipam")
    if not ipam:
        return ""
    kind = ipam.get("type") if isinstance(ipam, dict) else None
    if not isinstance(kind, str) or not kind:
        raise CniError(_spec.INVALID_CONFIG, "ipam must be an object with a 'type'")
    return kind


# -- the host peer of a veth device (``hostPeer: true``) ------------------------------

PEER_MARK = "netknit-cni-peer"


def _wants_peer(conf: dict[str, Any]) -> bool:
    value = conf.get("hostPeer", False)
    if not isinstance(value, bool):
        raise CniError(_spec.INVALID_CONFIG, "hostPeer must be true or false")
    return value


def _host_peer(host: Netlink, dev: LinkInfo) -> AliasedLink:
    """The peer of veth ``dev`` in the host namespace (the two name each other)."""
    peer = link_by_index(host, dev.peer_index) if dev.kind == "veth" and dev.peer_index \
        else None
    if peer is None or peer.link.kind != "veth" or peer.link.peer_index != dev.index:
        raise CniError(_spec.INVALID_CONFIG,
                       f"hostPeer: {dev.name} is not a veth whose peer is in the host "
                       "namespace", "leave hostPeer out for this device")
    return peer


def _claim_peer(host: Netlink, peer: AliasedLink, env: Env) -> None:
    """Note on the peer that its qdiscs are the pod's, when they are a new veth's (and
    it carries no alias of someone else's): DEL then removes what chained plugins
    (bandwidth) hung on it, as they expect a pod's host veth to vanish with the pod."""
    # a new veth: noqueue at the root once up, nothing listed while down
    if peer.alias == "" and set(qdiscs(host, peer.link.index)) <= {(TC_H_ROOT, "noqueue")}:
        host.request(set_alias_request(
            peer.link.index, f"{PEER_MARK} {env.ifname} {env.container_id}"[:127],
            f"note {peer.link.name} as the host end of {env.ifname}"))


def _release_peer(host: Netlink, env: Env) -> None:
    """Give back the host peers this attachment claimed: their qdiscs to a new veth's,
    their alias cleared."""
    for item in links_with_alias(host):
        parts = item.alias.split(" ")
        if len(parts) != 3 or parts[0] != PEER_MARK or parts[1] != env.ifname \
                or not env.container_id.startswith(parts[2]):
            continue
        index, name = item.link.index, item.link.name
        for parent, kind in qdiscs(host, index):
            if parent == TC_H_INGRESS or (parent == TC_H_ROOT and kind != "noqueue"):
                host.request(del_qdisc_request(index, ingress=parent == TC_H_INGRESS,
                                               what=f"remove the {kind} qdisc of {name}"))
        host.request(set_alias_request(index, "", f"clear the alias of {name}"))


# -- ADD -------------------------------------------------------------------------------


def add(env: Env, conf: dict[str, Any]) -> dict[str, Any]:
    version = conf["cniVersion"]
    # everything the config can get wrong is found before anything changes
    _selector(conf)
    prev = _spec.prev_result(conf)
    ipam = _ipam_type(conf)
    wants_peer = _wants_peer(conf)
    ns = open_netns(env.netns, required=True)
    assert ns is not None
    try:
        with Netlink.here("the host namespace") as host:
            dev = _select(host, conf)
            peer = _host_peer(host, dev) if wants_peer else None
            if _named(ns.nl, env.ifname) is not None:
                raise CniError(_spec.NAME_TAKEN,
                               f"{env.netns} already has an interface named {env.ifname}")
            note = Note(dev.name, dev.up, env.ifname, env.container_id, dev.mac)
            try:
                moved = move_and_rename(host, dev.name, ns, env.ifname,
                                        strategy=strategy(),  # type: ignore[arg-type]
                                        check_mounted=False, found=dev)
            except MoveError as exc:
                code = _spec.NAME_TAKEN if exc.errno == errno.EEXIST else _spec.KERNEL_FAILURE
                raise CniError(code, exc.message) from None
            ipam_result: dict[str, Any] = {}
            try:
                ns.nl.request(set_alias_request(moved.index, note.render(),
                                                f"note the origin of {env.ifname}"))
                write_small(_state_paths(env, conf)[0], dumps({"netns_inode": ns.inode}))
                if peer is not None:
                    _claim_peer(host, peer, env)
                if ipam:
                    ipam_result = _spec.invoke(ipam, conf, env.child(), env.path) or {}
                    why = _spec.result_problem(ipam_result)
                    if why:
                        raise CniError(_spec.DELEGATE_FAILED,
                                       f"{ipam} ADD returned a malformed result: {why}")
                _apply_ipam(ns, moved.index, env.ifname, ipam_result)
            except BaseException:
                _undo_add(env, conf, host, ns, moved)
                raise
    except KernelError as exc:
        raise CniError(_spec.KERNEL_FAILURE, exc.message) from None
    finally:
        ns.close()
    # a host-side interface is listed before the container's, as bridge and ptp do
    host_side = [{"name": peer.link.name, "mac": peer.link.mac}] if peer is not None else []
    return _chain(prev or {}, version, [*host_side, {"name": env.ifname, "mac": moved.mac,
                                                     "sandbox": env.netns}], ipam_result)


def _undo_add(env: Env, conf: dict[str, Any], host: Netlink, ns: Namespace,
              moved: MoveResult) -> None:
    """Roll a failed ADD back. Each step runs whatever the others did: an IPAM that
    cannot release (no dhcp daemon) never keeps the device in the pod."""
    ipam = _ipam_type(conf)
    if ipam:
        try:
            _spec.invoke(ipam, conf, env.child(CNI_COMMAND="DEL"), env.path)
        except Exception as exc:  # the original error is what the runtime must see
            log(f"undoing ADD: {ipam} DEL failed too: {exc}")
    try:
        move_back(host, ns, moved, strategy=moved.strategy)
        _clear_alias(host, moved.original.name, moved.mac)
        if _wants_peer(conf):
            _release_peer(host, env)
    except Exception as exc:
        log(f"undoing ADD: bringing {moved.original.name} home failed too: {exc}")
    else:
        _remove_state(env, conf)  # kept when the device is still out: DEL can find it


def _chain(prev: dict[str, Any], version: str, ifaces: list[dict[str, Any]],
           ipam_result: dict[str, Any]) -> dict[str, Any]:
    interfaces = [*prev.get("interfaces", []), *ifaces]  # the container's last
    index = len(interfaces) - 1
    ips = [*prev.get("ips", []),
           *({**ip, "interface": index} for ip in _spec.normalise_result(ipam_result)["ips"])]
    result = {"cniVersion": version, "interfaces": interfaces, "ips": ips,
              "routes": [*prev.get("routes", []), *ipam_result.get("routes", [])],
              "dns": prev.get("dns") or ipam_result.get("dns") or {}}
    return _spec.render_result(result, version)


# -- DEL -------------------------------------------------------------------------------


def _clear_alias(host: Netlink, name: str, mac: str) -> None:
    item = _named(host, name)
    if item is not None and item.link.mac == mac and Note.parse(item.alias):
        host.request(set_alias_request(item.link.index, "", f"clear the alias of {name}"))


def _restore_in_host(host: Netlink, env: Env | None,
                     keep: set[tuple[str, str]] | None = None) -> None:
    """Devices whose namespace died came back to the host under their container name
    (the kernel returns hardware to the initial namespace): give them their own back."""
    for item in links_with_alias(host):
        note = Note.parse(item.alias)
        if note is None:
            continue
        if env is not None and not note.owned_by(env):
            continue
        if keep is not None and any(cid.startswith(note.container_id) and ifn == note.ifname
                                    for cid, ifn in keep):
            continue
        link = item.link
        log(f"{link.name} (from {note.ifname} of {note.container_id}) is in the host "
            f"namespace again: restoring it as {note.name}")
        if link.up:
            host.request(set_link_request(link.index, up=False, what=f"set {link.name} down"))
        _restore_mac(host, link, note)
        if link.name != note.name:
            host.request(set_link_request(link.index, name=note.name,
                                          what=f"rename {link.name} to {note.name}"))
        host.request(set_alias_request(link.index, "", f"clear the alias of {note.name}"))
        if note.up:
            host.request(set_link_request(link.index, up=True, what=f"set {note.name} up"))


def _netns_for_del(env: Env, conf: dict[str, Any]) -> Namespace | None:
    if env.netns:
        return open_netns(env.netns, required=False)
    for path in _state_paths(env, conf):
        try:
            with open(path, "rb") as f:
                inode = int(loads(f.read())["netns_inode"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        return find_netns_by_inode(inode)
    return None


def delete(env: Env, conf: dict[str, Any]) -> None:
    """IPAM DEL, then the device home; a failing IPAM is reported after the device is
    home, so that no DEL ever leaves it in the pod (a repeated DEL retries the IPAM)."""
    ipam = _ipam_type(conf)
    ipam_error: CniError | None = None
    if ipam:
        try:
            _spec.invoke(ipam, conf, env.child(), env.path)
        except CniError as exc:
            log(f"{exc.msg}; bringing the device home all the same")
            ipam_error = exc
    ns = _netns_for_del(env, conf)
    try:
        with Netlink.here("the host namespace") as host:
            # brought home from the container: nothing of this attachment can be in the
            # host already; otherwise look for it there (its namespace died)
            if ns is None or not _move_home(env, host, ns):
                _restore_in_host(host, env)
            if _wants_peer(conf):
                _release_peer(host, env)
    except KernelError as exc:
        raise CniError(_spec.KERNEL_FAILURE, exc.message) from None
    finally:
        if ns is not None:
            ns.close()
    _remove_state(env, conf)
    if ipam_error is not None:
        raise ipam_error


def _move_home(env: Env, host: Netlink, ns: Namespace) -> bool:
    """Bring the device home from ``ns``; False when it is not there (or not ours)."""
    item = _named(ns.nl, env.ifname)
    if item is None:
        return False  # already home (DEL twice) or gone with a virtual device
    note = Note.parse(item.alias)
    if note is None or not note.owned_by(env):
        log(f"{env.ifname} in {env.netns or 'the namespace'} was not put there by this "
            "plugin for this container: left alone")
        return False
    link = item.link
    mac = _restore_mac(ns.nl, link, note)
    host_inode = os.stat("/proc/thread-self/ns/net").st_ino
    original = DeviceState(name=note.name, index=link.index, kind=link.kind, mac=mac,
                           mtu=link.mtu, up=note.up, netns=host.label, netns_inode=host_inode)
    moved = MoveResult(original=original, target=ns.name, target_inode=ns.inode,
                       name=link.name, index=link.index, mac=mac, mtu=link.mtu,
                       up=link.up, strategy="via-temp-ns")
    try:
        # the container is letting the device go (torn down, or detached from this
        # network): it may see it renamed, down, as it leaves, which saves the detour
        # through a temporary namespace (one namespace move instead of two, ~15 ms)
        home = move_back(host, ns, moved, strategy=strategy(),  # type: ignore[arg-type]
                         rename_before_leaving=True,
                         # just looked up: the container need not be listed again (its
                         # MAC is stale if it was just given its own back)
                         found=link if mac == link.mac else None,
                         # the host has one veth per pod: no listing of them all
                         look_up_by_name=True)
    except MoveError as exc:
        raise CniError(_spec.KERNEL_FAILURE, exc.message) from None
    _clear_alias(host, note.name, mac)
    return home


def _restore_mac(nl: Netlink, link: LinkInfo, note: Note) -> str:
    """The device's own MAC back (tuning changed it); its MAC now. A device that will
    not take it still goes home."""
    if not note.mac or link.mac == note.mac:
        return link.mac
    try:
        nl.request(set_mac_request(link.index, note.mac,
                                   f"give {link.name} its own MAC {note.mac} back"))
    except KernelError as exc:
        log(f"{exc.message}: {note.name} goes home with MAC {link.mac}")
        return link.mac
    return note.mac


# -- CHECK, GC, STATUS -----------------------------------------------------------------


def check(env: Env, conf: dict[str, Any]) -> None:
    prev = _spec.prev_result(conf)
    if prev is None:
        raise CniError(_spec.INVALID_CONFIG, "CHECK needs prevResult")
    ifaces = prev.get("interfaces", [])
    index = next((i for i, it in enumerate(ifaces) if it.get("name") == env.ifname
                  and it.get("sandbox") in (env.netns, None)), None)
    if index is None:
        raise CniError(_spec.CHECK_FAILED, f"prevResult has no interface {env.ifname}")
    ns = open_netns(env.netns, required=True)
    assert ns is not None
    try:
        item = _named(ns.nl, env.ifname)
        if item is None:
            raise CniError(_spec.CHECK_FAILED, f"{env.ifname} is not in {env.netns}")
        note = Note.parse(item.alias)
        if note is None or not note.owned_by(env):
            raise CniError(_spec.CHECK_FAILED,
                           f"{env.ifname} in {env.netns} was not put there for this container")
        want_mac = str(ifaces[index].get("mac", "")).lower()
        if want_mac and item.link.mac != want_mac:
            raise CniError(_spec.CHECK_FAILED, f"{env.ifname} has MAC {item.link.mac}, "
                           f"the result says {want_mac}")
        _check_addresses_and_routes(ns, item.link.index, env.ifname, prev, index)
    except KernelError as exc:
        raise CniError(_spec.KERNEL_FAILURE, exc.message) from None
    finally:
        ns.close()
    ipam = _ipam_type(conf)
    if ipam:
        _spec.invoke(ipam, conf, env.child(), env.path)


def _check_addresses_and_routes(ns: Namespace, link: int, ifname: str,
                                prev: dict[str, Any], index: int) -> None:
    """The addresses prevResult gives interface ``index``, and the routes that go
    through them (via their gateway, or an explicit gw inside their subnets: the
    routes ADD installed on it), are all in place."""
    from ipaddress import ip_address, ip_interface, ip_network

    from ..kernel._link import addresses
    from ..kernel._lookup import main_routes

    ours = [ip for ip in prev.get("ips", []) if ip.get("interface") == index]
    have = {str(a) for a in addresses(ns.nl).get(link, [])}
    for ip in ours:
        if str(ip_interface(ip["address"])) not in have:
            raise CniError(_spec.CHECK_FAILED, f"{ifname} lacks address {ip['address']}")
    nets = [ip_interface(ip["address"]).network for ip in ours]
    gateways: dict[int, Any] = {}
    for ip in ours:
        if ip.get("gateway"):
            gateways.setdefault(ip_address(ip["gateway"]).version, ip_address(ip["gateway"]))
    installed = {(ip_network(dst, strict=False), gw and ip_address(gw))
                 for dst, gw, oif in main_routes(ns.nl) if oif == link}
    for route in prev.get("routes", []):
        dst = ip_network(route["dst"], strict=False)
        gw = ip_address(route["gw"]) if route.get("gw") else gateways.get(dst.version)
        if gw is None or not any(gw in net for net in nets):
            continue  # not through this interface: another plugin's route
        if (dst, gw) not in installed:
            raise CniError(_spec.CHECK_FAILED, f"{ifname} lacks route {dst} via {gw}")


def status(env: Env, conf: dict[str, Any]) -> None:
    """Ready when the IPAM plugin is: the spec makes STATUS go to it (code 50/51 from
    it are passed on)."""
    ipam = _ipam_type(conf)
    if ipam:
        _spec.invoke(ipam, conf, env.child(), env.path)


def gc(env: Env, conf: dict[str, Any]) -> None:
    """Forget this network's attachments that are not valid any more (their state file),
    give devices whose namespace died their own name back, and GC the IPAM."""
    # libcni sends the list under both names ("cni.dev/attachments": the spec's old one)
    valid = conf.get("cni.dev/valid-attachments", conf.get("cni.dev/attachments")) or []
    keep = {(str(a.get("containerID", "")), str(a.get("ifname", ""))) for a in valid
            if isinstance(a, dict)}
    with Netlink.here("the host namespace") as host:
        _restore_in_host(host, None, keep)
    directory = _state_dir(conf)
    for name in os.listdir(directory) if os.path.isdir(directory) else []:
        cid, _, rest = name.removesuffix(".json").partition(":")
        if name.endswith(".json") and (cid, rest) not in keep:
            try:  # noqa: SIM105 - no contextlib on the plugin's path (import cost)
                os.unlink(os.path.join(directory, name))
            except FileNotFoundError:
                pass
    ipam = _ipam_type(conf)
    if ipam:
        _spec.invoke(ipam, conf, env.child(), env.path)
