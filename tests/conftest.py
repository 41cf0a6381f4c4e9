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
