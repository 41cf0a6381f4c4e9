"""Every lab on this machine, found by the identity marks its objects carry.

The marks (:mod:`._marks`) say which labs exist: the alias of a namespace's ``lo`` or of
a host interface, and a runtime's labels (a container carries its lab directory).
A mark names the lab and hashes its directory's path but cannot hold that path, so each
deploy also leaves a note in ``/run/netknit/labs/<digest>.json`` (the lab directory, its
topology file and its owner), removed again by destroy. A note only explains a mark: it
never makes a lab appear, and one whose path does not hash to the mark is ignored.
``/run`` is a tmpfs, like ``/run/netns`` where the namespaces live.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._dataclass import dataclass
from .._errors import NetknitError
from .._source import source_sha256
from ..kernel import Netlink, links_with_alias
from ..kernel import netns as kernel_netns
from ..runtimes import Runtimes
from ..state import LabDir, SafeDir
from ..state._dirs import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE
from ..state._files import json_bytes
from ._marks import MARK_WORD, lab_mark
from ._report import Reporter, SilentReporter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..topology import Topology

#: where deploys leave the notes that map a mark to its lab directory
NOTES_DIR = Path("/run/netknit/labs")


@dataclass(frozen=True, slots=True)
class FoundLab:
    """A lab whose objects exist on this machine."""

    name: str
    mark: str
    lab_dir: LabDir | None  # None: its mark is there but nothing says where its files are
    topology: Path | None  # its topology file as deployed (may since have gone)
    owner: str = ""


def _digest(mark: str) -> str:
    return mark.split(" ")[1]


def _notes(create: bool) -> SafeDir:
    with SafeDir.at(NOTES_DIR.parent.parent, check=False) as run, \
            run.subdir(NOTES_DIR.parent.name, create=create, mode=PRIVATE_DIR_MODE) as top:
        return top.subdir(NOTES_DIR.name, create=create, mode=PRIVATE_DIR_MODE)


def note_lab(topo: Topology, lab_dir: LabDir) -> None:
    """Leave the note that explains the lab's mark (before its first object exists)."""
    from ..plan import deploying_user  # loaded by the deploy already; not by destroy

    note = {"lab": topo.name, "lab_dir": str(lab_dir.path),
            "topology": str(topo.path) if topo.path else "", "owner": deploying_user(),
            "source_sha256": topo.source_sha256}
    with _notes(create=True) as notes:
        notes.write_atomic(f"{_digest(lab_mark(topo.name, lab_dir))}.json", json_bytes(note),
                           PRIVATE_FILE_MODE)


def forget_lab(lab: str, lab_dir: LabDir) -> None:
    """Remove the lab's note (its objects are gone)."""
    try:
        with _notes(create=False) as notes:
            notes.unlink(f"{_digest(lab_mark(lab, lab_dir))}.json")
    except (FileNotFoundError, NetknitError):
        pass


def _read_note(mark: str) -> FoundLab | None:
    lab = _load_note(_digest(mark))
    return lab if lab is not None and lab.mark == mark else None  # else: not this lab's


def _load_note(digest: str) -> FoundLab | None:
    """The note ``<digest>.json`` (None: none, unreadable, or its path does not hash to
    ``digest``)."""
    try:
        with _notes(create=False) as notes:
            data = json.loads(notes.read_bytes(f"{digest}.json"))
    except (OSError, ValueError, NetknitError):
        return None
    return _note_from(digest, data)


def _note_from(digest: str, data: Any) -> FoundLab | None:
    """The lab the note ``<digest>.json`` holding ``data`` explains (None: not a note, or
    its path does not hash to ``digest``)."""
    try:
        lab_dir = LabDir(Path(data["lab_dir"]))
        name = str(data["lab"])
    except (KeyError, TypeError):
        return None
    mark = lab_mark(name, lab_dir)
    if _digest(mark) != digest:
        return None
    topology = Path(data["topology"]) if data.get("topology") else None
    return FoundLab(name, mark, lab_dir, topology, str(data.get("owner") or ""))


def deployed_from(path: Path) -> str | None:
    """The name of the lab deployed from the topology file ``path``, known without
    parsing the file: a note names that file, its bytes unchanged since (their sha256)
    and its name written in it literally. None: read the name from the file."""
    digest = source_sha256(path)
    if digest is None:
        return None
    wanted = str(path.resolve())
    found = set()
    try:
        with _notes(create=False) as notes:
            for entry in notes.names():
                if not entry.endswith(".json"):
                    continue
                data = json.loads(notes.read_bytes(entry))
                if data.get("topology") == wanted and data.get("source_sha256") == digest:
                    lab = _note_from(entry.removesuffix(".json"), data)  # its mark checked
                    if lab is not None:
                        found.add(lab.name)
    except (OSError, ValueError, AttributeError, NetknitError):
        return None
    return found.pop() if len(found) == 1 else None


def noted_lab(lab: str, lab_dir: LabDir) -> FoundLab | None:
    """What the deploy of this lab noted (None: nothing)."""
    return _read_note(lab_mark(lab, lab_dir))


def _lab_of(mark: str) -> str:
    words = mark.split(" ", 2)
    return words[2] if len(words) > 2 else ""


def find_labs(name: str | None = None, *, reporter: Reporter | None = None) -> list[FoundLab]:
    """Every lab that has objects on this machine (only those called ``name``), sorted by
    name, then lab directory. Never by the names of the objects: by their marks."""
    report = reporter or SilentReporter()
    marks: dict[str, FoundLab | None] = {}
    with Netlink.here() as host:
        marks.update((item.alias, None) for item in links_with_alias(host)
                     if item.alias.startswith(MARK_WORD + " "))
    marks.update((alias, None) for _inode, alias in kernel_netns.marks().values()
                 if alias.startswith(MARK_WORD + " "))
    # a runtime's objects carry their lab directory (and topology): the mark follows
    for runtime in Runtimes(Path()).every():
        try:
            for lab_name, directory, topology in runtime.labs():
                mark = lab_mark(lab_name, LabDir(directory))
                marks[mark] = FoundLab(lab_name, mark, LabDir(directory), topology)
        except NetknitError as exc:
            report.note(f"{runtime.name}: {exc.message}")
    _unseen(marks, name, report)
    found = []
    for mark, seen in marks.items():
        lab = _read_note(mark) or seen or FoundLab(_lab_of(mark), mark, None, None)
        if name is None or lab.name == name:
            found.append(lab)
    return sorted(found, key=lambda f: (f.name, str(f.lab_dir.path if f.lab_dir else "")))


def _unseen(marks: dict[str, FoundLab | None], name: str | None, report: Reporter) -> None:
    """Say which noted labs have no object that answers: a lab of container nodes only
    whose engine is down is otherwise missing from the list without a word."""
    try:
        with _notes(create=False) as notes:
            digests = [n.removesuffix(".json") for n in notes.names() if n.endswith(".json")]
    except (OSError, NetknitError):
        return
    seen = {_digest(mark) for mark in marks}
    for digest in sorted(set(digests) - seen):
        lab = _load_note(digest)
        if lab is not None and lab.lab_dir is not None and name in (None, lab.name):
            report.note(f"lab {lab.name!r} ({lab.lab_dir.path}) was deployed but none of its "
                        "objects answers here: is its container engine running? (`netknit "
                        f"destroy --name {lab.name}` removes what is left of it)")


__all__ = ["FoundLab", "find_labs", "forget_lab", "note_lab", "noted_lab"]
