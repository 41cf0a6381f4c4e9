"""Shared by every test directory."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without root, tests marked ``root`` are skipped with the reason (CI runs as root)."""
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root: network namespaces on the real kernel")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Tests run the CLI as a process hundreds of times. Where PYTHONDONTWRITEBYTECODE is
    set (CI), each of those would compile netknit's ~100 modules again (~0.1 s a run):
    compile them once here. Python reads bytecode even where it does not write it."""
    import compileall
    from pathlib import Path

    import netknit

    compileall.compile_dir(Path(netknit.__file__).parent, quiet=1)
