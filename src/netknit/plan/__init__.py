"""Pure planning: topology model → desired interfaces + a DAG of actions.

Every name is imported from its module on first use (PEP 562), as in
:mod:`netknit.engine`: destroy and the runtimes need a few small ones (``MgmtAddress``,
the lab files' names) and not the planner, whose ~45 dataclasses are built at import.
A new public name is one line here and one in ``_WHERE``.
"""

from __future__ import annotations

from .._lazy import exports as _exports

TYPE_CHECKING = False
if TYPE_CHECKING:
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
        LABEL_NODE_LAB_DIR,
        LABEL_ROLE,
        ContainerSpec,
        container_spec,
        deploying_user,
        label_env,
        node_labels,
    )
    from ._diff import Change, IfaceChange, diff, link_state, node_spec
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
    "LABEL_NODE_LAB_DIR",
    "LABEL_ROLE",
    "NO_ADDRESS",
    "Action",
    "Address",
    "AttachEnd",
    "Change",
    "Configure",
    "ContainerSpec",
    "CreateDevice",
    "CreateNode",
    "CreateVeth",
    "DeviceKind",
    "EnsureBridge",
    "Exec",
    "Iface",
    "IfaceChange",
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
    "deploying_user",
    "derive_mac",
    "diff",
    "label_env",
    "link_state",
    "made_by",
    "node_labels",
    "node_spec",
    "runtime_of",
]

#: public name -> the module that defines it
_WHERE = {
    **dict.fromkeys(("Action", "Configure", "CreateNode", "Exec", "NodePlan", "Plan", "StagePoint",
                     "StartNode", "build", "runtime_of"), "_plan"),
    **dict.fromkeys(("Address", "Iface"), "_iface"),
    **dict.fromkeys(("AttachEnd", "CreateDevice", "CreateVeth", "DeviceKind", "EnsureBridge",
                     "LinkAction", "MoveDevice", "Stitch", "VxlanSpec", "derive_mac",
                     "made_by"), "_actions"),
    **dict.fromkeys(("Change", "IfaceChange", "diff", "link_state", "node_spec"), "_diff"),
    **dict.fromkeys(("ContainerSpec", "DEFAULT_SANDBOX_IMAGE", "LABEL_LAB_DIR",
                     "LABEL_NODE_LAB_DIR", "LABEL_ROLE", "container_spec", "deploying_user",
                     "label_env", "node_labels"), "_container"),
    **dict.fromkeys(("MgmtAddress", "NO_ADDRESS"), "_labfiles"),
}


__getattr__, __dir__ = _exports(__name__, _WHERE, __all__)
