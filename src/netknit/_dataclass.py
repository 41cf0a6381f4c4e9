"""``dataclass``, with the methods it generates for netknit kept compiled between runs.

For every dataclass, the standard library writes the source of ``__init__``, ``__repr__``,
``__eq__``, ``__hash__`` (and, frozen, ``__setattr__``/``__delattr__``) and compiles it at
import: a 2-node deploy imports ~80 of netknit's dataclasses, ~400 compiles, ~60 ms of CPU
of a ~220 ms command (issue 18). The source of those methods only changes when a class
does, so their code objects are kept, as Python keeps a module's: in ``__pycache__``
(``_dataclass.<tag>.marshal``, keyed by the source text, so an edited class simply misses;
each entry marshalled on its own and unmarshalled only when a class uses it).

How: ``dataclasses`` compiles with the ``exec`` builtin, looked up in its module's globals
first. This module puts a stand-in there that uses the cache when the class being made
belongs to netknit and is exactly ``exec`` otherwise; the classes themselves are made by
the standard ``dataclass``, which every netknit module imports from here so that the
stand-in is in place before its first class.
"""

from __future__ import annotations

import atexit
import builtins
import dataclasses
import marshal
import os
import sys
from dataclasses import dataclass

__all__ = ["dataclass"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType

_PATH = os.path.join(os.path.dirname(__file__), "__pycache__",
                     f"_dataclass.{sys.implementation.cache_tag}.marshal")
_KEEP_AT_MOST = 2000  # entries kept in the file: old ones go when classes churn

#: source -> its code, or the code still marshalled (as read from the file: a command
#: unmarshals only the ~10% of the entries it uses, ~1.5 ms less than all of them)
_cache: dict[str, CodeType | bytes] = {}
_used: set[str] = set()
_new = False


def _load() -> None:
    try:
        with open(_PATH, "rb") as file:
            data = file.read()
        loaded = marshal.loads(data)  # not marshal.load(file): that reads bit by bit
    except (OSError, EOFError, ValueError, TypeError):
        return  # none yet, or unreadable (another Python wrote it): compile afresh
    if isinstance(loaded, dict):
        _cache.update(loaded)
        if any(not isinstance(code, bytes) for code in loaded.values()):
            global _new
            _new = True  # a file of unmarshalled code (as written before): rewrite it


def _exec(source: object, globals: dict[str, object] | None = None,
          locals: dict[str, object] | None = None) -> None:
    """``exec``, with netknit's generated methods compiled once per source text."""
    module = globals.get("__name__") if isinstance(globals, dict) else None
    if not (isinstance(source, str) and isinstance(module, str)
            and module.startswith("netknit.")):
        builtins.exec(source, globals, locals)  # type: ignore[arg-type]
        return
    code = _cache.get(source)
    if isinstance(code, bytes):
        try:
            code = _cache[source] = marshal.loads(code)
        except (EOFError, ValueError, TypeError):
            code = None
    if code is None:
        global _new
        # the flags of dataclasses' own exec: none inherited from this module's futures
        code = compile(source, "<string>", "exec", dont_inherit=True)
        _cache[source] = code
        _new = True
    _used.add(source)
    builtins.exec(code, globals, locals)


def save() -> None:
    """Write the cache if this process compiled anything new (at exit; the resident also
    once it has loaded everything, so that its children have nothing to write)."""
    global _new
    if not _new or sys.dont_write_bytecode:
        return
    kept = _cache if len(_cache) <= _KEEP_AT_MOST else {s: _cache[s] for s in _used}
    keep = {s: c if isinstance(c, bytes) else marshal.dumps(c) for s, c in kept.items()}
    temp = f"{_PATH}.{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(_PATH), exist_ok=True)
        with open(temp, "wb") as file:
            file.write(marshal.dumps(keep))
        os.replace(temp, _PATH)  # whole or not at all, for a concurrent reader
        _new = False
    except OSError:
        # a read-only install: the next run compiles again, as without this module
        try:  # noqa: SIM105 - contextlib costs an import at every exit
            os.unlink(temp)
        except OSError:
            pass


_load()
dataclasses.exec = _exec  # type: ignore[attr-defined]
atexit.register(save)
