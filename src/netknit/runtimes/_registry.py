"""Which runtime runs a node: one line per runtime, keyed by ``NodePlan.runtime``.

A runtime module is imported only when a lab uses it (or destroy looks for its
leftovers); none of them imports a client library at module level.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import RuntimeFailure
from ..state import EffectKind
from ._base import Runtime

if TYPE_CHECKING:
    from ..plan import NodePlan
    from .docker import DockerRuntime

#: runtime name -> "module:class" of its implementation
REGISTRY: dict[str, str] = {
    "netns": "netknit.runtimes.netns:NetnsRuntime",
    "docker": "netknit.runtimes.docker:DockerRuntime",
}
#: runtime name -> the kinds of effects it journals (its class's ``kinds``; a unit test
#: checks): who removes a kind is known without importing every runtime (Docker's SDK)
KINDS: dict[str, frozenset[EffectKind]] = {
    "netns": frozenset({EffectKind.NETNS, EffectKind.PROCESS}),
    "docker": frozenset({EffectKind.CONTAINER, EffectKind.NETWORK}),
}


def _make(name: str, lab_dir: Path, sandbox_image: str | None) -> Runtime:
    try:
        module, _, cls = REGISTRY[name].partition(":")
    except KeyError:
        raise RuntimeFailure(f"unknown node runtime {name!r}",
                             hint=f"runtimes: {', '.join(REGISTRY)}") from None
    made: Runtime = getattr(import_module(module), cls)(lab_dir, sandbox_image=sandbox_image)
    return made


class Runtimes:
    """The runtimes of one lab, each made once, on first use (``given``: instances to use
    instead of the registered ones, by name; tests use this)."""

    def __init__(self, lab_dir: Path, *, sandbox_image: str | None = None,
                 given: Mapping[str, Runtime] | None = None) -> None:
        self.lab_dir = lab_dir
        self.sandbox_image = sandbox_image
        self._made: dict[str, Runtime] = dict(given or {})

    def __getitem__(self, name: str) -> Runtime:
        if name not in self._made:
            self._made[name] = _make(name, self.lab_dir, self.sandbox_image)
        return self._made[name]

    def of(self, node: NodePlan) -> Runtime:
        return self[node.runtime]

    def every(self) -> Iterator[Runtime]:
        """Every known runtime (given ones first, then the registered order)."""
        for name in [*self._made, *(n for n in REGISTRY if n not in self._made)]:
            yield self[name]

    def release(self) -> None:
        """Let go of what the runtimes made hold while a deploy runs (shared locks)."""
        for runtime in self._made.values():
            runtime.release()

    def owners(self, kind: EffectKind) -> list[Runtime]:
        """The runtimes whose objects are journaled under ``kind`` (two runtimes may
        share one: each removes only what it finds as the lab's)."""
        owners = [runtime for runtime in self._made.values() if kind in runtime.kinds]
        return owners + [self[name] for name in REGISTRY
                         if name not in self._made and kind in KINDS[name]]


if TYPE_CHECKING:  # mypy proves that each registered runtime implements all of Runtime
    def _conforms(docker: DockerRuntime) -> None:
        from .netns import NetnsRuntime

        runtime: Runtime = docker
        runtime = NetnsRuntime(Path())
        del runtime
