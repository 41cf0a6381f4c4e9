"""The lab directory: journal, desired state, atomic writes, one lock per lab."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ._dirs import SafeDir
from ._files import read_json, write_atomic, write_json_atomic
from ._journal import Effect, EffectKind, Journal, JournalState, effect_key
from ._labdir import HeldLab, LabDir
from ._schema import DEFAULT_RUNTIME, IfaceState, LabState, LinkState, NodeState


@contextlib.contextmanager
def lab_lock(lab_dir: Path, lab: str, action: str) -> Iterator[HeldLab]:
    """Hold the lock of the lab directory ``lab_dir`` (see :meth:`LabDir.lock`)."""
    with LabDir(lab_dir).lock(lab, action) as held:
        yield held


__all__ = [
    "DEFAULT_RUNTIME",
    "Effect",
    "EffectKind",
    "HeldLab",
    "IfaceState",
    "Journal",
    "JournalState",
    "LabDir",
    "LabState",
    "LinkState",
    "NodeState",
    "SafeDir",
    "effect_key",
    "lab_lock",
    "read_json",
    "write_atomic",
    "write_json_atomic",
]
