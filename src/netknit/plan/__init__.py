"""Pure planning: topology model → desired interfaces + a DAG of actions."""

from ._plan import (
    Action,
    Configure,
    CreateNode,
    CreateVeth,
    EnsureBridge,
    Exec,
    Iface,
    NodePlan,
    Plan,
    StartNode,
    build,
    derive_mac,
)

__all__ = [
    "Action",
    "Configure",
    "CreateNode",
    "CreateVeth",
    "EnsureBridge",
    "Exec",
    "Iface",
    "NodePlan",
    "Plan",
    "StartNode",
    "build",
    "derive_mac",
]
