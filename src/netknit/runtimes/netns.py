"""The built-in runtime: a node is a named network namespace, its ``cmd`` a supervised
process inside it. No image, no daemon — the embedded default.

Commands run in a node are forked from a thread that has entered the node's namespace
(a child inherits the forking thread's namespaces), so no ``ip netns exec``/``nsenter``
process sits in between and nothing else of netknit changes namespace.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import KernelError, NetknitError, RuntimeFailure, StateError
from .._supervise import GRACE, LOGFILE, MARK_ENV, PIDFILE, proc_start_time, proc_stat
from ..kernel import Namespace, entered, netns
from ..kernel import _mntns as mntns
from ..plan import NO_ADDRESS, MgmtAddress
from ..state import Effect, EffectKind, LabDir, NodeState
from ._base import (
    ExecResult,
    Fix,
    Observed,
    Preflight,
    Problem,
    Progress,
    RuntimeEvent,
    Trouble,
    Workload,
    namespaces_taken,
)

if TYPE_CHECKING:  # annotations only: destroy loads neither the planner nor the model
    from ..plan import NodePlan
    from ..topology import Mgmt

T = TypeVar("T")

#: How long a started supervisor gets to write its pid file.
_PIDFILE_WAIT = 5.0
#: In a node's directory: its private directories (``fs/run`` is its ``/run``) and its
#: ``/etc/hostname`` and ``/etc/hosts`` (``fs/etc``); ``overlay``: what it wrote where it
#: had no directory of its own (an overlay's upper layer per directory).
VIEW_DIR = "fs"
SCRATCH_DIR = "overlay"


class NetnsRuntime:
    """A node is a named namespace marked with the lab's identity; its workload the
    supervised ``cmd``. Nothing of it comes back by itself."""

    name = "netns"
    noun = "namespaces"
    kinds = frozenset({EffectKind.NETNS, EffectKind.PROCESS})
    empty_namespaces = True
    self_restarting = False
    remote_engine = False

    def __init__(self, lab_dir: Path, *, sandbox_image: str | None = None) -> None:
        self.lab_dir = LabDir(lab_dir)
        self._pidfiles: dict[str, Path] = {}  # node -> pid file of the cmd started here

    # -- deploy ---------------------------------------------------------------------------

    def preflight(self, nodes: Sequence[NodePlan], report: Progress) -> Preflight:
        return Preflight(namespaces_taken(nodes))

    def names(self, node: NodePlan) -> tuple[str | None, str | None]:
        return None, None  # the namespace is the node: its name is recorded already

    def shared(self, lab: str, mgmt: Mgmt | None, nodes: Sequence[NodePlan]) -> list[Effect]:
        return []

    def make_shared(self, effect: Effect) -> str | None:
        return None

    def release(self) -> None:
        pass

    def intent_create(self, node: NodePlan) -> Effect:
        # the mounts that keep its view go into the intent: destroy unmounts exactly these
        return Effect(EffectKind.NETNS, node.netns or "",
                      info={"mounts": list(mntns.holder_paths(node.netns or ""))})

    def create(self, node: NodePlan, mark: str, effect: Effect) -> Namespace:
        assert node.netns is not None
        ns = netns.create(node.netns, mark)
        effect.info["inode"] = ns.inode
        if node.binds:  # a bind that cannot be made fails the deploy, not a later exec
            try:
                self._make_view(node)
            except BaseException:
                ns.close()  # the journaled namespace is destroy's to remove
                raise
        return ns

    def _ensure_view(self, node: NodePlan, ns: Namespace) -> None:
        """Make the node's view when a process is first started in it (its ``cmd``, an
        exec, a hook): only then can anything see it, and a lab of nodes that only wire
        links (most large labs) does not pay for views nobody looks through (they cost
        twice the namespace itself). Under a lock on the node's directory: two commands
        starting processes in the node at once make one view. The namespace's journal
        record already names the view's mounts, so destroy removes it, after kill -9
        too."""
        if not node.netns or mntns.has_view(node.netns):
            return
        with self.lab_dir.open(node.name, create=True) as directory:
            fcntl.flock(directory.fd, fcntl.LOCK_EX)  # released when it is closed
            if mntns.has_view(node.netns) or netns.inode_of(node.netns) != ns.inode:
                return  # made meanwhile; or the namespace is gone: nothing to view
            self._make_view(node)

    def _make_view(self, node: NodePlan) -> None:
        """The node's own mount and UTS namespaces: its private directories (emptied, as
        a host's /run is at boot), hostname files and binds."""
        assert node.netns is not None
        node_dir = self.lab_dir.node_dir(node.name)
        targets = list(dict.fromkeys(os.path.realpath(p) for p in node.private_dirs))
        with self.lab_dir.open(node.name, create=True) as directory:
            directory.remove(VIEW_DIR)
            directory.remove(SCRATCH_DIR)
            # made afresh at each deploy, so no fsync (each costs ms on a busy disk):
            # in a checked directory, never through a link (O_NOFOLLOW at each level)
            for target in targets:
                os.close(_mkdirs(directory.fd, [VIEW_DIR, *target.strip("/").split("/")]))
            etc = _mkdirs(directory.fd, [VIEW_DIR, "etc"])
            try:
                for name, data in (("hostname", f"{node.name}\n".encode()),
                                   ("hosts", _hosts_file(node.name))):
                    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                 | os.O_CLOEXEC, 0o644, dir_fd=etc)
                    try:
                        os.fchmod(fd, 0o644)
                        view = memoryview(data)
                        while view:
                            view = view[os.write(fd, view):]
                    finally:
                        os.close(fd)
            finally:
                os.close(etc)
        mounts = [mntns.Mount(str(node_dir.joinpath(VIEW_DIR, *t.strip("/").split("/"))), t,
                              private=True) for t in targets]
        mounts += [mntns.Mount(str(node_dir / VIEW_DIR / "etc" / name), f"/etc/{name}")
                   for name in ("hostname", "hosts")]
        for bind in node.binds:  # checked by the loader: host path absolute
            source, target, *options = bind.split(":")
            readonly = "ro" in ",".join(options).split(",")
            mounts.append(mntns.Mount(source, target, readonly=readonly))
        mntns.create(node.netns, node.name, mounts, str(node_dir / SCRATCH_DIR))

    def intent_start(self, node: NodePlan, node_dir: Path) -> Effect | None:
        # the pid file's path goes into the intent: after a crash between spawning the
        # supervisor and journaling its pid, destroy still finds it there
        return Effect(EffectKind.PROCESS, node.name, node.netns,
                      {"pidfile": str(node_dir / PIDFILE)})

    def start(self, node: NodePlan, ns: Namespace | None, node_dir: Path,
              effect: Effect | None) -> None:
        if node.startup_delay:
            time.sleep(node.startup_delay)
        assert ns is not None
        workload = self._start(node, ns, node_dir)
        if workload is not None and effect is not None:
            effect.info.update(pid=workload.pid, start=workload.start)

    def _start(self, node: NodePlan, ns: Namespace, node_dir: Path) -> Workload | None:
        if not node.cmd:
            return None
        import subprocess  # here: a lab of bare namespaces (and destroy) starts nothing

        pidfile = node_dir / PIDFILE
        self._pidfiles[node.name] = pidfile
        env = {**os.environ, **node.env}
        # the supervisor gets the checked node directory as an open fd, its path only as
        # its name (see _supervise); -P: nothing is imported from the working directory
        with LabDir(node_dir.parent).open(node_dir.name, create=True) as directory:
            directory.unlink(PIDFILE)
            log = directory.open(LOGFILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                argv = [sys.executable, "-P", "-m", "netknit._supervise", str(node_dir),
                        str(directory.fd), str(log), node.cmd]
                self._ensure_view(node, ns)
                proc = _spawn(node, ns, lambda: subprocess.Popen(
                    argv, env=env, cwd="/", stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    pass_fds=(directory.fd, log), start_new_session=True))
            finally:
                os.close(log)
            deadline = time.monotonic() + _PIDFILE_WAIT
            while not directory.exists(PIDFILE):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeFailure(
                        f"node {node.name}: the supervisor of `cmd` did not start",
                        hint=f"see {node_dir / LOGFILE}")
                time.sleep(0.005)
        # the supervisor is in its own session; let the kernel reap it when it exits
        return Workload(str(pidfile), proc.pid, proc_start_time(proc.pid))

    def identify(self, effect: Effect) -> bool:
        # a process record is complete in its intent; a namespace once it has its inode
        return effect.kind == EffectKind.PROCESS or "inode" in effect.info

    def exec(self, node: NodePlan, ns: Namespace | None, argv: Sequence[str],
             env: Mapping[str, str] | None = None, timeout: float | None = None,
             *, separate: bool = False) -> ExecResult:
        if ns is None:  # not open for us: open it for this command
            try:
                ns = netns.open_existing(str(node.netns))
            except KernelError:
                raise NetknitError(f"node {node.name!r} is not running",
                                   hint="deploy the lab first: `netknit deploy`") from None
            try:
                return self.exec(node, ns, argv, env, timeout, separate=separate)
            finally:
                ns.close()
        import shlex
        import subprocess

        full_env = {**os.environ, **node.env, **(env or {})}
        command = shlex.join(argv)
        self._ensure_view(node, ns)
        try:
            proc = _spawn(node, ns, lambda: subprocess.Popen(
                list(argv), env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if separate else subprocess.STDOUT))
        except FileNotFoundError:
            return _failed(node.name, command, 127, f"{argv[0]}: command not found\n",
                           separate)
        with proc:
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()  # as subprocess.run does
                out, err = proc.communicate()
                note = f"\n(timed out after {timeout}s)"
                if separate:
                    return ExecResult(node.name, command, 124, out.decode(errors="replace"),
                                      (err or b"").decode(errors="replace") + note)
                return ExecResult(node.name, command, 124,
                                  out.decode(errors="replace") + note)
        return ExecResult(node.name, command, proc.returncode, out.decode(errors="replace"),
                          (err or b"").decode(errors="replace"))

    # -- stop, remove ------------------------------------------------------------------

    def stop(self, effect: Effect, *, grace: float | None = None,
             keep_address: bool = False) -> None:
        """End the node's supervisor and with it the whole process tree of its cmd;
        return only when none of it is left (always gracefully: the supervisor's SIGTERM
        and grace period, whatever ``grace``). A namespace is removed: nothing of a
        namespace-only holder survives a stop."""
        if effect.kind == EffectKind.NETNS:
            self.remove(effect)
            return
        pidfile = Path(effect.info["pidfile"])
        if not effect.done:
            # a deploy died around the spawn: give a supervisor that is just starting the
            # moment it needs to write its pid file
            deadline = time.monotonic() + 1.0
            while not pidfile.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        workload = Workload(str(pidfile), int(effect.info.get("pid", 0)),
                            effect.info.get("start"))
        node_dir = pidfile.parent
        supervisors = {(workload.pid, workload.start)}  # as journaled at its start
        record = _read_pidfile(workload.pidfile)
        if record:  # and as it says itself (the same, unless the journal was lost)
            supervisors.add((int(record["pid"]), record.get("start")))
        for pid, start in supervisors:
            if pid:
                _stop_supervisor(pid, start, node_dir)

    def remove(self, effect: Effect) -> bool:
        if effect.kind == EffectKind.PROCESS:
            self.stop(effect)
            return True
        inode = effect.info.get("inode")
        current = netns.inode_of(effect.name)
        removed = False
        if not inode or current is None or current == int(inode):  # not another's
            # its view's mounts first (also when the namespace cannot go): those in the
            # journal's record (one made from the kernel's mark names the same paths)
            removed = mntns.remove(effect.name)
        return netns.delete(effect.name, inode=int(inode) if inode else None) or removed

    def leftovers(self, live: Iterable[Effect]) -> list[Effect]:
        return []  # namespaces carry the lab's mark in the kernel: destroy finds them

    def labs(self) -> list[tuple[str, Path, Path | None]]:
        return []  # its namespaces carry the lab's mark: the kernel shows them

    # -- the node as it is -----------------------------------------------------------------

    def wait_for(self, node: NodePlan, condition: str, timeout: float) -> None:
        """A netns node is healthy while its ``cmd`` runs (at once without one) and has
        exited when its ``cmd`` ended for good."""
        pidfile = self._pidfiles.get(node.name)
        if not node.cmd or pidfile is None:
            return
        deadline = time.monotonic() + timeout
        while True:
            status = workload_status(pidfile)
            if condition == "healthy" and status == "running":
                return
            if condition == "exited" and status.startswith(("exited", "stopped")):
                return
            if time.monotonic() > deadline:
                raise RuntimeFailure(
                    f"node {node.name} did not become {condition} within {timeout:.0f}s "
                    f"(its cmd is {status})", hint=f"see {pidfile.parent / LOGFILE}")
            time.sleep(0.05)

    def open(self, node: NodeState, *, workload: bool = False) -> Namespace | None:
        if node.netns is None:
            return None
        try:
            return netns.open_existing(node.netns)
        except KernelError:
            return None

    def observe(self, node: NodeState, *, has_workload: bool | None = None) -> Observed:
        """Its namespace, and its supervised cmd (read from its pid file, unless
        ``has_workload`` is False: a node without one has none)."""
        cmd = "-" if has_workload is False else \
            workload_status(self.lab_dir.node_dir(node.name) / PIDFILE)
        if node.netns is None:
            return Observed("host", cmd)
        if not netns.exists(node.netns):
            return Observed("missing", cmd, ("namespace missing",), (Problem(
                Trouble.NAMESPACE_MISSING, Fix.RECREATE, "namespace missing",
                "recreate namespace, its links and its cmd"),))
        problems: tuple[Problem, ...] = ()
        if has_workload and cmd not in ("running", "starting", "restarting"):
            problems = (Problem(Trouble.WORKLOAD_STOPPED, Fix.START, "cmd not running",
                                "start cmd"),)
        return Observed("running", cmd, (), problems)

    def revive(self, node: NodePlan, problem: Problem) -> None:
        pass  # nothing of a netns node comes back by itself: see Fix.RECREATE

    def resume(self, node: NodePlan, problem: Problem) -> None:
        pass

    def management(self, node: NodePlan) -> MgmtAddress:
        return NO_ADDRESS  # a namespace node has no management network

    def events(self, lab: str) -> Iterator[RuntimeEvent] | None:
        return None  # the kernel's own events (netlink) are the watcher's


def _mkdirs(parent: int, parts: Sequence[str]) -> int:
    """Open ``parent``/``parts``, each level made 0755 if missing, none a link."""
    fd = os.dup(parent)
    try:
        for part in parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            below = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                            dir_fd=fd)
            os.close(fd)
            fd = below
            os.fchmod(fd, 0o755)  # whatever the umask
    except BaseException:
        os.close(fd)
        raise
    return fd


def _spawn(node: NodePlan, ns: Namespace, start: Callable[[], T]) -> T:
    """``start()`` (which starts a process) inside the node: its network namespace and,
    when it has them, its mount and UTS namespaces (a lab deployed before it had them
    has not)."""
    if node.netns and mntns.has_view(node.netns):
        return mntns.run_in(ns.fd, node.netns, start)
    with entered(ns.fd):
        return start()


def _hosts_file(name: str) -> bytes:
    """A node's /etc/hosts: its own name first, then the host's entries (the lab's
    block among them) as they are at deploy."""
    try:
        with open("/etc/hosts", "rb") as f:
            host = f.read()
    except OSError:
        host = b""
    own = (f"127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n"
           "::1\tlocalhost ip6-localhost ip6-loopback\n"
           "# the host's /etc/hosts at deploy\n")
    return own.encode() + host


def _failed(node: str, command: str, code: int, message: str, separate: bool) -> ExecResult:
    """A command that could not run: its message where the command's stderr would be."""
    return ExecResult(node, command, code, "", message) if separate else \
        ExecResult(node, command, code, message)


def _read_pidfile(path: str) -> dict[str, Any] | None:
    pidfile = Path(path)
    try:  # through the checked lab directory, never a symbolic link
        data = json.loads(LabDir(pidfile.parent.parent).read_node_file(pidfile.parent.name,
                                                                       pidfile.name))
    except (OSError, ValueError, StateError):  # StateError: not safe to read
        return None
    return data if isinstance(data, dict) else None


def _stop_supervisor(pid: int, start: object, node_dir: Path) -> None:
    if _is_supervisor(pid, start, node_dir):
        os.kill(pid, signal.SIGTERM)  # it ends the tree, then itself
        deadline = time.monotonic() + GRACE + 2
        while _alive(pid, start) and time.monotonic() < deadline:
            time.sleep(0.01)
        if not _alive(pid, start):
            return  # it waited until nothing of the tree was left
        os.kill(pid, signal.SIGKILL)
    # the supervisor was gone (killed, or its cmd ended and left children behind) or
    # hung: end what is left of its tree, found by the mark the supervisor put on it
    _end_marked(pid, start, node_dir)


def _is_supervisor(pid: int, start: object, node_dir: Path) -> bool:
    """True only for the running supervisor of the node in ``node_dir`` (same pid and
    start time as recorded, and netknit's supervisor of that directory by its command
    line): a damaged or forged pid file never makes netknit signal another process."""
    if not _alive(pid, start):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    module = b"netknit._supervise"
    # its node directory (or, started by an older netknit, its pid file there)
    names = (os.fsencode(node_dir), os.fsencode(node_dir / PIDFILE))
    return any(argv[i - 1] == b"-m" and argv[i + 1] in names
               for i in range(1, len(argv) - 1) if argv[i] == module)


def _end_marked(sup_pid: int, sup_start: object, node_dir: Path) -> None:
    """SIGKILL every process carrying the mark of supervisor ``sup_pid`` (started at
    ``sup_start``) until none is left."""
    if sup_start is None:
        return  # no start time recorded: nothing identifies its tree safely
    token = f"{MARK_ENV}={sup_pid}:{sup_start}".encode()
    deadline = time.monotonic() + GRACE
    while True:
        left = [pid for pid in _pids() if _carries(pid, token) and _alive(pid, None)]
        if not left:
            return
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise RuntimeFailure(f"processes {left} of the cmd in {node_dir} survive SIGKILL",
                                 hint="they may be stuck in the kernel (state D); check "
                                 f"`ps -o pid,stat,cmd -p {','.join(map(str, left))}`")
        time.sleep(0.02)


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _carries(pid: int, token: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return token in f.read().split(b"\0")
    except OSError:
        return False


def _alive(pid: int, start: object) -> bool:
    """True if ``pid`` is still the process that was started (not a reused pid)."""
    fields = proc_stat(pid)
    if fields is None or fields[0] == b"Z":
        return False  # gone, or a zombie: it has exited; nothing to stop
    return start is None or int(fields[19]) == start


def workload_status(pidfile: Path) -> str:
    """``running``, ``exited (N)``, ``restarting`` or ``-`` for a node's cmd."""
    record = _read_pidfile(str(pidfile))
    if not record:
        return "-"
    if record.get("child") and _alive(int(str(record["child"])), record.get("child_start")):
        return "running"
    exits = record.get("exits") or []
    sup_alive = _alive(int(str(record["pid"])), record.get("start"))
    if sup_alive:
        return "restarting" if exits else "starting"
    if isinstance(exits, list) and exits:
        return f"exited ({exits[-1]})"
    return "stopped"
