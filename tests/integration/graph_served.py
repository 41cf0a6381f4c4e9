"""`netknit graph` serving a lab, for the tests that look at its page or its data."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


class Served:
    """`netknit graph` serving a lab on a free port: our own child, stopped by its pid."""

    def __init__(self, topo: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "netknit", "graph", "-t", topo, "--srv", "127.0.0.1:0"],
            stderr=subprocess.PIPE, text=True)
        self.stderr: list[str] = []
        found = threading.Event()
        self.url = ""

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.stderr.append(line)
                m = re.search(r"http://127\.0\.0\.1:\d+", line)
                if m and not found.is_set():
                    self.url = m[0] + "/"
                    found.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        if not found.wait(60):
            self.stop()
            raise AssertionError(f"graph did not start serving: {''.join(self.stderr)}")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.reader.join(timeout=10)
        return code

    def data(self) -> dict[str, Any]:
        """The graph data the page gets."""
        with urllib.request.urlopen(self.url + "data.json", timeout=10) as response:
            return dict(json.loads(response.read()))
