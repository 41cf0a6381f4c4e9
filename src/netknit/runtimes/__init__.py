"""Node runtimes behind one small interface (:class:`Runtime`)."""

from ._base import ExecResult, Runtime, Workload
from .netns import NetnsRuntime, workload_status

__all__ = ["ExecResult", "NetnsRuntime", "Runtime", "Workload", "workload_status"]
