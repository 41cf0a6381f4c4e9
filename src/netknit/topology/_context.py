"""Where problems and notices are collected while one file is checked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from netknit._errors import Problem
from netknit.topology._yaml import Document, YPath, format_path


def suggest(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'image'?"`` when a candidate is close to ``word``, else ``""``."""
    import difflib  # only for a mistake

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


#: Where a value was written: its file and 1-based line (a lab built in Python: the
#: ``add_node``/``add_link`` call that wrote it).
Site = tuple[str, int]


class Context:
    """One load: the document, the runtime asked for, and every problem found so far.

    ``sites``: where each value was written when the values come from more than one file
    (a :class:`netknit.Lab` built in code); problems then name that file and line.
    """

    def __init__(self, file: str, doc: Document, runtime: str | None,
                 sites: Mapping[YPath, Site] | None = None) -> None:
        self.file = file
        self.doc = doc
        self.runtime = runtime
        self.sites = sites
        self.problems: list[Problem] = []
        self.notices: list[str] = []
        self.hints: list[str] = []
        self._seen: set[tuple[YPath, str]] = set()

    def add(self, path: YPath, message: str, *, line: int | None = None) -> None:
        """Record a problem at ``path``; the same message at the same place only once."""
        if (path, message) in self._seen:
            return
        self._seen.add((path, message))
        file, where = self.site(path)
        self.problems.append(Problem(file, format_path(path), message,
                                     line if line is not None else where))

    def site(self, path: YPath) -> tuple[str, int | None]:
        """The file and line of ``path``, or of its nearest ancestor we know."""
        if self.sites is not None:
            for end in range(len(path), -1, -1):
                site = self.sites.get(path[:end])
                if site is not None:
                    return site
        return self.file, self.doc.line(path)

    def hint(self, text: str) -> None:
        if text not in self.hints:
            self.hints.append(text)

    def at(self, path: YPath) -> str:
        """``topology.links[0].endpoints[1] (line 12)``: a reference to another place."""
        file, line = self.site(path)
        if not line:
            return format_path(path)
        where = f"line {line}" if file == self.file else f"{file}:{line}"
        return f"{format_path(path)} ({where})"

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
