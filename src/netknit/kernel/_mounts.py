"""Run correctly under ``ip netns exec``.

``ip netns exec NS cmd`` gives ``cmd`` a private mount namespace whose mounts are slaves
of the host's. A namespace netknit mounts on ``/run/netns/<name>`` in there never reaches
the host's mount table and dies with the command: the lab would vanish the moment deploy
returns. So the CLI first joins the host's mount namespace (that of the process that ran
``ip netns exec``), keeping its network namespace: the lab is then made exactly as it
would be from a shell in ``NS``.
"""

from __future__ import annotations

import contextlib
import os

CLONE_NEWNS = 0x00020000
RUN_NETNS = "/run/netns"


def _shares_run_netns(pid: str) -> bool:
    """Is /run/netns in ``pid``'s mount namespace a shared mount (propagating both ways)?
    The last of the mounts stacked there counts: it is the one paths resolve to."""
    shared = False
    with open(f"/proc/{pid}/mountinfo", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if fields[4] == RUN_NETNS:
                shared = any(o.startswith("shared:") for o in fields[6:fields.index("-")])
    return shared


def _host_mounts() -> str | None:
    """The ``ns/mnt`` path of the nearest ancestor whose mounts under /run/netns are
    shared, when ours do not reach it; None when ours do (or nothing better is found).

    PID 1's namespace would be the obvious answer, but sandboxes may hide PID 1's
    ``ns`` links; the ancestor that ran ``ip netns exec`` is in the namespace we want.
    Only an ancestor with our hostname's (UTS) namespace: ``ip netns exec`` keeps it,
    while a netknit node has one of its own, and netknit run in a node (``wait``, a
    nested ``exec``) must stay in the node's view.
    """
    try:
        if _shares_run_netns("self"):
            return None
        mine = os.stat("/proc/self/ns/mnt").st_ino
        uts = os.stat("/proc/self/ns/uts").st_ino
        pid = str(os.getppid())
        while pid not in ("0", "1"):
            try:
                if os.stat(f"/proc/{pid}/ns/uts").st_ino != uts:
                    return None  # we are in a node (or a container) of our own
                if os.stat(f"/proc/{pid}/ns/mnt").st_ino != mine and _shares_run_netns(pid):
                    return f"/proc/{pid}/ns/mnt"
                with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
                    pid = f.read().rsplit(")", 1)[1].split()[1]
            except OSError:
                return None
    except (OSError, ValueError, IndexError):
        return None
    return None


def join_host_mounts() -> bool:
    """Join the host's mount namespace when mounts made here would not reach it.

    Call it while the process is single-threaded (the kernel refuses otherwise). Returns
    True when it switched. The working directory is kept (by path).
    """
    target = _host_mounts()
    if target is None:
        return False
    cwd = os.getcwd()
    fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
    try:
        import ctypes  # only here: the common case (no switch) skips its ~2 ms import

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNS) != 0:
            return False  # not permitted (not root, threads): the caller's old behaviour
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.chdir(cwd)
    return True
