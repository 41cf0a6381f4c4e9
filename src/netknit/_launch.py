"""The ``netknit`` command's entry point: answers ``--version`` without importing click
(~20 ms of a ~35 ms run); everything else goes to :mod:`netknit.cli`."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-v"]):
        from . import __version__

        # click's version_option wording, which `netknit --version` printed before
        sys.stdout.write(f"netknit, version {__version__}\n")
        return
    from .cli import main as cli

    cli()
