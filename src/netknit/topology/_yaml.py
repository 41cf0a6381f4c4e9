"""A YAML loader that remembers where every value came from.

PyYAML's own constructors lose line numbers and silently keep the last of two duplicate
keys. We let PyYAML compose the node graph (the C composer when available) and build the
Python values ourselves, recording for every value its YAML path and line, every
duplicate key, and the source text of non-string scalars (containerlab reads
``env: {A: 1.50}`` as the string ``"1.50"``, not as a float).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import field
from typing import Any

from .._dataclass import dataclass
from .._pyyaml import MappingNode, Node, SafeConstructor, ScalarNode, SequenceNode, yaml

#: A location in the document: mapping keys and sequence indexes, from the root.
YPath = tuple[str | int, ...]

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
#: Guard against alias bombs ("billion laughs"): values built by expanding aliases (a
#: node met a second time). The values written out in the file are bounded by its size
#: and never counted; no real topology's anchors come near this.
_MAX_ALIAS_VALUES = 200_000
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


class YamlError(Exception):
    """The text is not a YAML document we can use."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A mapping key written twice; the first occurrence is the one kept."""

    path: YPath
    line: int
    first_line: int


@dataclass(slots=True)
class Document:
    """Plain Python data (dict/list/scalars) plus where each piece was written."""

    data: Any
    lines: dict[YPath, int] = field(default_factory=dict)
    scalars: dict[YPath, str] = field(default_factory=dict)
    duplicates: list[Duplicate] = field(default_factory=list)

    def line(self, path: YPath) -> int | None:
        """The 1-based line of ``path``, or of its nearest ancestor we know."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def remap(self, line: Callable[[int], int | None]) -> None:
        """Lines of a text derived from the file (env substitution) back to the file's."""
        self.lines = {path: line(n) or n for path, n in self.lines.items()}
        self.duplicates = [Duplicate(d.path, line(d.line) or d.line,
                                     line(d.first_line) or d.first_line)
                           for d in self.duplicates]

    def text(self, path: YPath) -> str | None:
        """The source text of a non-string scalar (``1.50``, ``yes``), if it was one."""
        return self.scalars.get(path)


def format_path(path: YPath) -> str:
    """``("topology", "links", 2, "endpoints", 1)`` -> ``topology.links[2].endpoints[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def load(text: str) -> Document:
    """Parse one YAML document. Raises :class:`YamlError` with a line where known."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        # e.g. "while parsing a flow sequence (line 3): did not find expected ',' or ']'"
        context = exc.context or ""
        if context and exc.context_mark and exc.context_mark.line + 1 != line:
            context += f" (line {exc.context_mark.line + 1})"
        what = ": ".join(x for x in (context, exc.problem) if x) or "not valid YAML"
        raise YamlError(f"YAML syntax error: {what}", line) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        what = f"{exc.reason} (character {exc.character!r})"
        raise YamlError(f"YAML syntax error: {what}", line) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error above is marked
        raise YamlError(f"YAML syntax error: {exc}") from None
    if root is None:
        raise YamlError("the file is empty")
    walker = _Walker()
    data = walker.value(root, ())
    walker.doc.data = data
    walker.doc.lines[()] = root.start_mark.line + 1
    return walker.doc


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Walker:
    """Turns composed YAML nodes into Python values, recording paths and lines."""

    def __init__(self) -> None:
        self.doc = Document(data=None)
        self._constructor = SafeConstructor()
        self._open: set[int] = set()  # ids of collections being built: catches alias loops
        self._nodes: set[int] = set()  # ids of every node met: a node met again is an alias
        self._count = 0  # values built

    def value(self, node: Node, path: YPath) -> Any:
        self._count += 1
        self._nodes.add(id(node))
        if self._count - len(self._nodes) > _MAX_ALIAS_VALUES:
            raise YamlError(f"YAML aliases expand to too many values (more than "
                            f"{_MAX_ALIAS_VALUES}): an alias bomb? use fewer aliases",
                            _line(node))
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._open:
            raise YamlError("a YAML alias refers to a value that contains it", _line(node))
        self._open.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return self._sequence(node, path)
            raise YamlError("unexpected YAML node", _line(node))  # pragma: no cover
        finally:
            self._open.discard(id(node))

    def _scalar(self, node: ScalarNode, path: YPath) -> Any:
        try:
            value = self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            what = getattr(exc, "problem", None) or str(exc)
            raise YamlError(f"cannot read this value: {what}", _line(node)) from None
        if not isinstance(value, str):
            self.doc.scalars[path] = str(node.value)
        return value

    def _sequence(self, node: SequenceNode, path: YPath) -> list[Any]:
        if node.tag != _SEQ_TAG:
            raise YamlError(f"unsupported YAML tag {node.tag!r}", _line(node))
        out = []
        for index, item in enumerate(node.value):
            self.doc.lines[(*path, index)] = _line(item)
            out.append(self.value(item, (*path, index)))
        return out

    def _mapping(self, node: MappingNode, path: YPath) -> dict[str, Any]:
        if node.tag != _MAP_TAG:
            raise YamlError(f"unsupported YAML tag {node.tag!r}", _line(node))
        out: dict[str, Any] = {}
        # Merge keys (``<<: *anchor``) first, so that keys written here override them.
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self._merge(out, value_node, path)
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            if not isinstance(key_node, ScalarNode):
                raise YamlError("a mapping key must be a plain value", _line(key_node))
            # The key's source text: ``1:`` or ``yes:`` stay the strings "1" and "yes".
            key = str(key_node.value)
            line = _line(key_node)
            if key in first_line:
                self.doc.duplicates.append(Duplicate((*path, key), line, first_line[key]))
                continue
            first_line[key] = line
            self.doc.lines[(*path, key)] = line
            out[key] = self.value(value_node, (*path, key))
        return out

    def _merge(self, out: dict[str, Any], node: Node, path: YPath) -> None:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, MappingNode):
                raise YamlError("a YAML merge key (<<) needs a mapping", _line(source))
            for key, value in self.value(source, path).items():
                out.setdefault(key, value)  # the earlier source wins, as YAML specifies
