"""Events: a deployed lab's events as they happen, shaped like containerlab's ``events``.

Sources (the same as ``watch``'s, :mod:`._sources`): netlink link and address messages
in the host and in every node's namespace, and the runtimes' event streams (a container
engine's events). On top of them:

- ``interface`` ``create``/``update``/``delete`` as containerlab words them (an update
  only when something shown changed; ``change`` says what: ``up``, ``down``, ``carrier``,
  ``mtu``, ``mac``...); ``address`` ``add``/``delete``;
- ``node`` ``start``/``restart``/``stop``: its namespace appeared, was replaced, went
  (any runtime); ``container`` events as the container engine words them;
- ``drift`` ``found``/``repaired``/``repair-failed`` from the repair log that every
  repair writes (:mod:`._repairlog`); when no ``watch`` runs, ``events`` also looks for
  drift itself, read-only, the way ``inspect interfaces`` does (``found``, then
  ``cleared`` once it is gone), and never takes the lab's lock.

Each event carries the lab, the node and (for interfaces) the interface name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field
from datetime import UTC, datetime
from typing import Any

from .._dataclass import dataclass
from ..kernel import Address, AliasedLink, LinkInfo
from ..kernel._msg import (
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_NEWADDR,
    RTM_NEWLINK,
    messages,
    parse_addr,
    parse_alias,
    parse_link,
)
from ..runtimes import Runtime, RuntimeEvent
from ..state import LabDir, NodeState
from ._inspect import LabView, inspect
from ._marks import lab_mark
from ._repairlog import Tail, watcher_running
from ._sources import HOST, LabSources, NsChange

#: look for drift (when no watcher does) this often, and soon after a burst
PERIOD = 2.0
#: a burst's events closer together than this: one look
SOON = 0.1
#: the repair log is read this often
POLL = 0.1
#: drift seen gone for this long (and no repair logged) is reported cleared
CLEARED_AFTER = 1.0


@dataclass
class LabEvent:
    """containerlab's aggregatedEvent: ``actor_id`` a container's short id (a namespace
    node has none), ``actor_name`` its container or namespace."""

    timestamp: float
    type: str
    action: str
    actor_id: str = ""
    actor_name: str = ""
    actor_full_id: str = ""
    attributes: dict[str, str] = field(default_factory=dict)

    def merged(self) -> dict[str, str]:
        """The attributes as containerlab prints them: with ``name`` and ``id``."""
        out = {k: v for k, v in self.attributes.items() if v != ""}
        if self.actor_name:
            out["name"] = self.actor_name
        if self.actor_full_id:
            out["id"] = self.actor_full_id
        return out

    def time_text(self) -> str:
        """RFC 3339 with nanoseconds, UTC, as Go's time.RFC3339Nano."""
        when = datetime.fromtimestamp(self.timestamp, UTC)
        fraction = f".{when.microsecond:06d}".rstrip("0").rstrip(".")
        return when.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"

    def to_json(self) -> dict[str, Any]:
        return {"timestamp": self.time_text(), "type": self.type, "action": self.action,
                "actor_id": self.actor_id, "actor_name": self.actor_name,
                "actor_full_id": self.actor_full_id, "attributes": self.merged()}

    def plain(self) -> str:
        """containerlab's plain line: ``<time> <type> <action> <actor> (k=v, ...)``."""
        attrs = self.merged()
        suffix = " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")" \
            if attrs else ""
        actor = self.actor_id or self.actor_name or "-"
        return f"{self.time_text()} {self.type} {self.action} {actor}{suffix}"


@dataclass(frozen=True, slots=True)
class _Seen:
    """An interface as last reported."""

    link: LinkInfo
    alias: str

    def words(self) -> dict[str, str]:
        link = self.link
        out = {"ifname": link.name, "index": str(link.index), "mtu": str(link.mtu),
               "state": link.operstate, "type": link.kind or "device",
               "admin": "up" if link.up else "down"}
        if self.alias:
            out["alias"] = self.alias
        if link.mac:
            out["mac"] = link.mac
        return out


def _changes(old: _Seen, new: _Seen) -> list[str]:
    """What changed, in words (``up``/``down``: administratively; ``carrier``...)."""
    a, b = old.link, new.link
    out = []
    if a.up != b.up:
        out.append("up" if b.up else "down")
    if a.operstate != b.operstate or a.carrier != b.carrier:
        out.append("carrier" if a.up == b.up else "state")
    for what, x, y in (("name", a.name, b.name), ("mtu", a.mtu, b.mtu), ("mac", a.mac, b.mac),
                       ("master", a.master, b.master), ("alias", old.alias, new.alias)):
        if x != y:
            out.append(what)
    return out


def _shown(address: Address) -> bool:
    return not (address.version == 6 and address.ip.is_link_local)


class Tracker:
    """Turns what the sources bring into events; keeps what was last seen of each
    interface, address and drift, so that only changes are reported."""

    def __init__(self, lab: str, lab_dir: LabDir, emit: Callable[[LabEvent], None]) -> None:
        self.lab = lab
        self.lab_dir = lab_dir
        self.emit = emit
        self.mark = lab_mark(lab, lab_dir)
        self.nodes: dict[str, NodeState] = {}
        self.ifaces: dict[str, dict[int, _Seen]] = {}  # node (or "host") -> index -> seen
        self.addrs: dict[str, set[tuple[int, str]]] = {}
        self.host_names: dict[str, str] = {}  # a host-side interface of the lab -> its node
        # drift reported found and not yet repaired: by the repairs (node, ifname, their
        # words; one interface may have several), and by events' own look (node, ifname
        # -> inspect's words for all of it)
        self.logged: set[tuple[str, str, str]] = set()
        self.checked: dict[tuple[str, str], str] = {}
        self.gone_since: dict[tuple[str, str], float] = {}

    def read_state(self, nodes: Mapping[str, NodeState]) -> None:
        self.nodes = dict(nodes)
        self.host_names = {i.name: n.name for n in nodes.values() if n.netns is None
                           for i in n.interfaces}

    # -- who -------------------------------------------------------------------------------

    def actor(self, node: str) -> str:
        """A node's container (or namespace) name, as inspect shows it."""
        state = self.nodes.get(node)
        if state is None:
            return node
        return state.workload or state.netns or state.name

    def _event(self, kind: str, action: str, node: str, attributes: dict[str, str],
               when: float | None = None, **actor: str) -> None:
        attrs = {"lab": self.lab, "node": node, **attributes}
        self.emit(LabEvent(when or time.time(), kind, action,
                           actor.get("actor_id", ""),
                           actor.get("actor_name", self.actor(node)),
                           actor.get("actor_full_id", ""), attrs))

    # -- interfaces and addresses --------------------------------------------------------

    def _ours(self, node: str, seen: _Seen) -> bool:
        """In the host, only the lab's interfaces (its desired ones, or carrying its
        mark: a `tools` link); in a node, every one, as containerlab shows them."""
        return node != HOST or seen.link.name in self.host_names or seen.alias == self.mark

    def _host_node(self, node: str, name: str) -> str:
        return self.host_names.get(name, HOST) if node == HOST else node

    def seed(self, node: str, found: Iterable[AliasedLink],
             addresses: Mapping[int, Sequence[Address]], *, report: bool) -> None:
        """What a namespace holds when it is first listened to (``report``: as new)."""
        for item in found:
            seen = _Seen(item.link, item.alias)
            self.ifaces.setdefault(node, {})[item.link.index] = seen
            if report and self._ours(node, seen):
                self._event("interface", "create", self._host_node(node, item.link.name),
                            {**seen.words(), "origin": "netlink"})
        for index, on in addresses.items():
            for address in on:
                if _shown(address):
                    self._address(node, index, address, add=True, report=report)

    def _address(self, node: str, index: int, address: Address, *, add: bool,
                 report: bool = True) -> None:
        key = (index, str(address))
        have = self.addrs.setdefault(node, set())
        if (key in have) == add:
            return
        if add:
            have.add(key)
        else:
            have.discard(key)
        seen = self.ifaces.get(node, {}).get(index)
        if not report or (seen is not None and not self._ours(node, seen)) or \
                (seen is None and node == HOST):
            return
        name = seen.link.name if seen else str(index)
        self._event("address", "add" if add else "delete", self._host_node(node, name),
                    {"ifname": name, "index": str(index), "address": str(address),
                     "family": f"ipv{address.version}", "origin": "netlink"})

    def netlink(self, node: str, data: bytes) -> None:
        for mtype, msg in messages(data):
            if mtype == RTM_NEWLINK:
                self._newlink(node, _Seen(parse_link(msg), parse_alias(msg)))
            elif mtype == RTM_DELLINK:
                link = parse_link(msg)
                self._dellink(node, link.index, _Seen(link, parse_alias(msg)))
            elif mtype in (RTM_NEWADDR, RTM_DELADDR):
                parsed = parse_addr(msg)
                if parsed is not None and _shown(parsed[1]):
                    self._address(node, parsed[0], parsed[1], add=mtype == RTM_NEWADDR)

    def _newlink(self, node: str, seen: _Seen) -> None:
        known = self.ifaces.setdefault(node, {})
        before = known.get(seen.link.index)
        if before == seen:
            return
        known[seen.link.index] = seen
        if not self._ours(node, seen):
            return
        extra = {"origin": "netlink"}
        if before is not None:
            changed = _changes(before, seen)
            if not changed:
                return
            extra["change"] = ",".join(changed)
        self._event("interface", "update" if before else "create",
                    self._host_node(node, seen.link.name), {**seen.words(), **extra})

    def _dellink(self, node: str, index: int, seen: _Seen | None,
                 origin: str = "netlink") -> None:
        before = self.ifaces.get(node, {}).pop(index, None) or seen
        self.addrs[node] = {a for a in self.addrs.get(node, set()) if a[0] != index}
        if before is not None and self._ours(node, before):
            self._event("interface", "delete", self._host_node(node, before.link.name),
                        {**before.words(), "origin": origin})

    # -- nodes ---------------------------------------------------------------------------

    def namespace(self, change: NsChange) -> None:
        node = self.nodes.get(change.node)
        attrs = {"netns": node.netns or "" if node else "",
                 "runtime": node.runtime if node else ""}
        if change.old:  # its interfaces went with it
            for index in list(self.ifaces.get(change.node, {})):
                self._dellink(change.node, index, None, origin="netns")
            self.addrs.pop(change.node, None)
        action = "start" if not change.old else "stop" if not change.new else "restart"
        self._event("node", action, change.node, {**attrs, "origin": "netns"})
        if change.new:
            self.seed(change.node, change.links, change.addresses, report=True)

    def runtime(self, event: RuntimeEvent) -> None:
        if event.action == "connected":
            return
        node = event.node or next((n.name for n in self.nodes.values()
                                   if event.name in (n.workload, n.holder)), "")
        attrs = dict(event.attributes)
        attrs.pop("name", None)
        self._event(event.type, event.action, node, {**attrs, "origin": "runtime"},
                    when=event.time or None, actor_id=event.id[:12],
                    actor_name=event.name, actor_full_id=event.id)

    # -- drift ---------------------------------------------------------------------------

    def repair_record(self, rec: Mapping[str, Any]) -> None:
        """A record of the repair log (see :mod:`._repairlog`)."""
        node, iface = str(rec.get("node", "")), str(rec.get("iface", ""))
        found = str(rec.get("found", ""))
        action = str(rec.get("action", ""))
        when = float(rec.get("time") or 0) or None
        words = {"ifname": iface, "found": found, "repair": str(rec.get("repair", "")),
                 "origin": "repair"}
        # the repairer speaks for this interface now: what events' own look said of it
        # is followed no further
        self.checked.pop((node, iface), None)
        self.gone_since.pop((node, iface), None)
        key = (node, iface, found)
        if key not in self.logged:  # not reported yet (events started after it was found)
            self.logged.add(key)
            self._event("drift", "found", node, words, when)
        if action == "repaired":
            self._event("drift", "repaired", node, words, when)
            self.logged.discard(key)
        elif action == "failed":
            self._event("drift", "repair-failed", node,
                        {**words, "error": str(rec.get("status", "")).removeprefix("failed: ")},
                        when)

    def check(self, view: LabView, *, initial: bool = False, report: bool = True) -> None:
        """Drift as ``inspect interfaces`` sees it now: new drift is reported found
        (``report``: no watcher does); what this look reported and is gone (with no
        repair logged) is reported cleared."""
        now = time.time()
        current = {}
        for node in view.nodes:
            if node.drift:
                current[(node.name, "")] = ", ".join(node.drift)
            for iface in node.interfaces:
                if iface.drift:
                    current[(node.name, iface.name)] = ", ".join(iface.drift)
        repairing = {(node, iface) for node, iface, _ in self.logged}
        for key, words in current.items():
            self.gone_since.pop(key, None)
            if report and key not in repairing and self.checked.get(key) != words:
                self.checked[key] = words  # new, more or other drift of it
                self._event("drift", "found", key[0],
                            {"ifname": key[1], "found": words,
                             "origin": "snapshot" if initial else "check"})
        for key in [k for k in self.checked if k not in current]:
            since = self.gone_since.setdefault(key, now)
            if now - since >= CLEARED_AFTER:
                self._event("drift", "cleared", key[0],
                            {"ifname": key[1], "found": self.checked.pop(key),
                             "origin": "check"})
                del self.gone_since[key]

    def snapshot(self, view: LabView) -> None:
        """``--initial-state``: every node and interface as they are now (containerlab's
        ``container <state>`` and ``interface snapshot`` with ``origin=snapshot``)."""
        for node in view.nodes:
            self._event("node", node.state.split(" ", 1)[0] or "unknown", node.name,
                        {"state": node.state, "netns": node.netns or "",
                         "runtime": node.runtime, "origin": "snapshot"})
            for iface in node.interfaces:
                attrs = {"ifname": iface.name, "index": str(iface.ifindex),
                         "mtu": str(iface.mtu), "state": iface.operstate,
                         "type": iface.type, "mac": iface.mac, "alias": iface.alias,
                         "addresses": ",".join(iface.addresses), "origin": "snapshot"}
                if iface.drift:
                    attrs["drift"] = ", ".join(iface.drift)
                self._event("interface", "snapshot", node.name, attrs)
        self.check(view, initial=True)


def stream(lab: str, lab_dir: LabDir, emit: Callable[[LabEvent], None], *,
           initial_state: bool = False, stop: threading.Event | None = None) -> None:
    """Report the lab's events through ``emit`` until ``stop`` is set."""
    stop = stop or threading.Event()
    sources = LabSources(lab, lab_dir, keep=True)
    tracker = Tracker(lab, lab_dir, emit)
    tail = Tail(lab_dir)  # from its end: what happens from now on
    def woken_when_stopped() -> None:
        stop.wait()
        sources.wake()

    threading.Thread(target=woken_when_stopped, daemon=True).start()
    try:
        tracker.read_state(sources.nodes)
        for change in sources.refresh(deep=True):  # listening first: nothing is missed
            tracker.seed(change.node, change.links, change.addresses, report=False)
        sources.pending.clear()
        if initial_state:
            tracker.snapshot(inspect(lab, lab_dir, runtimes=_made(sources), every=True))
        next_check = time.monotonic() + PERIOD
        while not stop.is_set():
            batch = sources.wait(max(0.0, min(POLL, next_check - time.monotonic())))
            for rec in tail.read():
                tracker.repair_record(rec)
            for event in batch.runtime:
                tracker.runtime(event)
            for change in batch.changes:
                tracker.namespace(change)
            for node, data in batch.messages:
                tracker.netlink(node, data)
            if batch.messages or batch.runtime or batch.changes:
                next_check = min(next_check, time.monotonic() + SOON)
            due = time.monotonic() >= next_check
            if batch.runtime or due:
                sources.refresh(deep=True)  # a container (re)started: its new namespace
                tracker.read_state(sources.nodes)
            else:
                sources.refresh()
            if due:
                next_check = time.monotonic() + PERIOD
                # a watcher logs what it finds: then only what this look found is followed
                report = not watcher_running(lab_dir)
                if report or tracker.checked:
                    tracker.check(inspect(lab, lab_dir, runtimes=_made(sources)),
                                  report=report)
    finally:
        stop.set()
        tail.close()
        sources.close()


def _made(sources: LabSources) -> dict[str, Runtime]:
    """The runtimes the sources use (one engine connection each, not one per look)."""
    return {n.runtime: sources.runtimes[n.runtime] for n in sources.nodes.values()}
