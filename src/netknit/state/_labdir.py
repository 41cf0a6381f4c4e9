"""The lab directory: ``clab-<lab>/`` beside the topology file, as containerlab does.

``CLAB_LABDIR_BASE`` moves it (containerlab's variable). Layout and modes (exact, whatever
the umask)::

    clab-<lab>/               0755
      .lock                   0644  flock held by the deploy/destroy in progress
      .netknit/               0700  netknit's own records: root's business only
        journal.jsonl         0600  write-ahead journal of side effects
        state.json            0600  desired state of every node's interfaces
      <node>/                 0755  per-node files (a netns node's cmd.log 0644,
                                    cmd.pid.json 0644; a Docker node's gate/)

netknit runs as root in a directory that users can reach, so every directory in it is
opened without following symbolic links and checked (owned by root or the running user,
writable by no one else) before anything in it is used, and files are opened relative to
those checked directories (see ``_dirs``). Anything else is refused with
:class:`~netknit._errors.UnsafePathError`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from .._dataclass import dataclass
from .._errors import LabLockedError
from .._labpath import lab_dir_path
from ._dirs import DIR_MODE, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, SafeDir
from ._files import json_bytes
from ._journal import Journal
from ._schema import LabState

META = ".netknit"
LOCK = ".lock"
STATE = "state.json"
JOURNAL = "journal.jsonl"

#: A lock file seen removed under us (the holder removed the lab) is retried this often.
_LOCK_TRIES = 10


@dataclass(frozen=True)
class LabDir:
    """A lab's directory (``clab-<lab>``): its journal, state, lock and lab files."""

    path: Path

    @classmethod
    def for_lab(cls, lab: str, topology_path: Path | None, base: Path | None = None, *,
                fileless: Path | None = None) -> LabDir:
        return cls(lab_dir_path(lab, topology_path, base, fileless=fileless))

    # -- paths (for messages, labels and binds; never opened by path) ------------------

    @property
    def meta(self) -> Path:
        return self.path / META

    @property
    def journal(self) -> Journal:
        return Journal(self.meta / JOURNAL, opener=self._open_meta)

    @property
    def state_file(self) -> Path:
        return self.meta / STATE

    def node_dir(self, node: str) -> Path:
        return self.path / node

    def exists(self) -> bool:
        """Something is there (a link or a file there is refused when opened)."""
        return os.path.lexists(self.path)

    # -- checked directories -------------------------------------------------------------

    def open(self, *parts: str, create: bool = False) -> SafeDir:
        """The lab directory (or ``parts`` below it), each level checked. With ``create``,
        missing levels are made with their documented mode. FileNotFoundError if missing."""
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)  # the base: the user's
        with SafeDir.at(self.path.parent, check=False) as base:
            current = base.subdir(self.path.name, create=create)
        for part in parts:
            try:
                below = current.subdir(part, create=create,
                                       mode=PRIVATE_DIR_MODE if part == META else DIR_MODE)
            finally:
                current.close()
            current = below
        return current

    def _open_meta(self, create: bool) -> SafeDir:
        return self.open(META, create=create)

    # -- desired state -------------------------------------------------------------------

    def read_state(self) -> LabState:
        """The desired state; FileNotFoundError before a deploy, ValueError if damaged."""
        with self._open_meta(False) as meta:
            return LabState.from_json(json.loads(meta.read_bytes(STATE).decode("utf-8")))

    def write_state(self, state: LabState) -> None:
        with self._open_meta(True) as meta:
            meta.write_atomic(STATE, json_bytes(state.to_json()), PRIVATE_FILE_MODE)

    def remove_state(self) -> None:
        with contextlib.suppress(FileNotFoundError), self._open_meta(False) as meta:
            meta.unlink(STATE)

    def read_node_file(self, node: str, name: str) -> bytes:
        with self.open(node) as d:
            return d.read_bytes(name)

    # -- the lock --------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, lab: str, action: str, *, create: bool = False) -> Iterator[HeldLab]:
        """Hold the lab's lock, or fail at once if another process holds it.

        flock is released by the kernel when the holder dies, so a ``kill -9`` never
        leaves a stale lock behind. A holder may remove the lab directory (a deploy that
        made nothing, ``destroy --cleanup``): one who locked the removed ``.lock`` sees it
        is gone, and starts over. FileNotFoundError if the lab directory is missing and
        not to be created.
        """
        held = self._acquire(lab, action, create)
        try:
            yield held
        finally:
            held.release()

    def _acquire(self, lab: str, action: str, create: bool) -> HeldLab:
        for _ in range(_LOCK_TRIES):
            directory = self.open(create=create)
            try:
                fd = directory.open(LOCK, os.O_RDWR | os.O_CREAT)
            except BaseException:
                directory.close()
                raise
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
                    raise LabLockedError(
                        f"lab {lab!r} is busy: {holder or 'another process'}",
                        hint="wait for it to finish; netknit never runs two deploy/destroy "
                        "of one lab at once",
                    ) from None
                if directory.same_as(LOCK, fd) and self._same_dir(directory):
                    with contextlib.suppress(OSError):  # only a note for who waits: a
                        # full disk must not stop a destroy that would free space
                        os.ftruncate(fd, 0)
                        os.pwrite(fd, f"{action} by pid {os.getpid()}\n".encode(), 0)
                    return HeldLab(self, directory, fd)
            except BaseException:
                os.close(fd)
                directory.close()
                raise
            os.close(fd)  # the holder removed it while we waited: start over
            directory.close()
        raise LabLockedError(f"lab {lab!r} is busy: its directory keeps being removed",
                             hint="wait for the other netknit process to finish")

    def _same_dir(self, directory: SafeDir) -> bool:
        try:
            there = os.lstat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(directory.fd)
        return (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)


class HeldLab:
    """The lab directory while its lock is held."""

    def __init__(self, lab_dir: LabDir, directory: SafeDir, lock_fd: int) -> None:
        self.lab_dir = lab_dir
        self.dir = directory
        self._fd = lock_fd

    @property
    def created(self) -> bool:
        """This lock's acquisition made the lab directory."""
        return self.dir.created

    def check(self, names: Iterable[str]) -> None:
        """Refuse the lab before anything is made if one of these entries (nodes'
        directories) exists and is not safe to use."""
        for name in names:
            if self.dir.exists(name):
                self.dir.subdir(name).close()

    def blank(self) -> bool:
        """Holds nothing but the lock and netknit's records without a journal."""
        if set(self.dir.names()) - {LOCK, META}:
            return False
        try:
            with self.dir.subdir(META) as meta:
                return not meta.exists(JOURNAL)
        except FileNotFoundError:
            return True

    def remove(self) -> None:
        """Remove the whole lab directory, the lock file last (still held meanwhile)."""
        for name in self.dir.names():
            if name != LOCK:
                self.dir.remove(name)
        self.dir.unlink(LOCK)
        with SafeDir.at(self.lab_dir.path.parent, check=False) as base:
            if base.same_as(self.lab_dir.path.name, self.dir.fd):
                try:
                    os.rmdir(self.lab_dir.path.name, dir_fd=base.fd)
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.ENOENT):
                        raise

    def release(self) -> None:
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing the descriptor releases the flock
        self._fd = -1
        self.dir.close()
