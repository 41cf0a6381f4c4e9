"""The repair log: what each repair found and how it ended, for ``netknit events``.

Every repair (``watch``, ``reconcile``, ``start``) appends, to ``.netknit/repairs.jsonl``
in the lab directory, a ``found`` record per drift *before* it repairs, then a
``repaired`` or ``failed`` record per drift after. ``events`` tails the file: it never
takes the lab's lock, so reporting never delays or refuses a repair, and the one who
repairs is the one who says what it found and did (a repair is often over before a
second look could see the drift). A log over :data:`MAX_BYTES` is rotated to
``repairs.jsonl.1``; a reader follows the new file.

``watch`` also holds ``watch.lock`` (shared) while it runs: ``events`` looks for drift
itself (read-only, as ``inspect interfaces`` does) only when no watcher holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from .._errors import NetknitError
from ..state import LabDir
from ..state._dirs import PRIVATE_FILE_MODE, write_all
from ..state._labdir import META

LOG = "repairs.jsonl"
WATCH_LOCK = "watch.lock"
#: the log is rotated past this size (one older file is kept)
MAX_BYTES = 1 << 20


def record(action: str, drift: Any, when: float) -> dict[str, Any]:
    """A record of a reconcile ``Drift`` (``found``, ``repaired`` or ``failed``)."""
    return {"time": when, "action": action, "node": drift.node, "iface": drift.iface or "",
            "found": drift.found, "repair": drift.action, "status": drift.status}


def append(lab_dir: LabDir, records: Iterable[dict[str, Any]]) -> None:
    """Append records (whole lines, one write); never fails the repair that logs."""
    data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
    if not data:
        return
    with contextlib.suppress(OSError, ValueError, NetknitError), lab_dir.open(META) as meta:
        fd = meta.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            write_all(fd, data)
            if os.fstat(fd).st_size > MAX_BYTES:
                os.rename(LOG, f"{LOG}.1", src_dir_fd=meta.fd, dst_dir_fd=meta.fd)
        finally:
            os.close(fd)


def log_repair(lab_dir: LabDir, drifts: Iterable[Any], *, done: bool) -> None:
    """Log a repair's drifts: as found (``done`` False) or with how they ended."""
    now = time.time()
    if not done:
        append(lab_dir, (record("found", d, now) for d in drifts))
        return
    append(lab_dir, (record("repaired" if d.status == "repaired" else "failed", d, now)
                     for d in drifts if d.status == "repaired" or d.status.startswith("failed")))


class Tail:
    """New records of the log as they are appended (from its end when opened)."""

    def __init__(self, lab_dir: LabDir) -> None:
        self.lab_dir = lab_dir
        self.fd = -1
        self.inode = 0
        self.rest = b""
        self._open(at_end=True)

    def _open(self, *, at_end: bool) -> None:
        try:
            with self.lab_dir.open(META) as meta:
                fd = meta.open(LOG, os.O_RDONLY)
        except (OSError, ValueError, NetknitError):
            return
        if self.fd >= 0:
            os.close(self.fd)
        self.fd, self.inode, self.rest = fd, os.fstat(fd).st_ino, b""
        if at_end:
            os.lseek(fd, 0, os.SEEK_END)

    def _replaced(self) -> bool:
        try:
            with self.lab_dir.open(META) as meta:
                return os.stat(LOG, dir_fd=meta.fd).st_ino != self.inode
        except (OSError, ValueError, NetknitError):
            return False

    def read(self) -> list[dict[str, Any]]:
        out = list(self._lines())
        if self.fd < 0 or self._replaced():  # created, or rotated: read the new one whole
            self._open(at_end=False)
            out += self._lines()
        return out

    def _lines(self) -> Iterator[dict[str, Any]]:
        if self.fd < 0:
            return
        while chunk := os.read(self.fd, 1 << 16):
            self.rest += chunk
        *whole, self.rest = self.rest.split(b"\n")
        for line in whole:
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if isinstance(rec, dict):
                    yield rec

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@contextlib.contextmanager
def watching(lab_dir: LabDir) -> Iterator[None]:
    """Say, while the block runs, that a watcher repairs this lab (a shared flock: the
    kernel drops it when the watcher dies, however it dies)."""
    fd = -1
    with contextlib.suppress(OSError, ValueError, NetknitError), \
            lab_dir.open(META, create=True) as meta:
        fd = meta.open(WATCH_LOCK, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        yield
    finally:
        if fd >= 0:
            os.close(fd)


def watcher_running(lab_dir: LabDir) -> bool:
    try:
        with lab_dir.open(META) as meta:
            fd = meta.open(WATCH_LOCK, os.O_RDWR)
    except (OSError, ValueError, NetknitError):
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the probe's lock, if it got it
    return False
