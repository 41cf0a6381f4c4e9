"""The one small interface every node runtime implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..kernel import Namespace
from ..plan import NodePlan


@dataclass(frozen=True, slots=True)
class ExecResult:
    node: str
    command: str
    returncode: int
    output: str


@dataclass(frozen=True, slots=True)
class Workload:
    """How to find a started workload again (recorded in the journal)."""

    pidfile: str
    pid: int
    start: int | None


class Runtime(Protocol):
    """A node runtime: makes the namespace holder, starts the workload, runs commands."""

    name: str

    def create(self, node: NodePlan, mark: str | None = None) -> Namespace:
        """Create the node's network namespace (empty but for ``lo``, which carries
        ``mark``, the lab's identity, in its alias) and return it open."""
        ...

    def open(self, node: NodePlan) -> Namespace | None:
        """Open the namespace of an existing node, or None if it is gone."""
        ...

    def start(self, node: NodePlan, ns: Namespace, node_dir: Path) -> Workload | None:
        """Start the node's workload inside its (already wired) namespace."""
        ...

    def exec(self, node: NodePlan, ns: Namespace, argv: Sequence[str],
             env: Mapping[str, str] | None = None, timeout: float | None = None) -> ExecResult:
        """Run a command inside the node and return its combined output."""
        ...

    def wait_for(self, node: NodePlan, condition: str, timeout: float) -> None:
        """Block until the node's workload is ``healthy`` or has ``exited``; raise
        RuntimeFailure after ``timeout`` seconds."""
        ...

    def stop(self, workload: Workload) -> None:
        """Stop a workload this runtime started. Idempotent."""
        ...

    def remove(self, netns: str, inode: int | None) -> bool:
        """Remove the node's namespace holder. Idempotent; True if something was removed."""
        ...
