"""Directories netknit trusts, and files opened only through them.

netknit runs as root in directories that users own (the lab directory sits beside the
topology file). So a path is never resolved twice: a directory is opened once, checked
(owned by root or by us, writable by nobody else, not a symbolic link), and every name in
it is opened relative to that descriptor with ``O_NOFOLLOW``. A symbolic link planted
where netknit expects a file or directory makes it refuse, never follow.

Modes are set with ``fchmod`` after creation, so they do not depend on the umask.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from .._errors import StateError, UnsafePathError

#: Modes of what netknit creates (documented in the lab directory's docstring).
DIR_MODE = 0o755
FILE_MODE = 0o644
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted where a file is expected must not hang us (no effect on files)
_FILE_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _trusted_owner(uid: int) -> bool:
    return uid in (0, os.geteuid())


def check_trusted(st: os.stat_result, path: Path) -> None:
    """Refuse what another user owns or may write to."""
    what = "directory" if stat.S_ISDIR(st.st_mode) else "file"
    if not _trusted_owner(st.st_uid):
        raise UnsafePathError(
            f"{path}: this {what} belongs to uid {st.st_uid}, not to uid {os.geteuid()} "
            "or root: refusing to use it",
            hint=f"remove {path} (another user may have planted it), then run again",
        )
    if st.st_mode & 0o022:
        raise UnsafePathError(
            f"{path}: this {what} is writable by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):o}): refusing to use it",
            hint=f"`chmod go-w {path}` if you trust everyone who could write to it, or "
            "remove it, then run again",
        )


def _refused(path: Path, dir_fd: int | None = None) -> UnsafePathError:
    try:  # O_NOFOLLOW | O_DIRECTORY fails on a link with ELOOP or ENOTDIR: look
        link = stat.S_ISLNK(os.stat(path if dir_fd is None else path.name, dir_fd=dir_fd,
                                    follow_symlinks=False).st_mode)
    except OSError:
        link = False
    kind = "a symbolic link" if link else "not a directory"
    return UnsafePathError(f"{path} is {kind}: refusing to follow it",
                           hint=f"remove {path}, then run again")


def disk_full(path: Path, exc: OSError) -> StateError:
    """The error for a write that failed for lack of space (or any other write error)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StateError(f"cannot write {path}: the disk is full",
                          hint=f"free space on the filesystem of {path.parent} (`df "
                          f"{path.parent}`), then run the command again (after a failed "
                          "deploy: `netknit destroy` first)")
    return StateError(f"cannot write {path}: {exc.strerror or exc}",
                      hint="fix the cause, then run the same command again")


def _remove_tree(dir_fd: int, name: str) -> None:
    """Remove the directory ``name`` in ``dir_fd`` and all in it, each level opened
    relative to its parent with ``O_NOFOLLOW``: a directory swapped for a link meanwhile
    fails (ELOOP, ENOTDIR) instead of being followed. What ``shutil.rmtree(name,
    dir_fd=...)`` does, without its import (~2 ms of a ``destroy --cleanup``)."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return  # removed meanwhile
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    _remove_tree(fd, entry.name)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.name, dir_fd=fd)
    finally:
        os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(name, dir_fd=dir_fd)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (``os.write`` may write fewer, e.g. on a nearly full disk)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:  # pragma: no cover - the kernel reports ENOSPC instead
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


class SafeDir:
    """An open, checked directory. Close it (or use it as a context manager)."""

    def __init__(self, fd: int, path: Path, created: bool = False) -> None:
        self.fd = fd
        self.path = path
        self.created = created  # this call made it

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def at(cls, path: Path, *, check: bool = True) -> SafeDir:
        """Open ``path`` (symlinks in its parents are followed: they are the caller's
        choice). With ``check``, ``path`` itself must be a trusted directory, not a link;
        without, it is only a place the caller chose (a base directory), links followed."""
        try:
            fd = os.open(path, _DIR_FLAGS if check else _DIR_FLAGS & ~os.O_NOFOLLOW)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _refused(path) from None
            raise
        return cls._checked(fd, path, check=check)

    @classmethod
    def _checked(cls, fd: int, path: Path, *, check: bool = True,
                 created: bool = False) -> SafeDir:
        try:
            if check:
                check_trusted(os.fstat(fd), path)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, path, created)

    def subdir(self, name: str, *, create: bool = False, mode: int = DIR_MODE) -> SafeDir:
        """Open (with ``create``: make if missing, with exactly ``mode``) a directory in
        this one. Raises FileNotFoundError when it is missing and not to be created."""
        path = self.path / name
        created = False
        if create:
            try:
                os.mkdir(name, mode, dir_fd=self.fd)
                created = True
            except FileExistsError:
                pass
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _refused(path, self.fd) from None
            raise
        if created:
            os.fchmod(fd, mode)  # mkdir's mode went through the umask
            os.fsync(self.fd)  # the new entry survives a crash
        return self._checked(fd, path, created=created)

    def open(self, name: str, flags: int, mode: int = FILE_MODE) -> int:
        """Open a file in this directory, never through a symbolic link. A file it
        creates gets exactly ``mode``; an existing one must be a trusted regular file."""
        path = self.path / name
        created = False
        try:
            if flags & os.O_CREAT and not flags & os.O_EXCL:
                try:  # tell "made it" from "was there" (only the former gets our mode)
                    fd = os.open(name, flags | os.O_EXCL | _FILE_FLAGS, mode, dir_fd=self.fd)
                    created = True
                except FileExistsError:
                    fd = os.open(name, flags & ~os.O_CREAT | _FILE_FLAGS, dir_fd=self.fd)
            else:
                fd = os.open(name, flags | _FILE_FLAGS, mode, dir_fd=self.fd)
                created = bool(flags & os.O_CREAT)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePathError(f"{path} is a symbolic link: refusing to follow it",
                                      hint=f"remove {path}, then run again") from None
            raise
        try:
            if created:
                os.fchmod(fd, mode)
            else:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise UnsafePathError(f"{path} is not a regular file: refusing to use it",
                                          hint=f"remove {path}, then run again")
                check_trusted(st, path)
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd

    # -- whole files --------------------------------------------------------------------

    def read_bytes(self, name: str) -> bytes:
        fd = self.open(name, os.O_RDONLY)
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def write_atomic(self, name: str, data: bytes, mode: int = FILE_MODE, *,
                     sync_dir: bool = True) -> None:
        """Replace ``name`` so that readers see the old or the new file, whole: a temp
        file, fsync, rename over the target, fsync of the directory (``sync_dir=False``:
        left to the caller, who writes several and then calls :meth:`sync` once)."""
        # os.urandom, not secrets: same bytes, without importing hmac and random (~5 ms)
        tmp = f".{name}.{os.urandom(4).hex()}.tmp"
        try:
            fd = self.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            try:
                write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=self.fd)
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise disk_full(self.path / name, exc) from None
            raise
        if sync_dir:
            self.sync()

    def sync(self) -> None:
        """Make the renames done in this directory durable."""
        os.fsync(self.fd)

    # -- names --------------------------------------------------------------------------

    def exists(self, name: str) -> bool:
        try:
            os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def unlink(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)

    def names(self) -> list[str]:
        return os.listdir(self.fd)

    def remove(self, name: str) -> None:
        """Remove ``name`` and, for a directory, all in it (never following a link)."""
        try:
            st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            _remove_tree(self.fd, name)
        else:
            self.unlink(name)

    def same_as(self, name: str, fd: int) -> bool:
        """Whether ``name`` in this directory is still the object open as ``fd``."""
        try:
            there = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> SafeDir:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
