"""Node runtimes behind one interface (:class:`Runtime`), picked per node by name."""

from ._base import (
    ExecResult,
    Fix,
    Observed,
    Preflight,
    Problem,
    Runtime,
    RuntimeFactory,
    Trouble,
    Workload,
)
from ._registry import REGISTRY, Runtimes

__all__ = [
    "REGISTRY",
    "ExecResult",
    "Fix",
    "Observed",
    "Preflight",
    "Problem",
    "Runtime",
    "RuntimeFactory",
    "Runtimes",
    "Trouble",
    "Workload",
]
