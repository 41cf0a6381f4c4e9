"""Runs plans: deploy (journaled, bounded parallelism), destroy, inspect, exec."""

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
from ._labs import FoundLab, find_labs, noted_lab
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
