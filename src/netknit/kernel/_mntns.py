"""A namespace node's own mount and UTS namespaces: its files and its hostname.

A node's view of the filesystem is the host's, but for what the node owns: its private
directories (``/run``: pid files, sockets), its ``/etc/hostname`` and ``/etc/hosts``, and its
binds. Daemons (FRR, bird, sshd) then run unmodified, one copy per node.

- Made by a short-lived thread (``unshare(CLONE_NEWNS | CLONE_NEWUTS)``), so no thread of
  netknit ever stays in a node's view. The mounts are slaves of the host's (nothing the
  node mounts reaches the host; what the host mounts later reaches the node).
- Kept without a process, as ``ip netns`` keeps a network namespace: ``/proc/<tid>/ns/mnt``
  (and ``uts``) bind-mounted on ``/run/netknit/ns/<netns>.mnt`` (``.uts``). That directory
  is a private mount (a mount-namespace file may not be mounted where it would propagate
  into a namespace, itself included: the kernel refuses such loops), and every node's
  view drops its copy of it at once, so that no node holds another node's namespace.
- A target path that does not exist is made in the node's view only: the nearest existing
  directory above it gets an overlay whose upper layer is in the lab directory (see
  :func:`_overlay` for why an overlay), never a file on the host's filesystem.
- Entered for each command by a fresh thread too (``setns`` of a mount namespace needs a
  thread whose filesystem context is its own), which forks the command and exits.

Its imports stay light: deploy loads it for every lab of namespace nodes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from _thread import allocate_lock, start_new_thread
from collections.abc import Callable, Sequence
from typing import TypeVar

from .._dataclass import dataclass
from .._errors import KernelError
from ._ns import NETNS_RUN_DIR, _get_errno, _is_nsfs, _libc, setns

#: Where the mount and UTS namespaces of nodes are kept (a private mount point).
HOLDER_DIR = "/run/netknit/ns"
CLONE_FS = 0x00000200
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWNET = 0x40000000
_MS_RDONLY = 1
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_MS_SLAVE = 1 << 19
_MNT_DETACH = 2
_HOSTNAME_MAX = 64

_holder_ready = allocate_lock()
_holder_done = False
_bases: dict[tuple[str, ...], int] = {}  # see _base()

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Mount:
    """A bind in a node's view: ``source`` (a host path) on ``target`` (a path as the
    node sees it). A ``private`` one replaces what is there, mounts below it included."""

    source: str
    target: str
    readonly: bool = False
    private: bool = False


def holder_paths(netns: str) -> tuple[str, str]:
    """Where the mount and UTS namespaces of the node in ``netns`` are kept."""
    return f"{HOLDER_DIR}/{netns}.mnt", f"{HOLDER_DIR}/{netns}.uts"


def _call(result: int, what: str, path: str) -> None:
    if result != 0:
        raise KernelError(f"{what} {path}", _get_errno())


def _mount(source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> int:
    return int(_libc.mount(source.encode() if source else None, target.encode(),
                           fstype.encode() if fstype else None, flags,
                           data.encode() if data else None))


_LOOP_RETRIES = 1000  # see create(): a few tries are enough in practice


def _ensure_holder_dir() -> None:
    """Make HOLDER_DIR a private mount point (bound onto itself once, as iproute2 makes
    /run/netns a mount point): namespace files mounted in it propagate nowhere."""
    global _holder_done
    with _holder_ready:
        if _holder_done:
            return
        os.makedirs(HOLDER_DIR, mode=0o755, exist_ok=True)
        if _mount(None, HOLDER_DIR, None, _MS_PRIVATE | _MS_REC) != 0:
            if _get_errno() != errno.EINVAL:  # EINVAL: not a mount point yet
                _call(-1, "mount --make-private", HOLDER_DIR)
            _call(_mount(HOLDER_DIR, HOLDER_DIR, None, _MS_BIND | _MS_REC),
                  "mount --bind", HOLDER_DIR)
            _call(_mount(None, HOLDER_DIR, None, _MS_PRIVATE | _MS_REC),
                  "mount --make-private", HOLDER_DIR)
        _holder_done = True


def _base(private: tuple[str, ...]) -> int:
    """The view nodes with these ``private`` directories start from, made once per
    process: the host's, slave to it, without the namespace files of /run/netns and
    HOLDER_DIR and without what is mounted at or below ``private`` (hidden in the node
    anyway). A node copies it, not the host's: its start does not grow with the nodes
    before it (a copy of the host's would hold, and be sent, every namespace mount made
    since), and it detaches nothing itself (each detach waits for an RCU grace period)."""
    with _holder_ready:
        if private not in _bases:
            def make() -> int:
                _call(int(_libc.unshare(CLONE_NEWNS)), "unshare mount namespace", "(base)")
                _call(_mount(None, "/", None, _MS_REC | _MS_SLAVE), "mount --make-rslave", "/")
                for path in (HOLDER_DIR, NETNS_RUN_DIR):
                    _detach(path)
                for path in private:
                    for point in _mount_points(path, including=True):
                        _detach(point)
                return os.open("/proc/thread-self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)

            _bases[private] = _in_thread(make)
        return _bases[private]


def _in_thread(work: Callable[[], T]) -> T:
    """``work()`` in a bare thread of its own (its namespaces die with it); its result
    or its exception here."""
    box: list[T | BaseException] = []
    done = allocate_lock()
    done.acquire()

    def run() -> None:
        try:
            box.append(work())
        except BaseException as exc:
            box.append(exc)
        finally:
            done.release()

    start_new_thread(run, ())
    done.acquire()
    result = box[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _unescape(field: str) -> str:
    """A mount point as /proc/*/mountinfo writes it (space, tab, newline, \\ octal)."""
    if "\\" not in field:
        return field
    raw = field.encode("utf-8", "surrogateescape").decode("unicode_escape")
    return raw.encode("latin-1").decode("utf-8", "surrogateescape")


def _mount_points(below: str, *, including: bool) -> list[str]:
    """The topmost mount points under ``below`` in the calling thread's view (and
    ``below`` itself with ``including``): binding or detaching these covers all."""
    with open("/proc/thread-self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        points = {_unescape(line.split()[4]) for line in f}
    prefix = below.rstrip("/") + "/"
    inside = sorted(p for p in points if p.startswith(prefix) or (including and p == below))
    top: list[str] = []
    for point in inside:  # sorted: a parent comes before what is below it
        if not any(point == t or point.startswith(t.rstrip("/") + "/") for t in top):
            top.append(point)
    return top


def _detach(path: str) -> None:
    """Lazily unmount everything stacked on ``path`` (and so everything below it)."""
    for _ in range(64):
        if _libc.umount2(path.encode(), _MNT_DETACH) != 0:
            return


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _overlay(directory: str, scratch: tuple[int, str], label: str) -> None:
    """Put an overlay on ``directory`` (node view) so that new entries in it land in the
    node's scratch directory, not in the host's.

    Why an overlay rather than a tmpfs with the directory's entries bound back: one mount
    per directory instead of one per entry; the host's files stay live (a change on the
    host shows, as on an unmodified node); what the node writes there is kept in the lab
    directory, to be read after a crash. Mounts below ``directory`` (the overlay shows
    only its own filesystem) are bound back on top.
    """
    parent, base = scratch  # made on first use: most nodes never need it
    name = f'{base}/{directory.strip("/").replace("%", "%25").replace("/", "%2F")}'
    fds: list[int] = []
    try:
        for part in (base, name, f"{name}/upper", f"{name}/work"):
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=parent)
        lower = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        fds.append(lower)
        upper = os.open(f"{name}/upper", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                        | os.O_CLOEXEC, dir_fd=parent)
        fds.append(upper)
        work = os.open(f"{name}/work", os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW
                       | os.O_CLOEXEC, dir_fd=parent)
        fds.append(work)
        st = os.fstat(lower)  # the merged directory shows the upper one's owner and mode
        os.fchown(upper, st.st_uid, st.st_gid)
        os.fchmod(upper, stat.S_IMODE(st.st_mode))
        below = []
        for point in _mount_points(directory, including=False):
            fd = os.open(point, os.O_PATH | os.O_CLOEXEC)
            fds.append(fd)
            below.append((point, fd))
        options = (f"lowerdir=/proc/self/fd/{lower},upperdir=/proc/self/fd/{upper},"
                   f"workdir=/proc/self/fd/{work}")
        _call(_mount("overlay", directory, "overlay", 0, options),
              f"node {label}: mount an overlay on", directory)
        for point, fd in below:
            _call(_mount(f"/proc/self/fd/{fd}", point, None, _MS_BIND | _MS_REC),
                  f"node {label}: bind back", point)
    finally:
        for fd in fds:
            os.close(fd)


def _make_target(target: str, is_dir: bool, owned: list[str], scratch: tuple[int, str],
                 label: str) -> None:
    """Make a missing mount point in the node's view only."""
    above = os.path.dirname(target)
    while not os.path.isdir(above):
        above = os.path.dirname(above)
    if not any(_under(above, top) for top in owned):  # the host's: overlay it first
        if above == "/":  # an overlay of / would hide every mount: too much to bind back
            raise KernelError(f"namespace {label}: {target} cannot be made in the node's "
                              "view alone; make its top-level directory on the host, or "
                              "mount below an existing one", errno.ENOENT)
        _overlay(above, scratch, label)
        owned.append(above)
    os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
    if is_dir:
        os.makedirs(target, 0o755, exist_ok=True)  # an overlay may show it now
    else:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))


def _bind(fd: int, target: str, is_dir: bool, what: str) -> None:
    """Bind what ``fd`` is on ``target``. A file replaced meanwhile (``/etc/hosts`` is,
    by every tool that adds its lines atomically) fails with ENOENT: look it up again."""
    flags = _MS_BIND | (_MS_REC if is_dir else 0)
    for _ in range(50):
        if _mount(f"/proc/self/fd/{fd}", target, None, flags) == 0:
            return
        if _get_errno() != errno.ENOENT or not os.path.lexists(target):
            break
    _call(-1, what, target)


def _depth(mount: Mount) -> int:
    return os.path.normpath(mount.target).count("/")


def _build_view(base: int, hostname: str, mounts: Sequence[Mount], scratch: str,
                label: str) -> tuple[int, int]:
    """In a fresh thread: new mount and UTS namespaces made into the node's view; their
    open files, to be mounted by the caller (in the host's view)."""
    _call(int(_libc.unshare(CLONE_FS)), "unshare filesystem context for", label)
    _call(int(_libc.setns(base, CLONE_NEWNS)), "enter the base view for", label)
    _call(int(_libc.unshare(CLONE_NEWNS | CLONE_NEWUTS)), "unshare mount namespace for",
          label)
    fds: list[int] = []
    try:
        # what to mount, opened in this namespace before its view changes (a bind source
        # must be a mount of the caller's own namespace)
        sources = []
        for mount in mounts:
            fd = os.open(mount.source, os.O_PATH | os.O_CLOEXEC)
            fds.append(fd)
            sources.append(fd)
        parent = os.open(os.path.dirname(scratch), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        fds.append(parent)
        scratch_at = (parent, os.path.basename(scratch))
        name = hostname.encode()[:_HOSTNAME_MAX]
        _call(int(_libc.sethostname(name, len(name))), "sethostname", hostname)
        owned: list[str] = []  # what is the node's own: missing paths are made there
        for mount, fd in sorted(zip(mounts, sources, strict=True), key=lambda m: _depth(m[0])):
            target = os.path.realpath(mount.target)  # /var/run -> /run, as the node sees it
            is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
            if mount.private:  # the host's mounts there would be hidden, yet propagate
                for point in _mount_points(target, including=True):
                    _detach(point)
            if not os.path.lexists(target):
                _make_target(target, is_dir, owned, scratch_at, label)
            _bind(fd, target, is_dir, f"namespace {label}: bind {mount.source} on")
            if mount.readonly:
                _call(_mount(None, target, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY),
                      f"node {label}: remount read-only", target)
            if mount.private:
                owned.append(target)
        mnt = os.open("/proc/thread-self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        try:
            uts = os.open("/proc/thread-self/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
        except BaseException:
            os.close(mnt)
            raise
    finally:
        for fd in fds:
            os.close(fd)
    return mnt, uts


def create(netns: str, hostname: str, mounts: Sequence[Mount], scratch: str) -> None:
    """Give the node in ``netns`` its own mount and UTS namespaces: ``mounts`` in its
    view (parents before what is below them; a later one on the same target wins),
    ``hostname`` its hostname, ``scratch`` the directory (in the lab directory, made
    when first needed) that keeps what the node writes where it had no directory of its
    own."""
    _ensure_holder_dir()
    remove(netns)  # a leftover of a namespace of this name (ours: netns.create just won)
    chosen: dict[str, Mount] = {}
    for mount in mounts:
        chosen[os.path.realpath(mount.target)] = mount
    paths = holder_paths(netns)
    for path in paths:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0))
    try:
        base = _base(tuple(sorted(t for t, m in chosen.items() if m.private)))
        fds = list(_in_thread(lambda: _build_view(base, hostname, list(chosen.values()),
                                                  scratch, netns)))
        try:
            for attempt in range(_LOOP_RETRIES):
                if _mount(f"/proc/self/fd/{fds[0]}", paths[0], None, _MS_BIND) == 0:
                    break
                if _get_errno() != errno.EINVAL or attempt == _LOOP_RETRIES - 1:
                    _call(-1, "mount namespace file on", paths[0])
                # The kernel refuses to keep a mount namespace whose id is not above the
                # caller's (a loop guard), and hands ids out in per-CPU batches: inside a
                # mount namespace of its own (a test's, a container's) a new view may get
                # a lower id. An identical copy gets another id.
                copy = _in_thread(lambda: _copy_view(fds[0]))
                os.close(fds[0])
                fds[0] = copy
            _call(_mount(f"/proc/self/fd/{fds[1]}", paths[1], None, _MS_BIND),
                  "UTS namespace file on", paths[1])
        finally:
            for fd in fds:
                os.close(fd)
    except BaseException:
        remove(netns)
        raise


def _copy_view(view: int) -> int:
    """A copy of the mount namespace ``view`` (same mounts, a new namespace id)."""
    _call(int(_libc.unshare(CLONE_FS)), "unshare filesystem context for", "a view copy")
    _call(int(_libc.setns(view, CLONE_NEWNS)), "enter", "a node's view")
    _call(int(_libc.unshare(CLONE_NEWNS)), "unshare mount namespace for", "a view copy")
    return os.open("/proc/thread-self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)


def remove(netns: str) -> bool:
    """Unmount and remove what keeps the node's mount and UTS namespaces (they end with
    the last process in them). True if something was there."""
    found = False
    for path in holder_paths(netns):
        if not os.path.lexists(path):
            continue
        found = True
        if _libc.umount2(path.encode(), _MNT_DETACH) != 0 and \
                _get_errno() not in (errno.EINVAL, errno.ENOENT):  # EINVAL: a placeholder
            raise KernelError(f"unmount {path}", _get_errno())
        try:  # noqa: SIM105 - no contextlib here (see _ns)
            os.unlink(path)
        except FileNotFoundError:
            pass
    return found


def has_view(netns: str) -> bool:
    """The node in ``netns`` has a mount namespace of its own (kept in HOLDER_DIR; a
    placeholder left by a view being made, or by a kill -9 while it was, is none)."""
    return _is_nsfs(holder_paths(netns)[0])


def run_in(netns_fd: int, netns: str, work: Callable[[], T]) -> T:
    """``work()`` (e.g. starting a process: it inherits the thread's namespaces) in a
    fresh thread inside the node's network, mount and UTS namespaces. The working
    directory is kept where the node's view has it."""
    try:
        cwd = os.getcwd()
    except OSError:  # removed meanwhile
        cwd = "/"
    mnt_path, uts_path = holder_paths(netns)

    def enter() -> T:
        # setns to a mount namespace needs a filesystem context of this thread's own
        _call(int(_libc.unshare(CLONE_FS)), "unshare filesystem context for", netns)
        setns(netns_fd)
        fds: list[tuple[int, int, str]] = []
        try:  # both opened first: the node's view may not show HOLDER_DIR
            for path, kind in ((mnt_path, CLONE_NEWNS), (uts_path, CLONE_NEWUTS)):
                try:
                    fds.append((os.open(path, os.O_RDONLY | os.O_CLOEXEC), kind, path))
                except FileNotFoundError:
                    raise KernelError(f"open {path} (node {netns} has no view of its own)",
                                      errno.ENOENT) from None
            for fd, kind, path in fds:
                _call(int(_libc.setns(fd, kind)), "enter namespace", path)
        finally:
            for fd, _kind, _path in fds:
                os.close(fd)
        try:
            os.chdir(cwd)
        except OSError:
            os.chdir("/")
        return work()

    return _in_thread(enter)
