"""A frozen record without ``dataclasses`` (see :class:`Record`)."""

from __future__ import annotations

__all__ = ["Record"]


class Record:
    """Base of the small immutable records on the CNI plugin's path (the kernel layer's
    results, ``Problem``, the CNI environment): compared and hashed by value, printed like
    a dataclass. Hand-written because ``import dataclasses`` costs ~20 ms, paid by every
    CNI call (a process per call).
    Subclasses list their fields, in order, in ``__match_args__`` (and in ``__slots__``)
    and set them in ``__init__`` with ``object.__setattr__``."""

    __slots__ = ()
    __match_args__: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__match_args__)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: "
                             f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: "
                             f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__name__}({fields})"

    def __getstate__(self) -> tuple[object, ...]:
        return self._values()

    def __setstate__(self, state: tuple[object, ...]) -> None:
        for name, value in zip(self.__match_args__, state, strict=True):
            object.__setattr__(self, name, value)
