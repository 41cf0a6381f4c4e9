"""Where a lab's directory is, by containerlab's rule: ``clab-<lab>`` under
``CLAB_LABDIR_BASE``, else beside the topology file, else in the current directory.

A leaf module: the loader needs the path (containerlab's ``__clabDir__`` in binds and
commands) and the state layer makes the directory there."""

from __future__ import annotations

import os
from pathlib import Path


def lab_dir_path(lab: str, topology_path: Path | None, base: Path | None = None, *,
                 fileless: Path | None = None) -> Path:
    """The lab directory of lab ``lab``. ``base``: the directory that holds it, if
    chosen; ``fileless``: the one to use instead of the current directory for a lab read
    from no file (a lab built in Python: its own base directory)."""
    if base is None:
        env = os.environ.get("CLAB_LABDIR_BASE")
        if env:
            base = Path(env)
        elif topology_path is not None:
            base = topology_path.resolve().parent
        else:
            base = fileless or Path.cwd()
    return base / f"clab-{lab}"
