"""Unit tests deploy with fake runtimes into temporary directories: the notes that
explain a lab's mark (``/run/netknit/labs``) go to a temporary directory too."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_lab_notes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netknit.engine import _labs

    monkeypatch.setattr(_labs, "NOTES_DIR", tmp_path / "run-netknit" / "labs")
