"""The ``netknit`` command's entry point: answers ``--version`` without importing click
(~20 ms of a ~35 ms run); hands the command to the resident process when one runs
(:mod:`netknit._resident`); else runs the command here (``deploy`` and ``destroy``
without click when it can, :mod:`netknit._fastargv`), and the process then ends without
the interpreter's teardown."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-v"]):
        from . import __version__

        # click's version_option wording, which `netknit --version` printed before
        sys.stdout.write(f"netknit, version {__version__}\n")
        return
    if sys.argv[1:2] != ["resident"]:
        from ._resident import forward

        forward("cli")  # returns only when no resident process runs it for us
    _leave(run_cli())


def run_cli() -> int:
    """The command line, in this process; returns its exit status. ``deploy`` and
    ``destroy`` as scripts give them are read without click (:mod:`netknit._fastargv`)."""
    from ._fastargv import parse

    _defer_inspect()
    fast = parse(sys.argv[1:], os.environ)
    try:
        if fast is not None:
            _run_fast(*fast)
        else:
            from .cli import main as cli

            cli()
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            raise  # a message to print: the interpreter's own way
        return exc.code or 0
    return 0


def _run_fast(command: str, flags: dict[str, Any]) -> None:
    """A command read by :mod:`netknit._fastargv`, with what click's group and its
    standalone mode do around one: the group's own work first, Ctrl-C as "Aborted!"
    (exit 1), a closed stdout as exit 1."""
    from . import _commands

    try:
        _commands.join_host()
        if command == "deploy":
            _commands.deploy(**flags)
        else:
            _commands.destroy(**flags)
    except KeyboardInterrupt:
        sys.stderr.write("\nAborted!\n")
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(1)


def _defer_inspect() -> None:
    """Import ``dataclasses`` with ``inspect`` put off until it is used. On Python 3.11
    ``dataclasses`` needs it only to write the docstring of a class that has none
    (netknit's all have one), and it costs ~7 ms of a ~40 ms ``destroy`` (with ``ast``,
    ``dis`` and ``tokenize``). ``dataclasses`` gets a stand-in that imports the real
    module on first use; every later ``import inspect`` gets the real one. From 3.12 on,
    ``dataclasses`` reads every class's annotations through ``inspect``: nothing to gain."""
    if sys.version_info >= (3, 12) or "dataclasses" in sys.modules \
            or "inspect" in sys.modules:
        return  # needed at once, too late, or done (the resident's children)

    class _Later(type(sys)):  # type: ignore[misc]
        def __getattr__(self, name: str) -> Any:
            import inspect

            return getattr(inspect, name)

    sys.modules["inspect"] = _Later("inspect")
    try:
        import dataclasses  # noqa: F401 - imported now, with the stand-in
    finally:
        del sys.modules["inspect"]


def serve_resident() -> None:
    """The resident process (``netknit resident start`` runs it detached): its children
    run the command line with :func:`run_cli`."""
    from ._resident import main as serve

    sys.exit(serve(sys.argv[1:], run_cli))

def _leave(code: int) -> None:
    """End the process now. Freeing every module and object on the way out costs
    20-200 ms (more on a busy machine), for a process that ends anyway. What of the
    teardown matters is done first: the exit handlers (logging's flush, finalizers) and
    the output. With another thread still running, the normal exit waits for it."""
    threading = sys.modules.get("threading")  # not imported: no thread was started
    if threading is not None and threading.active_count() > 1:
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - contextlib costs an import at every exit
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: what Python's own exit ignores too
            pass
    os._exit(code)
