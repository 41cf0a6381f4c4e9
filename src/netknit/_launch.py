"""The ``netknit`` command's entry point: answers ``--version`` without importing click
(~20 ms of a ~35 ms run); everything else goes to :mod:`netknit.cli`, and the process
then ends without the interpreter's teardown."""

from __future__ import annotations

import os
import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-v"]):
        from . import __version__

        # click's version_option wording, which `netknit --version` printed before
        sys.stdout.write(f"netknit, version {__version__}\n")
        return
    from .cli import main as cli

    try:
        cli()
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            raise  # a message to print: the interpreter's own way
        _leave(exc.code or 0)
    _leave(0)


def _leave(code: int) -> None:
    """End the process now. Freeing every module and object on the way out costs
    20-200 ms (more on a busy machine), for a process that ends anyway. What of the
    teardown matters is done first: the exit handlers (logging's flush, finalizers) and
    the output. With another thread still running, the normal exit waits for it."""
    import threading

    if threading.active_count() > 1:
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - contextlib costs an import at every exit
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: what Python's own exit ignores too
            pass
    os._exit(code)
