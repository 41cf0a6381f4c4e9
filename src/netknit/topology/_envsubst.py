"""Environment substitution in the topology text, as containerlab does it.

containerlab reads a topology (core/file.go LoadTopologyFromFile) by rendering it as a
Go template, then expanding environment variables with
``envsubst.BytesRestrictedNoReplace(b, false, false, true, true)`` (github.com/hellt/envsubst
v0.2.0: noUnset=false, noEmpty=false, noDigit=true, noReplace=true). This module
reproduces that expansion (parse/lex.go, parse/parse.go, parse/node.go):

- ``$VAR`` and ``${VAR}`` become the variable's value; unset or empty, they are left as
  ``$VAR`` (noReplace; note the braces are dropped, as containerlab drops them);
- ``${VAR:-default}`` and ``${VAR:=default}`` give the default when VAR is unset or empty
  (``:=`` assigns nothing); ``${VAR-d}``/``${VAR=d}`` when unset only; ``${VAR+alt}`` and
  ``${VAR:+alt}`` give ``alt`` when VAR is set, else nothing;
- ``$$`` is one ``$``; ``$1``/``${1}`` (a digit first) stay as written (noDigit);
  a ``$`` before anything else stays;
- a ``${`` without its ``}`` on the same line is an error ("closing brace expected").

Go templates are not rendered: a ``{{`` is reported (see :func:`template_lines`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field

from .._dataclass import dataclass

_OPS = (":-", ":=", ":+", "-", "=", "+")


class EnvsubstError(Exception):
    """A ``${`` that containerlab's envsubst refuses, with its 1-based line."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(slots=True)
class Expanded:
    """The substituted text; where each of its lines came from when values added lines;
    the ``${VAR}`` left as written because VAR is unset (line, name)."""

    text: str
    source_lines: list[int] | None = None  # index: output line - 1 -> source line
    unset: list[tuple[int, str]] = field(default_factory=list)

    def line(self, out: int | None) -> int | None:
        """The source line of output line ``out``."""
        if out is None or self.source_lines is None or not 0 < out <= len(self.source_lines):
            return out
        return self.source_lines[out - 1]


def template_lines(text: str) -> list[int]:
    """The lines holding ``{{``: containerlab renders the whole file as a Go template
    (text/template, before the env expansion), netknit does not."""
    return [n for n, line in enumerate(text.split("\n"), 1) if "{{" in line]


def _alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdecimal()  # Go: '_', IsLetter, IsDigit


def _name(text: str, start: int) -> int:
    end = start
    while end < len(text) and _alnum(text[end]):
        end += 1
    return end


def expand(text: str, env: Mapping[str, str]) -> Expanded:
    """``text`` with its variables expanded from ``env``; :class:`EnvsubstError` on a bad
    ``${``. Expansion never spans lines (a ``${`` ends on its own line), so it goes line
    by line, which keeps every line's origin."""
    out: list[str] = []
    unset: list[tuple[int, str]] = []
    added = False
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        expanded = _line(line, number, env, unset) if "$" in line else line
        added = added or "\n" in expanded
        out.append(expanded)
    source: list[int] | None = None
    if added:
        source = [n for n, chunk in enumerate(out, 1) for _ in range(chunk.count("\n") + 1)]
    return Expanded("\n".join(out), source, unset)


def _value(name: str, env: Mapping[str, str]) -> str:
    """node.go VariableNode.String with noReplace: unset or empty stays ``$NAME``."""
    return env.get(name) or f"${name}"


def _line(line: str, number: int, env: Mapping[str, str], unset: list[tuple[int, str]]
          ) -> str:
    out: list[str] = []
    i = 0
    while i < len(line):
        ch = line[i]
        nxt = line[i + 1] if i + 1 < len(line) else ""
        if ch != "$":
            out.append(ch)
            i += 1
        elif nxt.isdecimal():  # noDigit: "$1" stays
            out.append(ch + nxt)
            i += 2
        elif nxt == "$":  # "$$" is one "$"
            out.append("$")
            i += 2
        elif nxt == "{":
            i = _braced(line, i, number, env, out, unset)
        elif _alnum(nxt):
            end = _name(line, i + 1)
            name = line[i + 1:end]
            out.append(line[i:end] if name == "_" else _value(name, env))  # "$_" stays
            i = end
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _braced(line: str, i: int, number: int, env: Mapping[str, str], out: list[str],
            unset: list[tuple[int, str]]) -> int:
    """``${...}`` at ``line[i]``: appends its expansion, returns where to go on."""
    start = i + 2
    if start < len(line) and line[start].isdecimal():  # noDigit: "${1" stays
        out.append(line[i:start + 1])
        return start + 1
    close = line.find("}", start)
    if close < 0 or "\r" in line[start:close]:
        raise EnvsubstError(f"environment variable substitution: closing brace expected after "
                            f"{line[i:i + 20]!r} (write '$${{' for a literal '${{')", number)
    end = _name(line, start)
    name = line[start:end]
    if not name or name == "_":  # not a variable: containerlab keeps the text as written
        out.append(line[i:close + 1])
        return close + 1
    rest = line[end:close]
    op = next((o for o in _OPS if rest.startswith(o)), None)
    default = rest[len(op):] if op else ""
    if op is None or default == "":  # no default: the variable alone (node.go)
        value = _value(name, env)
        if value == f"${name}":
            unset.append((number, name))
        out.append(value)
        return close + 1
    alt = _default(default, env)
    if op in (":-", ":="):
        value = _value(name, env)
        out.append(alt if value == f"${name}" else value)
    elif op in ("-", "="):
        out.append(_value(name, env) if name in env else alt)
    else:  # "+", ":+"
        out.append(alt if name in env else "")
    return close + 1


_VAR_FIRST = re.compile(r"\$([^\W\d]\w*)")


def _default(text: str, env: Mapping[str, str]) -> str:
    """A default as parse.go action() builds it: ``$B`` alone is the variable B; text
    after it replaces it (containerlab's parser keeps the last piece); any other text is
    taken as written."""
    match = _VAR_FIRST.match(text)
    if match is None:
        return text
    if match.end() == len(text):
        return _value(match.group(1), env)
    return text[match.end():]
