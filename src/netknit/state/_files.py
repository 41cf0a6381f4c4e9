"""Atomic file writes.

A crash (or ``kill -9``) must never leave a half-written file: every file is written to a
temporary file in the same directory, fsynced, renamed over the target, and the directory
is fsynced so that the rename itself survives a power cut.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .._json import dumps_indented
from ._dirs import SafeDir


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, whole.
    The file itself is never followed if it is a symbolic link (it is replaced)."""
    with SafeDir.at(path.parent, check=False) as parent:
        parent.write_atomic(path.name, data, mode)


def write_json_atomic(path: Path, obj: Any) -> None:
    write_atomic(path, json_bytes(obj))


def json_bytes(obj: Any) -> bytes:
    """``obj`` as indented JSON (what ``json.dumps(obj, indent=2)`` writes), newline-ended."""
    return (dumps_indented(obj) + "\n").encode()


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)
