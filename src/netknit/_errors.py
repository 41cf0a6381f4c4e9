"""The one exception hierarchy of netknit.

Every error netknit raises on purpose is a :class:`NetknitError`. Each carries a
``hint`` that tells the user what to do next, and an ``exit_code`` the CLI uses:

- ``2``: the input is wrong (topology, flags). Nothing was changed on the machine.
- ``1``: something failed while acting on the machine or a runtime.

    NetknitError
    ├── TopologyError          the topology file is invalid (lists every problem found)
    ├── UsageError             the command line names no usable topology file
    ├── PlanError              the topology is valid but cannot be ordered / realised
    ├── KernelError            a netlink request failed (carries errno and the operation)
    │   ├── DumpInterruptedError   a dump kept being interrupted (NLM_F_DUMP_INTR)
    │   └── MoveError          moving/renaming a device failed (after rollback)
    ├── RuntimeFailure         a node runtime could not create/start/stop a node
    │   └── ImageError         an image is missing and may not, or could not, be pulled
    ├── ExecFailure            a command run inside a node returned non-zero
    ├── StateError             the lab directory/journal is unusable
    │   ├── LabLockedError     another netknit process holds the lab
    │   └── UnsafePathError    a lab directory or file another user could control
    └── NotSupportedError      a feature that exists in the file format but not yet here
"""

from __future__ import annotations

from ._record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a CNI call is a process)
if TYPE_CHECKING:
    from collections.abc import Sequence


class NetknitError(Exception):
    """Base of every error netknit raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class Problem(Record):
    """One thing wrong with a topology file, located as precisely as we can."""

    __slots__ = ("file", "line", "message", "path")
    __match_args__ = ("file", "path", "message", "line")

    file: str
    path: str  # YAML path, e.g. "topology.links[2].endpoints[0]"
    message: str
    line: int | None  # 1-based, where the YAML parser told us

    def __init__(self, file: str, path: str, message: str, line: int | None = None) -> None:
        object.__setattr__(self, "file", file)
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "line", line)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class TopologyError(NetknitError):
    """The topology file cannot be used. ``problems`` lists every issue found."""

    exit_code = 2

    def __init__(self, problems: Sequence[Problem], *, hint: str | None = None) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = f"invalid topology ({count} problem{'s' if count != 1 else ''}):"
        body = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{head}\n{body}", hint=hint)


class UsageError(NetknitError):
    """The command line is wrong: no topology file where one was named, several, ..."""

    exit_code = 2


class PlanError(NetknitError):
    """The topology is well-formed but cannot be turned into an ordered plan."""

    exit_code = 2


class NotSupportedError(NetknitError):
    """A field or kind that the format has but this version does not implement."""

    exit_code = 2


class KernelError(NetknitError):
    """A netlink (or namespace) operation failed."""

    def __init__(
        self, operation: str, errno: int | None = None, *, detail: str = "", hint: str | None = None
    ) -> None:
        import os

        self.operation = operation
        self.errno = errno
        reason = os.strerror(errno) if errno else "failed"
        text = f"{operation}: {reason}"
        if detail:
            text += f" ({detail})"
        super().__init__(text, hint=hint)


class DumpInterruptedError(KernelError):
    """A netlink dump was interrupted by concurrent changes on every attempt."""


class MoveError(KernelError):
    """Moving/renaming a device failed; it was rolled back to where it was."""


class RuntimeFailure(NetknitError):
    """A node runtime failed to create, start or remove a node."""


class ImageError(RuntimeFailure):
    """An image a node needs is not there and may not (``image-pull-policy``), or could
    not (no registry answered), be pulled; or an ``Always`` pull failed."""


class ExecFailure(NetknitError):
    """A command run inside a node exited non-zero."""

    def __init__(self, node: str, command: str, returncode: int, output: str,
                 stage: str = "") -> None:
        self.node = node
        self.command = command
        self.returncode = returncode
        self.output = output
        self.stage = stage
        where = f" in stage {stage}" if stage else ""
        super().__init__(
            f"exec on node {node!r}{where} failed (exit {returncode}): {command}\n"
            f"{output.rstrip()}",
            hint="fix the command in the node's `exec:` list, then redeploy "
            "(`netknit deploy --reconfigure`)",
        )


class StateError(NetknitError):
    """The lab directory or its journal cannot be used."""


class LabLockedError(StateError):
    """Another netknit process is working on this lab right now."""


class UnsafePathError(StateError):
    """A path in the lab directory that another user could control: owned by someone
    else, writable by group or others, or a symbolic link. netknit runs as root and never
    uses it."""
