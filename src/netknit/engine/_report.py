"""How the engine tells its caller what it is doing (the CLI draws; the engine reports)."""

from __future__ import annotations

from typing import Protocol

from ..runtimes import ExecResult


class Reporter(Protocol):
    def step(self, name: str, total: int) -> None:
        """A step of ``total`` units starts."""

    def advance(self, n: int = 1) -> None:
        """``n`` units of the current step are done."""

    def note(self, message: str) -> None:
        """A one-line message for the user."""

    def transfer(self, name: str, status: str, done: int, total: int) -> None:
        """Bytes of a transfer (an image pull) so far; status ``done``/``failed`` ends it."""

    def exec_output(self, result: ExecResult) -> None:
        """A command run in a node finished."""


class SilentReporter:
    def step(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def transfer(self, name: str, status: str, done: int, total: int) -> None:
        pass

    def exec_output(self, result: ExecResult) -> None:
        pass
