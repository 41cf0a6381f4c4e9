"""PyYAML, imported without the one thing of it that netknit never uses but pays for.

``import yaml`` loads PyYAML's pure-Python reader, whose class body compiles a regular
expression of every printable Unicode range: ~4 ms of a ~11 ms import, in every command
that reads a topology. netknit parses with libyaml (the C loader), which never uses it. That
one pattern is compiled on first use instead, should anything use the pure-Python reader;
every other pattern is compiled as usual. Import PyYAML through this module (or after it):
once imported, ``import yaml`` anywhere gets the same module.
"""

from __future__ import annotations

import re
from typing import Any

#: the start of ``yaml.reader.Reader.NON_PRINTABLE``
_READER_PATTERN = "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff"


class _CompiledOnUse:
    """A pattern that is compiled when first used: it answers as the compiled one."""

    def __init__(self, pattern: str, flags: int) -> None:
        self._args = (pattern, flags)
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        if self._compiled is None:
            self._compiled = _compile_now(*self._args)
        return getattr(self._compiled, name)


def _compile(pattern: Any, flags: Any = 0) -> Any:
    if isinstance(pattern, str) and pattern.startswith(_READER_PATTERN):
        return _CompiledOnUse(pattern, flags)
    return _compile_now(pattern, flags)


_compile_now = re.compile
# only while PyYAML's modules run (a no-op if it was imported already); another thread
# compiling meanwhile gets its pattern compiled as usual
setattr(re, "compile", _compile)  # noqa: B010 - mypy: re.compile is not assignable
try:
    import yaml
    from yaml.constructor import SafeConstructor
    from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
finally:
    setattr(re, "compile", _compile_now)  # noqa: B010

__all__ = ["MappingNode", "Node", "SafeConstructor", "ScalarNode", "SequenceNode", "yaml"]
