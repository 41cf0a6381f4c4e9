"""Runs plans: deploy (journaled, bounded parallelism), destroy, inspect, exec."""

from ._deploy import CRASH_ENV, DeployResult, deploy, topology_digest
from ._destroy import DestroyResult, destroy
from ._inspect import IfaceView, LabView, NodeView, exec_in, inspect
from ._report import Reporter, SilentReporter

__all__ = [
    "CRASH_ENV",
    "DeployResult",
    "DestroyResult",
    "IfaceView",
    "LabView",
    "NodeView",
    "Reporter",
    "SilentReporter",
    "deploy",
    "destroy",
    "exec_in",
    "inspect",
    "topology_digest",
]
