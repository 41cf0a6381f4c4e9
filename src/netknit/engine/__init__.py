"""Runs plans: deploy (journaled, bounded parallelism), destroy, inspect, exec.

Every name is imported from its module on first use (PEP 562): ``destroy`` needs neither
the planner nor the apply and reconcile machinery, and those cost a short command
20-40 ms of imports (their dataclasses are built at import). A new public name is one
line here and one in ``_WHERE``.
"""

from __future__ import annotations

from .._lazy import exports as _exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._apply import planned_change
    from ._deploy import DeployResult, deploy
    from ._destroy import DestroyResult, destroy, destroy_found, destroy_nodes
    from ._devices import which_host
    from ._executor import CRASH_ENV, Executor, topology_digest
    from ._inspect import (
        ContainerDetails,
        IfaceView,
        LabView,
        NodeView,
        containers,
        exec_in,
        inspect,
        node_plan,
    )
    from ._labs import FoundLab, deployed_from, find_labs, noted_lab
    from ._lifecycle import LifecycleResult, restart, start, stop
    from ._reconcile import Drift, ReconcileResult, What, reconcile
    from ._report import Reporter, SilentReporter

__all__ = [
    "CRASH_ENV",
    "ContainerDetails",
    "DeployResult",
    "DestroyResult",
    "Drift",
    "Executor",
    "FoundLab",
    "IfaceView",
    "LabView",
    "LifecycleResult",
    "NodeView",
    "ReconcileResult",
    "Reporter",
    "SilentReporter",
    "What",
    "containers",
    "deploy",
    "deployed_from",
    "destroy",
    "destroy_found",
    "destroy_nodes",
    "exec_in",
    "find_labs",
    "inspect",
    "node_plan",
    "noted_lab",
    "planned_change",
    "reconcile",
    "restart",
    "start",
    "stop",
    "topology_digest",
    "which_host",
]

#: public name -> the module that defines it
_WHERE = {
    "planned_change": "_apply",
    **dict.fromkeys(("DeployResult", "deploy"), "_deploy"),
    **dict.fromkeys(("DestroyResult", "destroy", "destroy_found", "destroy_nodes"), "_destroy"),
    "which_host": "_devices",
    **dict.fromkeys(("CRASH_ENV", "Executor", "topology_digest"), "_executor"),
    **dict.fromkeys(("ContainerDetails", "IfaceView", "LabView", "NodeView", "containers",
                     "exec_in", "inspect", "node_plan"), "_inspect"),
    **dict.fromkeys(("FoundLab", "deployed_from", "find_labs", "noted_lab"), "_labs"),
    **dict.fromkeys(("LifecycleResult", "restart", "start", "stop"), "_lifecycle"),
    **dict.fromkeys(("Drift", "ReconcileResult", "What", "reconcile"), "_reconcile"),
    **dict.fromkeys(("Reporter", "SilentReporter"), "_report"),
}


__getattr__, __dir__ = _exports(__name__, _WHERE, __all__)
