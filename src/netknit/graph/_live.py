"""The deployed lab's graph data, as ``inspect`` sees it now."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import engine
from ..state import LabDir
from ..topology import Topology
from ._data import graph_data

#: a lock's file in /proc/locks: major:minor:inode (hex, hex, decimal)
_LOCKED_FILE = re.compile(r"\s([0-9a-f]+):([0-9a-f]+):(\d+)\s")


def sampler(topo: Topology, lab_dir: LabDir) -> Callable[[], dict[str, Any]]:
    """A function that returns the lab's graph data as it is at the time of the call."""
    def sample() -> dict[str, Any]:
        view = engine.inspect(topo.name, lab_dir, every=True)
        rows = engine.containers(view, topo) if view.deployed else []
        return graph_data(topo, view, rows=rows, repairing=repair_running(lab_dir.path))
    return sample


def repair_running(lab_dir: Path) -> bool:
    """A repair (``reconcile``, or ``watch``'s) holds the lab's lock right now. Read from
    /proc/locks: trying the lock, even shared and for a moment, could make that repair
    fail as busy."""
    try:
        fd = os.open(lab_dir / ".lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        holder = os.pread(fd, 200, 0).decode(errors="replace")
    finally:
        os.close(fd)
    if not holder.startswith("reconcile "):  # its last holder's action (see LabDir.lock)
        return False
    wanted = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    try:
        with open("/proc/locks") as locks:
            for line in locks:
                m = _LOCKED_FILE.search(line)
                if m and "FLOCK" in line and "->" not in line and \
                        (int(m[1], 16), int(m[2], 16), int(m[3])) == wanted:
                    return True
    except OSError:
        pass
    return False
