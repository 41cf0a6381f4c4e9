"""The immutable topology model: what the loader returns and the planner consumes.

Everything here is already validated and normalised: names are legal kernel names, MACs
are lower-case ``aa:bb:cc:dd:ee:ff``, addresses are ``ipaddress`` interface objects,
defaults and kinds are merged into each node. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv6Interface
from pathlib import Path
from types import MappingProxyType
from typing import Literal

#: Node kinds this version knows. ``linux`` is containerlab's container kind.
Kind = Literal["netns", "bridge", "host", "linux"]
#: Link types this version deploys.
LinkType = Literal["veth", "host"]

#: containerlab's default MTU for veth links (its ``DefaultLinkMTU``).
DEFAULT_LINK_MTU = 9500
#: containerlab's default name prefix.
DEFAULT_PREFIX = "clab"

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One end of a link: an interface of a node."""

    node: str
    interface: str
    mac: str | None = None
    ipv4: tuple[IPv4Interface, ...] = ()
    ipv6: tuple[IPv6Interface, ...] = ()

    def __str__(self) -> str:
        return f"{self.node}:{self.interface}"


@dataclass(frozen=True, slots=True)
class Link:
    """A link between endpoints.

    ``veth``: exactly two endpoints; an endpoint on a ``bridge`` node is the bridge port
    (its ``interface`` is the port's name in the host namespace); an endpoint on a
    ``host`` node is a veth end in the host namespace.
    ``host``: one endpoint (the node side); ``host_interface`` names the host-side end.
    """

    type: LinkType
    endpoints: tuple[Endpoint, ...]
    mtu: int = DEFAULT_LINK_MTU
    host_interface: str | None = None
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    where: str = ""  # YAML path, for messages: "topology.links[3]"

    def __str__(self) -> str:
        ends = " <-> ".join(str(e) for e in self.endpoints)
        if self.host_interface:
            ends += f" <-> host:{self.host_interface}"
        return ends


@dataclass(frozen=True, slots=True)
class Node:
    """A node with defaults and its kind's settings already merged in."""

    name: str
    kind: Kind
    image: str | None = None
    cmd: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    exec: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    startup_delay: int = 0
    where: str = ""  # YAML path: "topology.nodes.h1"


@dataclass(frozen=True, slots=True)
class Topology:
    """A whole lab, validated. ``nodes`` keeps file order."""

    name: str
    nodes: Mapping[str, Node]
    links: tuple[Link, ...]
    prefix: str | None = None  # as written; None means containerlab's default
    path: Path | None = None  # the file it came from
    notices: tuple[str, ...] = ()  # one-line notes for the user (ignored fields, ...)

    def full_name(self, node: str) -> str:
        """The runtime name of a node, following containerlab's ``prefix`` rules.

        No prefix key: ``clab-<lab>-<node>``; ``prefix: ""``: ``<node>``;
        ``prefix: __lab-name``: ``<lab>-<node>``; otherwise ``<prefix>-<lab>-<node>``.
        """
        prefix = DEFAULT_PREFIX if self.prefix is None else self.prefix
        if prefix == "":
            return node
        if prefix == "__lab-name":
            return f"{self.name}-{node}"
        return f"{prefix}-{self.name}-{node}"
