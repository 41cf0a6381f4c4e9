"""Every lab on this machine, found by the identity marks its objects carry (never by
name patterns): the alias of host interfaces and of each namespace's ``lo``
(:mod:`._marks`), and the runtimes' labels (containers carry their lab directory).

A kernel mark holds a digest of the lab directory, not its path. Deploy therefore
registers each lab in ``/run/netknit/labs/<digest>.json`` (lab name, lab directory),
tmpfs like the namespaces it explains; an entry is believed only if its directory hashes
to the digest of the mark that led to it. A lab whose entry is lost is still found, and
destroyed by its mark alone.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..kernel import Netlink, links_with_alias
from ..kernel import netns as kernel_netns
from ..runtimes import Runtimes
from ..state import LabDir, SafeDir
from ._marks import MARK_WORD, lab_mark

REGISTRY = Path("/run/netknit/labs")


def _digest(mark: str) -> str:
    return mark.split()[1] if len(mark.split()) > 1 else ""


def register(lab: str, lab_dir: LabDir) -> None:
    """Record where the lab's directory is, for `destroy --all` (before the first object
    carrying its mark is made)."""
    REGISTRY.mkdir(parents=True, exist_ok=True, mode=0o755)
    data = json.dumps({"lab": lab, "lab_dir": str(lab_dir.path)}).encode()
    with SafeDir.at(REGISTRY, check=False) as directory:
        directory.write_atomic(f"{_digest(lab_mark(lab, lab_dir))}.json", data, 0o644)


def unregister(lab: str, lab_dir: LabDir) -> None:
    with contextlib.suppress(OSError), SafeDir.at(REGISTRY, check=False) as directory:
        directory.unlink(f"{_digest(lab_mark(lab, lab_dir))}.json")


@dataclass
class FoundLab:
    """A lab on this machine: its mark, and its name and directory where known."""

    mark: str
    name: str
    lab_dir: LabDir | None = None  # None: only its mark is known (its entry was lost)
    where: set[str] = field(default_factory=set)  # what carries its mark

    def to_json(self) -> dict[str, object]:
        return {"lab": self.name, "lab_dir": str(self.lab_dir.path) if self.lab_dir else None,
                "mark": self.mark, "found_in": sorted(self.where)}


def _registered(mark: str) -> tuple[str, LabDir] | None:
    """The registry's entry for ``mark``, if its directory hashes to the mark's digest."""
    try:
        with SafeDir.at(REGISTRY, check=False) as directory:
            entry = json.loads(directory.read_bytes(f"{_digest(mark)}.json"))
        lab, lab_dir = str(entry["lab"]), LabDir(Path(str(entry["lab_dir"])))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (lab, lab_dir) if _digest(lab_mark(lab, lab_dir)) == _digest(mark) else None


def find_labs() -> list[FoundLab]:
    """Every netknit lab on this machine, by the marks and labels of its objects."""
    found: dict[str, FoundLab] = {}

    def add(mark: str, what: str) -> None:
        lab = found.get(_digest(mark))
        if lab is None:
            words = mark.split(maxsplit=2)
            lab = found[_digest(mark)] = FoundLab(mark, words[2] if len(words) > 2 else "")
            entry = _registered(mark)
            if entry is not None:
                lab.name, lab.lab_dir = entry
        lab.where.add(what)

    with Netlink.here() as host:
        for item in links_with_alias(host):
            if item.alias.startswith(f"{MARK_WORD} "):
                add(item.alias, "interfaces")
    for _inode, alias in kernel_netns.marks().values():
        if alias.startswith(f"{MARK_WORD} "):
            add(alias, "namespaces")
    for runtime in Runtimes(REGISTRY).every():
        for lab, path in runtime.labs():
            lab_dir = LabDir(path)
            add(lab_mark(lab, lab_dir), runtime.noun)
            entry = found[_digest(lab_mark(lab, lab_dir))]
            entry.name, entry.lab_dir = lab, lab_dir  # labels name the directory itself
    return sorted(found.values(), key=lambda f: (f.name, f.mark))


__all__ = ["REGISTRY", "FoundLab", "find_labs", "register", "unregister"]
