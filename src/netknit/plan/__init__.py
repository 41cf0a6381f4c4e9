"""Pure planning: topology model → desired interfaces + a DAG of actions."""

from ._container import (
    DEFAULT_SANDBOX_IMAGE,
    LABEL_LAB_DIR,
    LABEL_ROLE,
    ContainerSpec,
    container_spec,
)
from ._devices import CreateDevice, DeviceKind, MoveDevice, Stitch, VxlanSpec
from ._iface import Address, Iface
from ._plan import (
    Action,
    AttachEnd,
    Configure,
    CreateNode,
    CreateVeth,
    EnsureBridge,
    Exec,
    LinkAction,
    NodePlan,
    Plan,
    StagePoint,
    StartNode,
    build,
    derive_mac,
    made_by,
)

__all__ = [
    "DEFAULT_SANDBOX_IMAGE",
    "LABEL_LAB_DIR",
    "LABEL_ROLE",
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
]
