"""The lab directory: journal, desired state, atomic writes, one lock per lab."""

from ._files import lab_lock, read_json, write_atomic, write_json_atomic
from ._journal import Effect, Journal, JournalState, effect_key
from ._labdir import LabDir

__all__ = [
    "Effect",
    "Journal",
    "JournalState",
    "LabDir",
    "effect_key",
    "lab_lock",
    "read_json",
    "write_atomic",
    "write_json_atomic",
]
