"""Pure planning: topology model → desired interfaces + a DAG of actions."""

from ._container import (
    DEFAULT_SANDBOX_IMAGE,
    LABEL_LAB_DIR,
    LABEL_ROLE,
    ContainerSpec,
    container_spec,
)
from ._plan import (
    Action,
    AttachEnd,
    Configure,
    CreateNode,
    CreateVeth,
    EnsureBridge,
    Exec,
    Iface,
    NodePlan,
    Plan,
    StagePoint,
    StartNode,
    build,
    derive_mac,
)

__all__ = [
    "DEFAULT_SANDBOX_IMAGE",
    "LABEL_LAB_DIR",
    "LABEL_ROLE",
    "Action",
    "AttachEnd",
    "Configure",
    "ContainerSpec",
    "CreateNode",
    "CreateVeth",
    "EnsureBridge",
    "Exec",
    "Iface",
    "NodePlan",
    "Plan",
    "StagePoint",
    "StartNode",
    "build",
    "container_spec",
    "derive_mac",
]
