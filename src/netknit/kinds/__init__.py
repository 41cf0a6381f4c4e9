"""Node kinds: one module each, registered here (one line per kind).

Generic code never names a kind; it asks the registry::

    from netknit import kinds
    kinds.get(node.kind).own_namespace

A new kind is a new module with its :class:`NodeKind` and one ``_register`` line below.
"""

from __future__ import annotations

from . import bridge, host, linux, netns
from ._base import NodeKind
from ._clab import PLANNED

_KINDS: dict[str, NodeKind] = {}


def _register(kind: NodeKind) -> None:
    _KINDS[kind.name] = kind


# the order is the order of "did you mean" candidates and of listings
_register(netns.KIND)
_register(bridge.KIND)
_register(host.KIND)
_register(linux.KIND)

#: netknit's kind when neither the node nor ``defaults`` names one.
DEFAULT = netns.KIND.name


def get(name: str) -> NodeKind:
    """The registered kind ``name`` (a name the loader accepted); KeyError otherwise."""
    return _KINDS[name]


def names() -> tuple[str, ...]:
    """Every kind netknit deploys, in registration order."""
    return tuple(_KINDS)


def all_kinds() -> tuple[NodeKind, ...]:
    return tuple(_KINDS.values())


__all__ = ["DEFAULT", "PLANNED", "NodeKind", "all_kinds", "get", "names"]
