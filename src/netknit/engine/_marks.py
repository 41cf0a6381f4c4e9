"""Lab marks: the identity every kernel object of a lab carries, and finding them again.

The mark is ``netknit-lab <digest> <lab>``: ``digest`` hashes the absolute path of the
lab directory, which the topology alone determines (its path, its name,
``CLAB_LABDIR_BASE``), so it is known again after the directory, or the journal in it,
is lost. Two labs of one name beside two topology files differ; the lab name is there for
people reading ``ip link``. Interfaces carry it in their alias, a namespace in the alias
of its ``lo`` (see :mod:`netknit.kernel`). Runtime objects carry labels instead.

A host device moved into a node is not netknit's: it is never marked, and it is moved
home, never deleted. A bridge netknit did not create is never marked either.
"""

from __future__ import annotations

import os
from dataclasses import field

from .._dataclass import dataclass
from .._digest import sha256
from ..kernel import LinkInfo, Netlink, links_with_alias
from ..kernel import netns as kernel_netns
from ..state import LabDir

#: First word of every lab mark (the CNI plugin's notes start with "netknit-cni").
MARK_WORD = "netknit-lab"


def lab_mark(lab: str, lab_dir: LabDir) -> str:
    """The mark of the lab whose directory is ``lab_dir`` (which need not exist)."""
    path = lab_dir.path
    # resolve the parent only: the directory itself may be gone (or planted as a symlink)
    absolute = os.path.join(os.path.realpath(path.parent), path.name)
    digest = sha256(absolute.encode()).hexdigest()[:16]
    mark = f"{MARK_WORD} {digest} {lab}"
    # the kernel keeps 127 bytes: a long name is left out rather than cut mid-character
    return mark if len(mark.encode()) <= 127 else f"{MARK_WORD} {digest}"


@dataclass
class Marked:
    """What the kernel holds of one lab, found by its mark."""

    links: dict[str, LinkInfo] = field(default_factory=dict)  # host namespace, by name
    namespaces: dict[str, int] = field(default_factory=dict)  # /run/netns name -> inode
    unmarked_links: set[str] = field(default_factory=set)  # the host's other links
    unmarked_namespaces: set[str] = field(default_factory=set)  # mounted, without it


def find_marked(mark: str, host: Netlink) -> Marked:
    """Every host interface and named namespace carrying ``mark``: one dump of the host's
    links, one look at each namespace's ``lo``. Never by name."""
    found = Marked()
    for item in links_with_alias(host):
        if item.alias == mark:
            found.links[item.link.name] = item.link
        else:
            found.unmarked_links.add(item.link.name)
    for name, (inode, alias) in kernel_netns.marks().items():
        if alias == mark:
            found.namespaces[name] = inode
        else:
            found.unmarked_namespaces.add(name)
    return found


__all__ = ["MARK_WORD", "Marked", "find_marked", "lab_mark"]
