"""The files containerlab writes for a lab (rendered by :mod:`netknit.plan._labfiles`):
``topology-data.json``, the inventories and ``authorized_keys`` in the lab directory, the
ssh config in ``/etc/ssh/ssh_config.d`` and the lab's block in ``/etc/hosts``.

Each is journaled before it is written and written atomically; ``/etc/hosts`` is edited
under containerlab's own lock file (so that netknit and containerlab serialize), and only
the lab's block changes: every other byte is kept. Destroy removes them by the journal;
without an intact journal, by their names and the block's markers.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from ..plan import MgmtAddress
from ..plan._labfiles import (
    ANSIBLE_INVENTORY,
    AUTHORIZED_KEYS,
    LAB_DIR_FILES,
    NORNIR_INVENTORY,
    TOPOLOGY_DATA,
    ansible_inventory,
    lab_nodes,
    nornir_inventory,
    ssh_config,
    topology_data,
    with_block,
    without_block,
)
from ..plan._labfiles import hosts_block as render_hosts_block
from ..state import Effect, EffectKind, LabDir, SafeDir
from ._marks import lab_mark

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._executor import Executor

HOSTS_FILE = Path("/etc/hosts")
HOSTS_LOCK = Path("/run/lock/clab-hosts.lock")  # containerlab's: both tools serialize
SSH_CONFIG_DIR = Path("/etc/ssh/ssh_config.d")
SSH_HEADER = "# Containerlab SSH Config for the {} lab\n"
#: the kinds of records this module writes (destroy hands them back here)
KINDS = frozenset({EffectKind.FILE, EffectKind.HOSTS})


def ssh_config_path(lab: str) -> Path:
    return SSH_CONFIG_DIR / f"clab-{lab}.conf"


def ssh_public_keys(home: Path | None = None) -> list[str]:
    """The keys containerlab puts in ``authorized_keys``: ``~/.ssh/*.pub`` and
    ``~/.ssh/authorized_keys``, as ``<type> <base64>`` (comments and options dropped)."""
    ssh = (home or Path.home()) / ".ssh"
    keys: set[str] = set()
    for path in [*sorted(ssh.glob("*.pub")), ssh / "authorized_keys"]:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            words = line.split()
            for i, word in enumerate(words[:-1]):  # options may come first
                if word.startswith(("ssh-", "ecdsa-", "sk-")):
                    keys.add(f"{word} {words[i + 1]}")
                    break
    return sorted(keys)


def edit_hosts(change: Callable[[bytes], bytes], *, path: Path | None = None,
               lock: Path | None = None) -> None:
    """Apply ``change`` to ``/etc/hosts`` under the lock; the file is replaced atomically
    with its mode kept (written in place only where it cannot be renamed over: a bind
    mount, as in a container)."""
    path, lock = path or HOSTS_FILE, lock or HOSTS_LOCK
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            content, mode = path.read_bytes(), stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            content, mode = b"127.0.0.1\tlocalhost", 0o644  # as containerlab creates it
        new = change(content)
        if new == content:
            return
        try:
            with SafeDir.at(path.parent, check=False) as parent:
                parent.write_atomic(path.name, new, mode)
                os.chmod(path.name, mode, dir_fd=parent.fd)  # umask-free
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.EXDEV):
                raise
            with open(path, "r+b") as f:
                f.write(new)
                f.truncate()
                os.fsync(f.fileno())
    finally:
        os.close(fd)


def write_lab_files(executor: Executor) -> None:
    """Render and write every file from the deployed lab (its runtimes' addresses)."""
    topo, plan, lab_dir, mark = executor.topo, executor.plan, executor.lab_dir, executor.mark
    addresses: dict[str, MgmtAddress] = {
        node.name: executor.runtime(node).management(node) for node in plan.nodes.values()}
    nodes = lab_nodes(topo, plan, str(lab_dir.path), addresses)
    keys = ssh_public_keys()
    in_lab_dir = {
        TOPOLOGY_DATA: topology_data(topo, nodes, str(lab_dir.path), keys,
                                     mgmt_made=executor.mgmt_made),
        ANSIBLE_INVENTORY: ansible_inventory(nodes),
        NORNIR_INVENTORY: nornir_inventory(nodes),
        AUTHORIZED_KEYS: "".join(f"{k}\n" for k in keys).encode(),
    }
    ssh = ssh_config_path(topo.name)
    write_ssh = SSH_CONFIG_DIR.is_dir()  # as containerlab: no directory, no ssh config
    effects = [Effect(EffectKind.FILE, str(lab_dir.path / name)) for name in in_lab_dir]
    if write_ssh:
        effects.append(Effect(EffectKind.FILE, str(ssh)))
    hosts = Effect(EffectKind.HOSTS, topo.name, None, {"path": str(HOSTS_FILE)})
    executor.intend([*effects, hosts])
    with lab_dir.open() as directory:
        for name, data in in_lab_dir.items():
            directory.write_atomic(name, data, 0o644, sync_dir=False)
        directory.sync()  # once for the four renames
    if write_ssh:
        with SafeDir.at(SSH_CONFIG_DIR, check=False) as directory:
            directory.write_atomic(ssh.name, ssh_config(topo.name, nodes, mark), 0o644)
    executor.crash()
    block = render_hosts_block(topo.name, nodes, mark)
    edit_hosts(lambda content: with_block(content, topo.name, block, mark))
    executor.crash()
    executor.done([*effects, hosts])


def _unlink(path: Path) -> bool:
    with SafeDir.at(path.parent, check=False) as directory:
        if not directory.exists(path.name):
            return False
        directory.unlink(path.name)
        return True


def remove_lab_files(lab: str, lab_dir: LabDir, effects: Iterable[Effect],
                     intact: bool, mark: str | None = None) -> tuple[list[Effect], int, list[str]]:
    """Remove what ``effects`` record; without an ``intact`` journal, also the lab's files
    by name and its ``/etc/hosts`` block by its markers (``mark``: the lab's, when its
    directory is not known). Returns the effects undone, how many objects were removed
    and what could not be (with why)."""
    done: list[Effect] = []
    removed = 0
    left: list[str] = []
    records = list(effects)
    mark = mark or lab_mark(lab, lab_dir)
    paths = {Path(e.name): e for e in records if e.kind == EffectKind.FILE}
    ssh = ssh_config_path(lab)
    if not intact:
        if lab_dir.exists():
            paths.update({lab_dir.path / n: Effect(EffectKind.FILE, str(lab_dir.path / n))
                          for n in LAB_DIR_FILES if lab_dir.path / n not in paths})
        paths.setdefault(ssh, Effect(EffectKind.FILE, str(ssh)))
    if ssh in paths:  # the name is the lab's only: the file is ours if it has our mark
        with contextlib.suppress(OSError):
            if not ssh.read_text().startswith(SSH_HEADER.format(lab) + f"# {mark}\n"):
                done.append(paths.pop(ssh))  # another lab's (or gone): not ours to remove
    for path, effect in paths.items():
        try:
            removed += _unlink(path)
            done.append(effect)
        except FileNotFoundError:
            done.append(effect)  # its directory is gone: so is the file
        except OSError as exc:
            left.append(f"file {path}: {exc.strerror or exc}")
    blocks = [e for e in records if e.kind == EffectKind.HOSTS]
    if blocks or not intact:
        try:
            before: list[bytes] = []

            def change(content: bytes) -> bytes:
                before.append(content)
                return without_block(content, lab, mark)

            edit_hosts(change)
            removed += bool(before) and without_block(before[0], lab, mark) != before[0]
            done += blocks
        except (OSError, ValueError) as exc:
            left.append(f"{HOSTS_FILE} block CLAB-{lab}: {exc}; remove it by hand")
    return done, removed, left
