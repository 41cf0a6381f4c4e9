"""The write-ahead journal of a lab's side effects.

Before netknit creates anything it appends an *intent* record for it and fsyncs; after,
a *done* record with what identifies the object (namespace inode, ifindex, pid and start
time). ``destroy`` removes every effect that has an intent and no *removed* record,
checking identity where it was recorded, so it cleans up after a crash at any point —
including between an intent and the effect (then there is nothing to remove, fine).

Intents of one step are written as a group with a single fsync (group commit): the safety
argument holds per record, and 500 namespaces cost one fsync instead of 500.

The journal is append-only JSON lines. A crash can tear only the last line; a torn last
line is ignored when reading (its effect, if any, was not yet started).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import StateError


@dataclass
class Effect:
    """A side effect netknit made (or was about to make).

    kind: ``netns`` | ``bridge`` | ``link`` | ``process``. ``ns`` is the namespace the
    object lives in (None: the host namespace). ``info`` collects identity details.
    """

    kind: str
    name: str
    ns: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    done: bool = False
    seq: int = 0  # order of the intent: undo runs in reverse

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ns or ''}:{self.name}"


def effect_key(kind: str, name: str, ns: str | None = None) -> str:
    return f"{kind}:{ns or ''}:{name}"


@dataclass
class JournalState:
    """What the journal says exists now."""

    effects: dict[str, Effect]
    markers: dict[str, Any]

    def live(self) -> list[Effect]:
        """Effects not yet removed, oldest first."""
        return sorted(self.effects.values(), key=lambda e: e.seq)


class Journal:
    """Append-only journal file. Not thread-safe: the engine writes from one thread."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def _append(self, records: Iterable[dict[str, Any]]) -> None:
        data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        if not data:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, data.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def intend(self, effects: Iterable[Effect]) -> None:
        self._append(
            {"op": "intent", "kind": e.kind, "name": e.name, "ns": e.ns, "info": e.info}
            for e in effects
        )

    def done(self, effects: Iterable[Effect]) -> None:
        self._append({"op": "done", "key": e.key, "info": e.info} for e in effects)

    def removed(self, keys: Iterable[str]) -> None:
        self._append({"op": "removed", "key": k} for k in keys)

    def mark(self, name: str, value: Any = True) -> None:
        self._append([{"op": "mark", "name": name, "value": value}])

    def read(self) -> JournalState:
        effects: dict[str, Effect] = {}
        markers: dict[str, Any] = {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return JournalState(effects, markers)
        lines = text.split("\n")
        seq = 0
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                if number >= len(lines) - 1:
                    break  # torn last line from a crash: its effect never started
                raise StateError(
                    f"{self.path}:{number}: journal is corrupt",
                    hint="remove the lab's objects by hand and delete the lab directory",
                ) from None
            op = rec.get("op")
            if op == "intent":
                seq += 1
                e = Effect(rec["kind"], rec["name"], rec.get("ns"), dict(rec.get("info") or {}),
                           seq=seq)
                effects[e.key] = e
            elif op == "done" and rec["key"] in effects:
                effects[rec["key"]].done = True
                effects[rec["key"]].info.update(rec.get("info") or {})
            elif op == "removed":
                effects.pop(rec["key"], None)
            elif op == "mark":
                markers[rec["name"]] = rec.get("value")
        return JournalState(effects, markers)

    def discard(self) -> None:
        """Forget the journal (after everything in it was removed)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
