"""What generic code asks of a node kind.

A kind is one module (``netns.py``, ``linux.py``, ...) holding one :class:`NodeKind`,
registered in ``__init__.py``. The loader, the planner and the engine ask the kind
instead of naming it. A leaf: imports nothing of netknit's but the interface-name check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from types import MappingProxyType

from .._dataclass import dataclass


def any_node_name(_name: str) -> str | None:
    """The node name rules every kind has (checked by the loader): nothing more."""
    return None


@dataclass(frozen=True, slots=True)
class NodeKind:
    """A node kind: its runtime, where it lives, the settings it takes, its naming."""

    #: the name written in the file (``kind: linux``), lower case as containerlab has it
    name: str
    #: the runtime that runs its nodes ("netns", "docker"); None: nothing runs, the node
    #: is an object of the host namespace (a bridge, the host itself)
    runtime: str | None
    #: False: the node has no namespace of its own; its endpoints are host interfaces,
    #: it runs no workload (no ``cmd``, stages or ``defaults``' container settings)
    own_namespace: bool = True
    #: a container: can be another node's ``network-mode: container:<node>``, and joins
    #: the lab's management network
    container: bool = False
    #: settings only this kind takes, model field -> YAML key (set elsewhere: refused)
    fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: ``image:`` must be set
    needs_image: bool = False
    #: the kind its nodes become when the user picks another runtime for the lab
    #: (``--runtime netns`` wires ``linux`` nodes as bare ``netns`` ones), if any
    bare_kind: str | None = None
    #: the node is a bridge of the host: its endpoints are its ports (no addresses)
    ports: bool = False
    #: why ``name`` cannot be a node of this kind (its interface naming rules), or None
    node_name_error: Callable[[str], str | None] = any_node_name
