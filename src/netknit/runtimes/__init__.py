"""Node runtimes behind one interface (:class:`Runtime`), picked per node by name."""

from ._base import (
    ExecResult,
    Fix,
    Observed,
    Preflight,
    Problem,
    Progress,
    Runtime,
    RuntimeEvent,
    Trouble,
    Workload,
    set_api_timeout,
)
from ._registry import REGISTRY, Runtimes

__all__ = [
    "REGISTRY",
    "ExecResult",
    "Fix",
    "Observed",
    "Preflight",
    "Problem",
    "Progress",
    "Runtime",
    "RuntimeEvent",
    "Runtimes",
    "Trouble",
    "Workload",
    "set_api_timeout",
]
