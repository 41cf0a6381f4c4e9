"""The bytes of a topology file, read safely, and their digest: what ``destroy`` needs
of the file when the deploy's note already knows its lab (no YAML, no model imported)."""

from __future__ import annotations

import os
import stat
from os import PathLike

from ._digest import sha256

#: What a path is when it is not a regular file, for messages.
_FILE_TYPES = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


class Unreadable(Exception):
    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def read_bytes(path: str | PathLike[str]) -> bytes:
    """The bytes of a regular file; :class:`Unreadable` for anything else.

    Opened with O_NONBLOCK and checked with fstat before reading: a FIFO would block the
    open and the read forever, and /dev/zero would never end.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise Unreadable(f"cannot read the file: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = next((name for test, name in _FILE_TYPES if test(mode)), "not a regular file")
            raise Unreadable(f"cannot read the topology from {what}: give a *.clab.yml file")
        with open(fd, "rb", closefd=False) as f:
            return f.read()
    except OSError as exc:
        raise Unreadable(f"cannot read the file: {exc.strerror}") from None
    finally:
        os.close(fd)


def source_sha256(path: str | PathLike[str]) -> str | None:
    """sha256 of the bytes of the regular file at ``path`` (None: not readable, or not a
    regular file), as ``netknit.topology.load`` records it in ``Topology.source_sha256``."""
    try:
        return sha256(read_bytes(path)).hexdigest()
    except Unreadable:
        return None
