"""The lab directory: ``clab-<lab>/`` beside the topology file, as containerlab does.

``CLAB_LABDIR_BASE`` moves it (containerlab's variable). Layout::

    clab-<lab>/
      .lock                 flock held by the deploy/destroy in progress
      .netknit/journal.jsonl  write-ahead journal of side effects
      .netknit/state.json     desired state of every node's interfaces
      <node>/               per-node files (logs of a netns node's cmd)
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ._files import fsync_dir
from ._journal import Journal


@dataclass(frozen=True)
class LabDir:
    path: Path

    @classmethod
    def for_lab(cls, lab: str, topology_path: Path | None, base: Path | None = None) -> LabDir:
        if base is None:
            env = os.environ.get("CLAB_LABDIR_BASE")
            if env:
                base = Path(env)
            elif topology_path is not None:
                base = topology_path.resolve().parent
            else:
                base = Path.cwd()
        return cls(base / f"clab-{lab}")

    @property
    def meta(self) -> Path:
        return self.path / ".netknit"

    @property
    def journal(self) -> Journal:
        return Journal(self.meta / "journal.jsonl")

    @property
    def state_file(self) -> Path:
        return self.meta / "state.json"

    def node_dir(self, node: str) -> Path:
        return self.path / node

    def exists(self) -> bool:
        return self.path.is_dir()

    def create(self) -> None:
        created = not self.meta.exists()
        self.meta.mkdir(parents=True, exist_ok=True)
        if created:
            fsync_dir(self.path)
            fsync_dir(self.path.parent)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
