"""Where problems and notices are collected while one file is checked."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from netknit._errors import Problem
from netknit.topology._yaml import Document, YPath, format_path


def suggest(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'image'?"`` when a candidate is close to ``word``, else ``""``."""
    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def show(value: Any) -> str:
    """A short rendering of a user's value for messages."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Context:
    """One load: the document, the runtime asked for, and every problem found so far."""

    def __init__(self, file: str, doc: Document, runtime: str | None) -> None:
        self.file = file
        self.doc = doc
        self.runtime = runtime
        self.problems: list[Problem] = []
        self.notices: list[str] = []
        self.hints: list[str] = []
        self._seen: set[tuple[YPath, str]] = set()

    def add(self, path: YPath, message: str, *, line: int | None = None) -> None:
        """Record a problem at ``path``; the same message at the same place only once."""
        if (path, message) in self._seen:
            return
        self._seen.add((path, message))
        where = line if line is not None else self.doc.line(path)
        self.problems.append(Problem(self.file, format_path(path), message, where))

    def hint(self, text: str) -> None:
        if text not in self.hints:
            self.hints.append(text)

    def at(self, path: YPath) -> str:
        """``topology.links[0].endpoints[1] (line 12)``: a reference to another place."""
        line = self.doc.line(path)
        return f"{format_path(path)} (line {line})" if line else format_path(path)

    def text(self, path: YPath, value: Any) -> str:
        """A scalar as containerlab reads it into a string field: its source text."""
        if isinstance(value, str):
            return value
        if value is None:
            return ""
        source = self.doc.text(path)
        return source if source is not None else str(value)

    def strings(self, mapping: dict[str, Any] | None, path: YPath) -> dict[str, str]:
        """``env``/``labels``: scalar values become their source text, as in containerlab."""
        out: dict[str, str] = {}
        for key, value in (mapping or {}).items():
            if isinstance(value, dict | list):
                self.add((*path, key), f"expected a single value, not {show(value)}")
            else:
                out[key] = self.text((*path, key), value)
        return out
