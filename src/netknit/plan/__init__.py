"""Pure planning: topology model → desired interfaces + a DAG of actions."""

from ._actions import (
    AttachEnd,
    CreateDevice,
    CreateVeth,
    DeviceKind,
    EnsureBridge,
    LinkAction,
    MoveDevice,
    Stitch,
    VxlanSpec,
    derive_mac,
    made_by,
)
from ._container import (
    DEFAULT_SANDBOX_IMAGE,
    LABEL_LAB_DIR,
    LABEL_ROLE,
    ContainerSpec,
    container_spec,
)
from ._iface import Address, Iface
from ._labfiles import NO_ADDRESS, MgmtAddress
from ._plan import (
    Action,
    Configure,
    CreateNode,
    Exec,
    NodePlan,
    Plan,
    StagePoint,
    StartNode,
    build,
    runtime_of,
)

__all__ = [
    "DEFAULT_SANDBOX_IMAGE",
    "LABEL_LAB_DIR",
    "LABEL_ROLE",
    "NO_ADDRESS",
    "Action",
    "Address",
    "AttachEnd",
    "Configure",
    "ContainerSpec",
    "CreateDevice",
    "CreateNode",
    "CreateVeth",
    "DeviceKind",
    "EnsureBridge",
    "Exec",
    "Iface",
    "LinkAction",
    "MgmtAddress",
    "MoveDevice",
    "NodePlan",
    "Plan",
    "StagePoint",
    "StartNode",
    "Stitch",
    "VxlanSpec",
    "build",
    "container_spec",
    "derive_mac",
    "made_by",
    "runtime_of",
]
