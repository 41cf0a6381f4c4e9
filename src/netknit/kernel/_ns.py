"""Named network namespaces, made in-process (no fork per namespace).

A namespace is created the way ``ip netns add`` does it — unshare(CLONE_NEWNET) in the
calling thread, bind-mount its ``ns/net`` on ``/run/netns/<name>`` — but without a process
per namespace. While the thread is inside the new namespace it also opens the namespace's
netlink socket, then it returns to where it was. ``unshare``/``setns`` act on the calling
thread only, so worker threads can do this concurrently.

Python 3.11 has no ``os.setns``/``os.unshare``: libc is called through the C half of
ctypes (``_ctypes``), three functions' worth, because the CNI plugin imports this module
in a process per call and ``import ctypes`` alone costs ~5 ms there (as do threading,
contextlib and dataclasses, which this module therefore does without).
"""

from __future__ import annotations

import _ctypes
import errno
import os
from _thread import allocate_lock, start_new_thread

from .._errors import KernelError
from . import _msg
from ._nl import Netlink, Request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType

NETNS_RUN_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
_MS_BIND = 4096
_MS_REC = 16384
_MS_SHARED = 1 << 20
_MNT_DETACH = 2



class _CInt(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_int
    _type_ = "i"


class _LibcFunction(_ctypes.CFuncPtr):  # what ctypes.CDLL(None, use_errno=True) makes
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _CInt


class _Libc:
    """The process's libc symbols, resolved on first use (like ``ctypes.CDLL(None)``)."""

    def __init__(self) -> None:
        self._handle = _ctypes.dlopen(None, os.RTLD_LOCAL | os.RTLD_NOW)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> _LibcFunction:
        func = _LibcFunction((name, self))  # type: ignore[arg-type]
        setattr(self, name, func)
        return func


_libc = _Libc()
_get_errno = _ctypes.get_errno
_run_dir_ready = allocate_lock()
_run_dir_done = False


def _check(result: int, what: str) -> None:
    if result != 0:
        err = _get_errno()
        raise KernelError(what, err)


def setns(fd: int) -> None:
    """Move the calling thread into the network namespace behind ``fd``."""
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")


def _mount(source: str, target: str, flags: int) -> int:
    return int(_libc.mount(source.encode(), target.encode(), None, flags, None))


def _ensure_run_dir() -> None:
    """Make /run/netns a shared mount point, as iproute2 does, so that namespaces
    mounted there are visible in other mount namespaces (containers, ``ip netns``)."""
    global _run_dir_done
    with _run_dir_ready:
        if _run_dir_done:
            return
        os.makedirs(NETNS_RUN_DIR, mode=0o755, exist_ok=True)
        if _mount("none", NETNS_RUN_DIR, _MS_SHARED | _MS_REC) != 0:
            if _get_errno() != errno.EINVAL:
                _check(-1, f"mount --make-shared {NETNS_RUN_DIR}")
            # not a mount point yet: bind it onto itself, then make it shared
            _check(_mount(NETNS_RUN_DIR, NETNS_RUN_DIR, _MS_BIND | _MS_REC),
                   f"mount --bind {NETNS_RUN_DIR}")
            _check(_mount("none", NETNS_RUN_DIR, _MS_SHARED | _MS_REC),
                   f"mount --make-shared {NETNS_RUN_DIR}")
        _run_dir_done = True


def netns_path(name: str) -> str:
    return f"{NETNS_RUN_DIR}/{name}"


class Namespace:
    """An open network namespace: a file descriptor and a netlink socket inside it."""

    def __init__(self, name: str, fd: int, inode: int, _nl: Netlink | None = None) -> None:
        self.name = name
        self.fd = fd
        self.inode = inode
        self._nl = _nl

    def __repr__(self) -> str:
        return f"Namespace(name={self.name!r}, fd={self.fd!r}, inode={self.inode!r})"

    @property
    def nl(self) -> Netlink:
        """The namespace's netlink socket (opened on first use)."""
        if self._nl is None:
            with entered(self.fd):
                self._nl = Netlink.here(self.name)
        return self._nl

    def close(self) -> None:
        if self._nl is not None:
            self._nl.close()
            self._nl = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class entered:  # used like the function it was: ``with entered(fd):``
    """Run the block with the calling thread inside the namespace behind ``fd``."""

    __slots__ = ("_fd", "_home")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._home = -1

    def __enter__(self) -> None:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns(self._fd)
        except BaseException:
            os.close(home)
            raise
        self._home = home

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        home, self._home = self._home, -1
        try:
            setns(home)
        finally:
            os.close(home)


def _lo_alias_request(alias: str, label: str) -> Request:
    body = _msg.ifinfo(1) + _msg.link_attrs(None, None, None, None, alias=alias)  # lo is 1
    return Request(body, _msg.RTM_NEWLINK, 0, f"mark namespace {label}")


def create(name: str, mark: str | None = None) -> Namespace:
    """Create ``/run/netns/<name>``; fail with EEXIST if it already exists.

    ``mark`` goes into the alias of the namespace's ``lo`` before the namespace is
    mounted: a namespace never shows in /run/netns without it (:func:`marks` reads it).
    The namespace comes back with ``lo`` still down; callers bring it up in their first
    batch (see :func:`netknit.kernel.configure`).
    """
    _ensure_run_dir()
    path = netns_path(name)
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0))
    except FileExistsError:
        raise KernelError(
            f"create namespace {name}", errno.EEXIST,
            hint=f"{path} exists already; if it is a leftover of this lab run "
            "`netknit destroy`, otherwise choose another lab name",
        ) from None
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    fd = -1
    nl: Netlink | None = None
    try:
        try:
            _check(_libc.unshare(CLONE_NEWNET), f"unshare for namespace {name}")
            nl = Netlink.here(name)
            if mark:
                nl.request(_lo_alias_request(mark, name))
            _check(_mount("/proc/thread-self/ns/net", path, _MS_BIND), f"mount namespace {name}")
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        finally:
            # also when unshare failed (a setns to where it is is a no-op): in the main
            # thread, a Ctrl-C may land anywhere after the unshare
            setns(home)
    except BaseException:
        if nl is not None:
            nl.close()
        if fd >= 0:
            os.close(fd)
        _unmount_and_unlink(path)
        raise
    finally:
        os.close(home)
    return Namespace(name=name, fd=fd, inode=os.fstat(fd).st_ino, _nl=nl)


def anonymous(label: str) -> Namespace:
    """A fresh namespace held only by its fd and socket, never mounted in /run/netns:
    it vanishes, with every interface in it, when closed or when the process dies.

    Made in a short-lived thread, so the caller's thread never changes namespace.
    """
    box: dict[str, Namespace | BaseException] = {}
    done = allocate_lock()
    done.acquire()

    def work() -> None:
        fd = -1
        try:
            _check(_libc.unshare(CLONE_NEWNET), f"unshare for {label}")
            fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            box["ns"] = Namespace(label, fd, os.fstat(fd).st_ino, Netlink.here(label))
        except BaseException as exc:
            if fd >= 0:
                os.close(fd)
            box["ns"] = exc
        finally:
            done.release()

    # a bare thread (_thread, not threading: see the module docstring); it exits right
    # after releasing the lock, taking its namespace membership with it
    start_new_thread(work, ())
    done.acquire()
    result = box["ns"]
    if isinstance(result, BaseException):
        raise result
    return result


def open_existing(name: str) -> Namespace:
    """Open a namespace that exists in /run/netns."""
    path = netns_path(name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KernelError(f"open namespace {name}", errno.ENOENT) from None
    return Namespace(name=name, fd=fd, inode=os.fstat(fd).st_ino)


def open_path(path: str, label: str) -> Namespace:
    """Open a namespace netknit did not name, e.g. a container's ``/proc/<pid>/ns/net``.

    ``label`` is the name the engine knows it by (``clab-<lab>-<node>``).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise KernelError(f"open namespace {label} ({path})", exc.errno) from None
    return Namespace(name=label, fd=fd, inode=os.fstat(fd).st_ino)


def inode_of(name: str) -> int | None:
    """The namespace inode mounted at /run/netns/<name>, or None if there is none."""
    try:
        st = os.stat(netns_path(name))
    except FileNotFoundError:
        return None
    # an unmounted placeholder file lives on /run's filesystem; a mounted namespace on nsfs
    return st.st_ino if st.st_dev == _nsfs_device() else None


def _is_nsfs(path: str) -> bool:
    """Whether ``path`` is a namespace (mounted there, or a /proc/*/ns file)."""
    try:
        return os.stat(path).st_dev == _nsfs_device()
    except OSError:
        return False


_nsfs: list[int] = []


def _nsfs_device() -> int:
    """The device number of nsfs, the kernel's one filesystem of namespaces: every
    namespace file, in /proc or bind-mounted anywhere, has it (a stat instead of a
    statfs through ctypes, whose import costs ~1 ms of a destroy)."""
    if not _nsfs:
        _nsfs.append(os.stat("/proc/self/ns/net").st_dev)
    return _nsfs[0]


def delete(name: str, *, inode: int | None = None) -> bool:
    """Unmount and remove /run/netns/<name>. With ``inode``, only if it is that namespace
    (so a namespace someone else made under the same name is left alone).

    Returns True if something was removed. Interfaces inside die with the namespace.
    """
    path = netns_path(name)
    if not os.path.lexists(path):
        return False
    if inode is not None:
        current = inode_of(name)
        if current is not None and current != inode:
            return False
    _unmount_and_unlink(path)
    return True


def _unmount_and_unlink(path: str) -> None:
    if _libc.umount2(path.encode(), _MNT_DETACH) != 0:
        err = _get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):  # EINVAL: not mounted (placeholder)
            raise KernelError(f"unmount {path}", err)
    try:  # noqa: SIM105 - contextlib costs ~5 ms to import in a CNI call
        os.unlink(path)
    except FileNotFoundError:
        pass


def marks(names: list[str] | None = None) -> dict[str, tuple[int, str]]:
    """name → (inode, mark) of the namespaces mounted in /run/netns (all of them, or
    ``names``): the mark is the alias of their ``lo`` ("" when unmarked). Placeholders
    (nothing mounted) and namespaces that vanish meanwhile are left out.

    One open, setns and socket per namespace, in the calling thread, which ends where it
    started: ~40 µs each.
    """
    out: dict[str, tuple[int, str]] = {}
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        for name in list_names() if names is None else names:
            try:
                fd = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    continue  # not a namespace: a placeholder of one being made
                try:
                    nl = Netlink.here(name)
                finally:
                    setns(home)
                inode = os.fstat(fd).st_ino
            finally:
                os.close(fd)
            with nl:
                raw = nl.get_raw(_msg.ifinfo(1), _msg.RTM_GETLINK, f"look up lo in {name}")
            out[name] = (inode, _msg.parse_alias(raw) if raw else "")
    finally:
        os.close(home)
    return out


def pids_in(inodes: set[int]) -> dict[int, int]:
    """pid → namespace inode of every process whose network namespace is one of
    ``inodes`` (zombies, which have none, are left out). One stat per process."""
    out: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                inode = os.stat(f"/proc/{entry}/ns/net").st_ino
            except OSError:
                continue  # gone, or a zombie
            if inode in inodes:
                out[int(entry)] = inode
    return out


def exists(name: str) -> bool:
    return os.path.lexists(netns_path(name))


def list_names() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []
