"""A package's public names, each imported from its module on first use (PEP 562): a
command pays only for the modules it touches (``destroy`` needs neither the planner nor
the apply machinery, whose dataclasses are built at import)."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping


def exports(package: str, where: Mapping[str, str], names: Iterable[str]
            ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: a name found in ``where`` is
    imported from ``package.<where[name]>`` and kept in the package for the next use.
    The package lists the same names under ``TYPE_CHECKING`` for the type checker."""
    namespace = sys.modules[package].__dict__
    listed = frozenset(names)

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        __import__(f"{package}.{module}")
        value = getattr(sys.modules[f"{package}.{module}"], name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *listed})

    return __getattr__, __dir__
