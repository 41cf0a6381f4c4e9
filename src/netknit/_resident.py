"""The resident process: netknit with its modules already loaded, forking one child per
command, so that a command costs a fork instead of an interpreter start and ~200 ms of
imports (a 2-node deploy: ~250 ms as a process on a small VM, ~60 ms through it).

It is opt-in (``netknit resident start``), and a command never depends on it: without an
answer on the socket, the command runs in its own process as always.

A forwarded command must behave as if it ran in the caller's process, so the caller
(:func:`forward`, a few system calls in the ``netknit`` launcher) sends its argv,
environment, working directory, umask and its stdin/stdout/stderr (as file descriptors),
and the resident's child takes all of them and joins the caller's mount, network and UTS
namespaces (``ip netns exec netknit …`` works the same) before it runs the command:

- signals the caller gets (Ctrl-C, SIGTERM, SIGHUP) are passed on to the child;
- the caller exits with the child's status, and a child killed by a signal kills its
  caller with the same signal;
- a caller that dies (kill -9) takes its child with it: the resident sees its
  connection close and kills the child.

Only the owner of the resident (root) may connect (checked by SO_PEERCRED). When
netknit's files change (an upgrade, an edit of a checkout) the resident refuses the next
command, which then runs in its own process, and exits: the next ``start`` loads the new
code. It also exits after ``--idle`` seconds without a command.

This module is imported by every ``netknit`` command: its top level imports only what
the caller needs (``_socket``, not ``socket``, which imports ``enum``).
"""

from __future__ import annotations

import _socket
import _struct  # not ``struct``: its Python wrapper costs ~3 ms to import on a small VM
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, NoReturn

#: the signals a caller passes on to the command it forwarded
FORWARDED = (2, 15, 1, 3, 10, 12)  # INT, TERM, HUP, QUIT, USR1, USR2

_HEADER = _struct.Struct("!I")
_REPLY = _struct.Struct("!ci")  # b"K" + child pid | b"X" + exit code | b"S" + signal


def socket_path() -> str:
    """The resident's socket for this netknit (its source tree and interpreter), so that
    two checkouts or virtualenvs never serve each other's commands."""
    given = os.environ.get("NETKNIT_RESIDENT_SOCKET")
    if given:
        return given
    import zlib

    here = os.path.dirname(os.path.abspath(__file__))
    key = zlib.crc32(f"{os.path.realpath(sys.executable)}\0{here}".encode())
    return f"/run/netknit/resident-{key:08x}.sock"


# -- the caller ----------------------------------------------------------------------------


def forward(entry: str) -> None:
    """Run this process's command (``entry``: "cli", the only one so far) in the
    resident and exit with its status. Returns (nothing sent) when no resident answers
    or it refuses."""
    if os.environ.get("NETKNIT_RESIDENT", "") == "0":
        return
    try:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    except OSError:
        return
    try:
        sock.connect(socket_path())
        cwd = os.getcwd()
    except OSError:
        sock.close()
        return  # no resident (the usual case), or no working directory to pass on
    mask = os.umask(0)
    os.umask(mask)
    fields = [entry, cwd, str(mask), str(len(sys.argv)), *sys.argv,
              *(f"{k}={v}" for k, v in os.environ.items())]
    payload = "\0".join(fields).encode("utf-8", "surrogateescape")
    fds = _struct.pack("3i", 0, 1, 2)
    try:
        sock.sendmsg([_HEADER.pack(len(payload)), payload],
                     [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        kind, value = _reply(sock)
    except OSError:
        kind, value = b"", 0
    if kind != b"K":
        sock.close()
        return  # refused (its code changed) or gone: run here
    import _signal  # type: ignore[import-not-found]  # not signal: it imports enum (~5 ms)

    def pass_on(signum: int, _frame: Any) -> None:
        try:  # noqa: SIM105 - no contextlib on the caller's path (import cost)
            sock.send(bytes([signum]))
        except OSError:
            pass

    for signum in FORWARDED:
        _signal.signal(signum, pass_on)
    try:
        kind, value = _reply(sock)
    except OSError:
        kind = b""
    if kind == b"S":
        for signum in FORWARDED:
            _signal.signal(signum, _signal.SIG_DFL)
        try:  # noqa: SIM105
            _signal.signal(value, _signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL, SIGSTOP: no handler to reset
        os.kill(os.getpid(), value)
        os._exit(128 + value)
    if kind != b"X":
        os.write(2, b"netknit: the resident process ended before the command did; "
                    b"run it again (NETKNIT_RESIDENT=0 runs it without the resident)\n")
        os._exit(1)
    os._exit(value)


def _reply(sock: _socket.socket) -> tuple[bytes, int]:
    data = b""
    while len(data) < _REPLY.size:
        chunk = sock.recv(_REPLY.size - len(data))
        if not chunk:
            return b"", 0
        data += chunk
    kind, value = _REPLY.unpack(data)
    return kind, value


# -- the resident --------------------------------------------------------------------------


def _preload() -> None:
    """Import what commands use, so a child starts with it loaded."""
    import contextlib
    import importlib
    import pkgutil

    import netknit

    skip = {"netknit.__main__", "netknit.pytest_plugin", "netknit._lab"}
    for info in pkgutil.walk_packages(netknit.__path__, "netknit."):
        if info.name not in skip:
            importlib.import_module(info.name)
    for name in ("docker", "rich.console", "rich.table", "rich.progress", "rich.text",
                 "rich.filesize", "yaml"):
        with contextlib.suppress(ImportError):  # optional: its commands say what to do
            importlib.import_module(name)
    from . import _dataclass

    _dataclass.save()


def _source_stamp() -> list[tuple[str, int]]:
    """Every netknit source file with its modification time: a change means new code."""
    import netknit

    found = []
    for root in netknit.__path__:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    try:
                        found.append((path, os.stat(path).st_mtime_ns))
                    except OSError:
                        found.append((path, -1))
    return sorted(found)


class _Request:
    """A command as the caller sent it."""

    def __init__(self, payload: bytes, fds: Sequence[int], pid: int, conn: Any) -> None:
        fields = payload.decode("utf-8", "surrogateescape").split("\0")
        self.entry, self.cwd, self.umask = fields[0], fields[1], int(fields[2])
        argc = int(fields[3])
        self.argv = fields[4:4 + argc]
        self.env = dict(f.split("=", 1) for f in fields[4 + argc:] if "=" in f)
        self.fds = list(fds)
        self.pid = pid
        self.conn = conn  # the child tells the caller its status on it


def _receive(conn: Any) -> _Request | None:
    """Read one request (None: not a complete one; its fds are closed)."""
    import array
    import socket

    conn.settimeout(5.0)  # a caller is a few system calls away from sending it all
    fds = array.array("i")
    try:
        head, ancillary, _flags, _addr = conn.recvmsg(
            _HEADER.size, socket.CMSG_SPACE(3 * fds.itemsize))
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
        if len(head) != _HEADER.size or len(fds) != 3:
            raise OSError("short request")
        (size,) = _HEADER.unpack(head)
        payload = b""
        while len(payload) < size:
            chunk = conn.recv(min(size - len(payload), 1 << 20))
            if not chunk:
                raise OSError("short request")
            payload += chunk
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _struct.calcsize("3i"))
        pid, _uid, _gid = _struct.unpack("3i", creds)
        conn.settimeout(None)
        return _Request(payload, fds, pid, conn)
    except (OSError, ValueError, IndexError):
        for fd in fds:
            os.close(fd)
        return None


def _become(request: _Request, run: Callable[[], int]) -> NoReturn:
    """In the forked child: take the caller's place, run its command, exit."""
    import io
    import signal

    code = 1
    conn = request.conn
    try:
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                       signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.set_wakeup_fd(-1)
        _join_namespaces(request.pid)
        os.chdir(request.cwd)
        os.umask(request.umask)
        os.environ.clear()
        os.environ.update(request.env)
        for target, fd in enumerate(request.fds):
            os.dup2(fd, target)
            os.close(fd)
        unbuffered = bool(request.env.get("PYTHONUNBUFFERED"))
        sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)),
                                     encoding="utf-8")
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
                                      encoding="utf-8", line_buffering=os.isatty(1),
                                      write_through=unbuffered)
        sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
                                      encoding="utf-8", errors="backslashreplace",
                                      line_buffering=True)
        sys.argv = request.argv
        with open("/proc/self/comm", "w") as comm:
            comm.write("netknit")
        code = run()
    except SystemExit as exc:  # a message: printed as the interpreter would
        print(exc.code, file=sys.stderr)
    except BaseException:  # the caller must get a status whatever happened
        import traceback

        traceback.print_exc()
    finally:
        import atexit
        import threading

        for thread in threading.enumerate():  # as the interpreter's exit: wait for them
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:  # noqa: SIM105
                stream.flush()
            except (OSError, ValueError):
                pass
        # the status goes to the caller now, not after this process is torn down and
        # reaped (~2 ms); the resident reports only deaths by a signal
        _send(conn, b"X", code)
        os._exit(code)


def _join_namespaces(pid: int) -> None:
    """Enter the caller's mount, network and UTS namespaces where they differ from ours
    (opened first: after the mount namespace changes, /proc may be another one)."""
    from .kernel._ns import _check, _libc

    opened = []
    for kind in ("mnt", "net", "uts"):
        theirs = f"/proc/{pid}/ns/{kind}"
        if os.stat(theirs).st_ino != os.stat(f"/proc/self/ns/{kind}").st_ino:
            opened.append(os.open(theirs, os.O_RDONLY | os.O_CLOEXEC))
    for fd in opened:
        _check(int(_libc.setns(fd, 0)), "setns")  # 0: whatever kind the fd is
        os.close(fd)


def serve(path: str, idle: float, run: Callable[[], int]) -> None:
    """Serve commands on ``path`` until SIGTERM, or ``idle`` seconds without one (0:
    never), or until netknit's files change; then wait for the running ones and exit.
    Each command runs in a child, as ``run()``, which returns its exit status."""
    import contextlib
    import gc
    import select
    import signal
    import socket

    _preload()
    stamp = _source_stamp()
    gc.collect()
    gc.freeze()  # the loaded modules stay shared with every child, page for page
    os.makedirs(os.path.dirname(path), exist_ok=True)
    made = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a resident that died left it (its lock is ours now)
    old = os.umask(0o077)
    made.bind(path)
    os.umask(old)
    bound = os.stat(path).st_ino
    made.listen(64)
    listener: socket.socket | None = made
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake select
    children: dict[int, socket.socket] = {}  # pid -> its caller's connection
    callers: dict[socket.socket, int] = {}
    me = os.getuid()
    import time

    last = checked = time.monotonic()
    changed = False
    while True:
        if (stopping or (idle and not children and time.monotonic() - last > idle)) \
                and listener is not None:
            _close_listener(listener, path, bound)
            listener = None
        if listener is None and not children:
            return
        watched: list[Any] = [wake_r, *callers, *([listener] if listener else [])]
        ready, _, _ = select.select(watched, [], [],
            1.0 if idle or stopping else None)
        if wake_r in ready:
            while True:
                try:
                    if not os.read(wake_r, 512):
                        break
                except BlockingIOError:
                    break
            _reap(children, callers)
        for conn in [c for c in ready if c in callers]:
            try:
                data = conn.recv(64)
            except OSError:
                data = b""
            pid = callers[conn]
            for signum in data or [signal.SIGKILL]:  # EOF: the caller died
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)
            if not data:
                del callers[conn]  # its status has nobody to go to
                conn.close()
        if listener is not None and listener in ready:
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            last = time.monotonic()
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                    _struct.calcsize("3i"))
            if _struct.unpack("3i", creds)[1] != me:
                conn.close()
                continue
            request = _receive(conn)
            if request is None:
                conn.close()
                continue
            if time.monotonic() - checked >= 1.0:  # a changed file is seen within 1 s
                checked = time.monotonic()
                changed = _source_stamp() != stamp
            if changed or request.entry != "cli":  # the caller runs it itself
                _send(conn, b"R", 0)
                conn.close()
                for fd in request.fds:
                    os.close(fd)
                stopping = stopping or changed  # new code: the next start loads it
                continue
            pid = os.fork()
            if pid == 0:
                if listener is not None:
                    listener.close()
                for other in callers:
                    other.close()
                os.close(wake_r)
                os.close(wake_w)
                _become(request, run)
            for fd in request.fds:
                os.close(fd)
            children[pid] = conn
            callers[conn] = pid
            _send(conn, b"K", pid)
            # its log (``PATH.log``): which caller each child runs for, and what
            print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} caller {request.pid} child {pid}: "
                  f"netknit {' '.join(request.argv[1:])}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None, run: Callable[[], int]) -> int:
    """The resident process itself (what ``netknit resident start`` runs, detached):
    ``--socket PATH --idle SECONDS``. Holds ``PATH.lock`` for its life, so only one
    serves a socket, and writes its pid to ``PATH.pid``."""
    import argparse
    import contextlib
    import fcntl

    parser = argparse.ArgumentParser(prog="netknit-resident")
    parser.add_argument("--socket", default=socket_path())
    parser.add_argument("--idle", type=float, default=0.0)
    args = parser.parse_args(argv)
    os.makedirs(os.path.dirname(args.socket), exist_ok=True)
    lock = os.open(f"{args.socket}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"another resident process serves {args.socket}", file=sys.stderr)
        return 3
    with open(f"{args.socket}.pid", "w") as f:
        f.write(f"{os.getpid()}\n")
    try:
        serve(args.socket, args.idle, run)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{args.socket}.pid")
    return 0


def running(path: str | None = None) -> int | None:
    """The pid of the resident process serving ``path`` (default: this netknit's), or
    None. Read from its pid file, believed only while it holds its lock."""
    import fcntl

    path = path or socket_path()
    try:
        with open(f"{path}.pid") as f:
            pid = int(f.read().strip() or 0)
        lock = os.open(f"{path}.lock", os.O_RDWR | os.O_CLOEXEC)
    except (OSError, ValueError):
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return pid  # held: it runs
    finally:
        os.close(lock)
    return None


def _send(conn: Any, kind: bytes, value: int) -> None:
    import contextlib

    with contextlib.suppress(OSError):  # the caller is gone
        conn.sendall(_REPLY.pack(kind, value))


def _reap(children: dict[int, Any], callers: dict[Any, int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is None:
            continue
        if conn in callers:
            if os.WIFSIGNALED(status):
                _send(conn, b"S", os.WTERMSIG(status))
            else:
                _send(conn, b"X", os.waitstatus_to_exitcode(status))
            del callers[conn]
        conn.close()


def _close_listener(listener: Any, path: str, bound: int) -> None:
    try:
        if os.stat(path).st_ino == bound:  # still ours, not a newer resident's
            os.unlink(path)
    except OSError:
        pass
    listener.close()


__all__ = ["forward", "main", "running", "serve", "socket_path"]
