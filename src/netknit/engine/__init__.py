"""Runs plans: deploy (journaled, bounded parallelism), destroy, inspect, exec."""

from ._apply import planned_change
from ._deploy import DeployResult, deploy
from ._destroy import DestroyResult, destroy
from ._devices import which_host
from ._executor import CRASH_ENV, Executor, topology_digest
from ._inspect import IfaceView, LabView, NodeView, exec_in, inspect
from ._reconcile import Drift, ReconcileResult, What, reconcile
from ._report import Reporter, SilentReporter

__all__ = [
    "CRASH_ENV",
    "DeployResult",
    "DestroyResult",
    "Drift",
    "Executor",
    "IfaceView",
    "LabView",
    "NodeView",
    "ReconcileResult",
    "Reporter",
    "SilentReporter",
    "What",
    "deploy",
    "destroy",
    "exec_in",
    "inspect",
    "planned_change",
    "reconcile",
    "topology_digest",
    "which_host",
]
