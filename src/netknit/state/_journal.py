"""The write-ahead journal of a lab's side effects.

Before netknit creates anything it appends an *intent* record for it and fsyncs; after,
a *done* record with what identifies the object (namespace inode, ifindex, pid and start
time). ``destroy`` removes every effect that has an intent and no *removed* record,
checking identity where it was recorded, so it cleans up after a crash at any point —
including between an intent and the effect (then there is nothing to remove, fine).

Intents of one step are written as a group with a single fsync (group commit): the safety
argument holds per record, and 500 namespaces cost one fsync instead of 500. Records about
objects that do not outlive the kernel (namespaces, links, bridges, moved devices,
processes) are written without fsync: a killed process loses nothing the kernel already
has, and a machine that crashes loses those objects with the records. Records of what
survives a reboot (containers, networks, files) are fsynced, and with them everything
written before.

The journal is append-only JSON lines, each written whole or not at all: a failed append
(a full disk) is cut back to where it started. A crash can tear only the last line; a torn
last line is ignored when reading (its effect, if any, was not yet started) and cut off
before the next append, so no record is ever glued onto half of another.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import field
from enum import StrEnum
from pathlib import Path
from typing import Any

from .._dataclass import dataclass
from .._errors import StateError
from ._dirs import PRIVATE_FILE_MODE, SafeDir, disk_full, write_all


class EffectKind(StrEnum):
    """What a journal record is about (written as its value: the file is unchanged)."""

    NETNS = "netns"  # a node's namespace (info: inode)
    BRIDGE = "bridge"  # a host bridge (info: ifindex)
    LINK = "link"  # a veth pair or a device born in place
    HOSTDEV = "hostdev"  # a host device moved into a node (info: what to restore)
    PROCESS = "process"  # a supervised ``cmd`` (info: pidfile, pid, start)
    CONTAINER = "container"  # a runtime's container (info: id, node, lab_dir)
    NETWORK = "network"  # a runtime's management network (info: id)
    FILE = "file"  # a file containerlab writes for a lab (name: its absolute path)
    HOSTS = "hosts"  # the lab's block in /etc/hosts (name: the lab; info: path)


#: kinds whose objects survive a reboot: their records are fsynced (see the module doc)
DURABLE = frozenset({EffectKind.CONTAINER, EffectKind.NETWORK, EffectKind.FILE,
                     EffectKind.HOSTS})


@dataclass
class Effect:
    """A side effect netknit made (or was about to make).

    ``ns`` is the namespace the object lives in (None: the host namespace). ``info``
    collects identity details.
    """

    kind: EffectKind
    name: str
    ns: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    done: bool = False
    seq: int = 0  # order of the intent: undo runs in reverse

    def __post_init__(self) -> None:
        self.kind = EffectKind(self.kind)  # a bare string (older callers) is checked here

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ns or ''}:{self.name}"


_encode = json.JSONEncoder(separators=(",", ":")).encode  # one encoder for every record


def _durable(kinds: Iterable[str]) -> bool:
    return any(kind in DURABLE for kind in kinds)


def effect_key(kind: EffectKind, name: str, ns: str | None = None) -> str:
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
    """Append-only journal file. Not thread-safe: the engine writes from one thread.

    Opened only through its checked directory (``opener``; by default the file's own
    parent directory, which must be trusted), never through a symbolic link.
    """

    def __init__(self, path: Path, opener: Callable[[bool], SafeDir] | None = None) -> None:
        self.path = path
        self._opener = opener or (lambda _create: SafeDir.at(path.parent))

    def exists(self) -> bool:
        try:
            with self._opener(False) as d:
                return d.exists(self.path.name)
        except FileNotFoundError:
            return False

    def _append(self, records: Iterable[dict[str, Any]], durable: bool) -> None:
        data = "".join(_encode(r) + "\n" for r in records).encode()
        if not data:
            return
        with self._opener(True) as d:
            fd = d.open(self.path.name, os.O_RDWR | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            size = _repair_tail(fd)
            try:
                write_all(fd, data)
                if durable:
                    os.fsync(fd)
            except OSError as exc:
                # whole lines or nothing: drop what part of the lines made it to disk
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                    os.fsync(fd)
                raise disk_full(self.path, exc) from None
        finally:
            os.close(fd)

    def intend(self, effects: Iterable[Effect]) -> None:
        effects = list(effects)
        self._append(
            ({"op": "intent", "kind": str(e.kind), "name": e.name, "ns": e.ns, "info": e.info}
             for e in effects), _durable(e.kind for e in effects))

    def done(self, effects: Iterable[Effect]) -> None:
        effects = list(effects)
        self._append(({"op": "done", "key": e.key, "info": e.info} for e in effects),
                     _durable(e.kind for e in effects))

    def removed(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._append(({"op": "removed", "key": k} for k in keys),
                     _durable(k.partition(":")[0] for k in keys))

    def mark(self, name: str, value: Any = True) -> None:
        self._append([{"op": "mark", "name": name, "value": value}], durable=True)

    def read(self) -> JournalState:
        effects: dict[str, Effect] = {}
        markers: dict[str, Any] = {}
        try:
            with self._opener(False) as d:
                data = d.read_bytes(self.path.name)
        except FileNotFoundError:
            return JournalState(effects, markers)
        lines = data.split(b"\n")
        # the last piece has no newline: empty, or a line torn by a crash whose effect
        # never started
        lines.pop()
        seq = 0
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw.decode("utf-8"))
                if not isinstance(rec, dict):
                    raise ValueError("not a record")
                op = rec.get("op")
                if op == "intent":
                    seq += 1
                    e = Effect(EffectKind(str(rec["kind"])), str(rec["name"]), rec.get("ns"),
                               dict(rec.get("info") or {}), seq=seq)
                    effects[e.key] = e
                elif op == "done" and rec["key"] in effects:
                    effects[rec["key"]].done = True
                    effects[rec["key"]].info.update(rec.get("info") or {})
                elif op == "removed":
                    effects.pop(rec["key"], None)
                elif op == "mark":
                    markers[rec["name"]] = rec.get("value")
            except (ValueError, KeyError, TypeError, AttributeError):
                raise StateError(
                    f"{self.path}:{number}: journal is corrupt (line {number} is not a "
                    "journal record)",
                    hint="netknit cannot tell what this lab made: remove the lab's "
                    "objects by hand (`ip netns`, `ip link`, `docker ps -a --filter "
                    "label=containerlab`), then delete the lab directory",
                ) from None
        return JournalState(effects, markers)

    def discard(self) -> None:
        """Forget the journal (after everything in it was removed)."""
        with contextlib.suppress(FileNotFoundError), self._opener(False) as d:
            d.unlink(self.path.name)


def _repair_tail(fd: int) -> int:
    """Cut a torn last line (a crash or a full disk mid-append) before appending after
    it; returns the size of the journal, whole lines only."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    data = os.pread(fd, size, 0)
    whole = data.rfind(b"\n") + 1
    os.ftruncate(fd, whole)
    os.fsync(fd)
    return whole
