"""netknit: wire network namespaces and containers together from one topology file.

The public Python API (the CLI is a thin layer over it)::

    import netknit
    topo = netknit.load("examples/quickstart.clab.yml")
    netknit.deploy(topo)
    print(netknit.inspect(topo).to_json())
    netknit.destroy(topo)

A lab can also be built in code, with every command as a method (see :class:`Lab`)::

    lab = netknit.Lab("demo")
    lab.add_node("h1"); lab.add_node("h2")
    lab.add_link("h1:eth1", "h2:eth1", ipv4=["10.0.0.1/24", "10.0.0.2/24"])
    with lab.deployed():
        lab.exec("h1", ["ping", "-c1", "10.0.0.2"])

Heavy modules (pydantic, the engine) are imported on first use, so ``import netknit``
stays cheap for the CLI, for tools that only need the errors and for the CNI plugin, a
process per call that imports this package (no ``typing`` at run time either).
"""

from __future__ import annotations

from ._errors import (
    DumpInterruptedError,
    ExecFailure,
    ImageError,
    KernelError,
    LabLockedError,
    MoveError,
    NetknitError,
    NotSupportedError,
    PlanError,
    Problem,
    RuntimeFailure,
    StateError,
    TopologyError,
)

__version__ = "0.1.0"

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import Any

    from ._lab import Lab
    from .engine import DeployResult, DestroyResult, LabView, LifecycleResult
    from .runtimes import ExecResult
    from .topology import Topology


def load(path: str | Path, *, runtime: str | None = None) -> Topology:
    """Load and validate a topology file (raises :class:`TopologyError`)."""
    from pathlib import Path

    from .topology import load as _load

    return _load(Path(path), runtime=runtime)


def _lab_dir(topo: Topology) -> Any:
    from .state import LabDir

    return LabDir.for_lab(topo.name, topo.path)


def deploy(topo: Topology, *, max_workers: int | None = None) -> DeployResult:
    """Deploy a lab; a no-op if it is already deployed from the same file. Containers
    are started as many at once as the engine keeps up with (``max_workers``: at most)."""
    from .engine import deploy as _deploy

    return _deploy(topo, lab_dir=_lab_dir(topo), max_workers=max_workers)


def destroy(topo: Topology, *, cleanup: bool = False, graceful: bool = False,
            keep_mgmt_net: bool = False) -> DestroyResult:
    """Remove exactly what deploy made; succeeds when there is nothing to remove
    (``graceful``: each workload is stopped, given time to end, before it is removed;
    ``keep_mgmt_net``: the management network stays, even when no lab uses it)."""
    from .engine import destroy as _destroy

    return _destroy(topo.name, _lab_dir(topo), cleanup=cleanup, graceful=graceful,
                    keep_mgmt_net=keep_mgmt_net)


def inspect(topo: Topology) -> LabView:
    """Desired and actual state of every node and interface."""
    from .engine import inspect as _inspect

    return _inspect(topo.name, _lab_dir(topo))


def stop(topo: Topology, nodes: Sequence[str] = ()) -> LifecycleResult:
    """Stop nodes (all when none is named); their link ends are parked, the peers keep
    theirs, and reconcile and watch leave the nodes stopped."""
    from .engine import stop as _stop

    return _stop(topo, _lab_dir(topo), nodes)


def start(topo: Topology, nodes: Sequence[str] = ()) -> LifecycleResult:
    """Start stopped nodes (all when none is named) with all their links."""
    from .engine import start as _start

    return _start(topo, _lab_dir(topo), nodes)


def restart(topo: Topology, nodes: Sequence[str] = ()) -> LifecycleResult:
    """Stop, then start nodes (all when none is named)."""
    from .engine import restart as _restart

    return _restart(topo, _lab_dir(topo), nodes)


def exec(topo: Topology, node: str, argv: list[str], *, timeout: float | None = None) -> ExecResult:
    """Run ``argv`` inside ``node`` and return its exit code and output."""
    from .engine import exec_in

    return exec_in(topo, [node], argv, timeout=timeout)[0]


def __getattr__(name: str) -> Any:
    # ``netknit.Lab`` is imported on first use: ``import netknit`` stays cheap
    if name == "Lab":
        from ._lab import Lab

        return Lab
    raise AttributeError(f"module 'netknit' has no attribute {name!r}")


__all__ = [
    "DumpInterruptedError",
    "ExecFailure",
    "ImageError",
    "KernelError",
    "Lab",
    "LabLockedError",
    "MoveError",
    "NetknitError",
    "NotSupportedError",
    "PlanError",
    "Problem",
    "RuntimeFailure",
    "StateError",
    "TopologyError",
    "__version__",
    "deploy",
    "destroy",
    "exec",
    "inspect",
    "load",
    "restart",
    "start",
    "stop",
]
