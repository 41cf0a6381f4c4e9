"""The typed schema of a lab's desired state, ``.netknit/state.json`` (version 1).

Every reader goes through :meth:`LabState.from_json`; the writer through
:meth:`LabState.to_json`, which produces the file exactly as it always was (same keys, same
order; a node's runtime and object names only for nodes not on the built-in runtime).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any

from .._dataclass import dataclass

VERSION = 1
#: The runtime a node record without a ``runtime`` key is on.
DEFAULT_RUNTIME = "netns"


@dataclass(frozen=True, slots=True)
class IfaceState:
    """One interface as it must be (``mac`` "" / ``mtu`` 0: not netknit's to set)."""

    name: str
    mac: str
    mtu: int
    addresses: tuple[str, ...]
    peer: str
    master: str | None
    #: its impairment as the topology writes it (``Impairment.to_json``); written only
    #: when it has one, so a state without impairments reads as it always did
    impairment: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"name": self.name, "mac": self.mac, "mtu": self.mtu,
               "addresses": list(self.addresses), "peer": self.peer, "master": self.master}
        if self.impairment:
            out["impairment"] = dict(self.impairment)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IfaceState:
        impairment = data.get("impairment")
        return cls(str(data["name"]), str(data.get("mac") or ""), int(data.get("mtu") or 0),
                   tuple(str(a) for a in data.get("addresses") or ()),
                   str(data.get("peer") or ""), data.get("master"),
                   dict(impairment) if isinstance(impairment, dict) else None)


@dataclass(frozen=True, slots=True)
class NodeState:
    """One node: its namespace, its runtime and the names its runtime's objects have
    (``workload``/``holder``: how inspect and exec find them without the topology)."""

    name: str
    kind: str
    netns: str | None
    interfaces: tuple[IfaceState, ...] = ()
    runtime: str = DEFAULT_RUNTIME
    workload: str | None = None  # written as "container"
    holder: str | None = None  # written as "sandbox"
    #: a digest per setting whose change makes apply recreate the node (image, env, ...);
    #: empty in states written before apply existed
    spec: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "netns": self.netns,
                               "interfaces": [i.to_json() for i in self.interfaces]}
        if self.runtime != DEFAULT_RUNTIME:
            out.update(runtime=self.runtime, container=self.workload, sandbox=self.holder)
        if self.spec:
            out["spec"] = dict(self.spec)
        return out

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any]) -> NodeState:
        return cls(name, str(data["kind"]), data.get("netns"),
                   tuple(IfaceState.from_json(i) for i in data.get("interfaces") or ()),
                   str(data.get("runtime") or DEFAULT_RUNTIME), data.get("container"),
                   data.get("sandbox"),
                   {str(k): str(v) for k, v in (data.get("spec") or {}).items()})


@dataclass(frozen=True, slots=True)
class LinkState:
    """A link as deployed: what identifies how it was made (``spec``, a digest; a
    changed one makes apply recreate it) and its ends ("node:interface")."""

    spec: str
    ends: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"spec": self.spec, "ends": list(self.ends)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LinkState:
        return cls(str(data["spec"]), tuple(str(e) for e in data.get("ends") or ()))


@dataclass(frozen=True, slots=True)
class LabState:
    """What a deployed lab must be: every node and interface netknit creates."""

    lab: str
    host: str | None
    nodes: Mapping[str, NodeState] = field(default_factory=dict)
    version: int = VERSION
    #: every link by its plan action id (empty in states written before apply existed)
    links: Mapping[str, LinkState] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = {"version": self.version, "lab": self.lab, "host": self.host,
               "nodes": {name: node.to_json() for name, node in self.nodes.items()}}
        if self.links:
            out["links"] = {aid: link.to_json() for aid, link in self.links.items()}
        return out

    @classmethod
    def from_json(cls, data: Any) -> LabState:
        """ValueError if ``data`` is not a desired state of this version."""
        try:
            if not isinstance(data, dict) or data.get("version", VERSION) != VERSION:
                raise ValueError(f"not a version {VERSION} desired state")
            nodes = {str(name): NodeState.from_json(str(name), node)
                     for name, node in (data.get("nodes") or {}).items()}
            links = {str(aid): LinkState.from_json(link)
                     for aid, link in (data.get("links") or {}).items()}
            return cls(str(data.get("lab") or ""), data.get("host"), nodes, links=links)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed desired state: {exc!r}") from None

    @property
    def runtimes(self) -> set[str]:
        return {node.runtime for node in self.nodes.values()}
