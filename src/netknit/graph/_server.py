"""The page's HTTP server: the page, its files, the data as JSON, and server-sent events.

One thread samples the lab every :data:`REFRESH` seconds (however many pages are open);
each open page holds one ``/events`` stream and gets the data whenever it changed.
Standard library only: a page for a few people, not a web service.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .._errors import NetknitError, UsageError
from ._data import only_nodes
from ._page import render, static_file

log = logging.getLogger("netknit.graph")

#: seconds between two looks at the lab
REFRESH = 1.0
#: seconds between keep-alive comments on an idle event stream
KEEPALIVE = 15.0
#: containerlab's port; the host is this machine's only (containerlab: 0.0.0.0)
DEFAULT_SRV = "127.0.0.1:50080"


class Snapshots:
    """The lab's latest graph data, sampled on a thread; a new version when it changed."""

    def __init__(self, sample: Callable[[], dict[str, Any]], nodes: list[str] | None = None,
                 period: float = REFRESH) -> None:
        self._sample = sample
        self._nodes = nodes
        self._period = period
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self.version = 0
        self.data: dict[str, Any] = {}
        self.text = ""
        self.refresh()  # the first page has data, and a bad lab fails before serving

    def refresh(self) -> None:
        data = self._sample()
        if self._nodes is not None:
            data = only_nodes(data, self._nodes)
        self._publish(data)

    def _publish(self, data: dict[str, Any]) -> None:
        text = json.dumps(data)
        with self._changed:
            if text != self.text:
                self.data, self.text = data, text
                self.version += 1
                self._changed.notify_all()

    def run(self) -> None:
        while not self._stop.wait(self._period):
            try:
                self.refresh()
            except Exception as exc:  # mid-destroy, an engine restarting: the page
                # keeps the last data, says why it is stale, and this keeps looking
                message = exc.message if isinstance(exc, NetknitError) else str(exc)
                if message != self.data.get("error"):  # once, not every second
                    log.warning("cannot look at the lab: %s", message)
                self._publish({**self.data, "error": message})

    def start(self) -> None:
        threading.Thread(target=self.run, name="netknit-graph-sampler", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()

    def newer(self, version: int, timeout: float) -> tuple[int, str | None]:
        """The data once its version is past ``version`` (None: ``timeout`` passed, or
        stopping)."""
        with self._changed:
            self._changed.wait_for(lambda: self.version > version or self._stop.is_set(),
                                   timeout)
            if self.version > version and not self._stop.is_set():
                return self.version, self.text
            return version, None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()


def _handler(snapshots: Snapshots, template: str,
             static_dir: Path | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "netknit-graph"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

        def _send(self, body: bytes, content_type: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path)
            if path in ("/", "/index.html"):
                self._send(render(template, snapshots.data).encode(),
                           "text/html; charset=utf-8")
            elif path == "/data.json":
                self._send(snapshots.text.encode(), "application/json")
            elif path == "/events":
                self._events()
            elif path.startswith("/static/"):
                body = _static(path.removeprefix("/static/"), static_dir)
                if body is None:
                    self.send_error(404)
                else:
                    self._send(body, _TYPES.get(Path(path).suffix, "application/octet-stream"))
            else:
                self.send_error(404)

        def _events(self) -> None:
            """Server-sent events: the data now, then each time it changes."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            version = 0
            try:
                self.wfile.write(b"retry: 1000\n\n")  # reconnect after 1 s when cut
                while not snapshots.stopping:
                    version, text = snapshots.newer(version, KEEPALIVE)
                    self.wfile.write(f"data: {text}\n\n".encode() if text is not None
                                     else b": keep-alive\n\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the page was closed
            self.close_connection = True

    return Handler


_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".txt": "text/plain; charset=utf-8", ".html": "text/html; charset=utf-8",
          ".svg": "image/svg+xml", ".png": "image/png"}


def _static(name: str, static_dir: Path | None) -> bytes | None:
    """A file of the page (``--static-dir``: of that directory, never a listing and
    nothing outside it)."""
    if static_dir is None:
        return static_file(name)
    try:
        path = (static_dir / name).resolve()
        if path.is_relative_to(static_dir.resolve()) and path.is_file():
            return path.read_bytes()
    except OSError:
        pass
    return None


def parse_srv(srv: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` (this machine only, unlike containerlab,
    where it means every address)."""
    host, sep, port = srv.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise UsageError(f"--srv {srv!r} is not host:port",
                         hint="e.g. --srv 127.0.0.1:50080, or 0.0.0.0:50080 for every address")
    return host.strip("[]") or "127.0.0.1", int(port)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # open event streams do not hold up the exit


class _Server6(_Server):
    address_family = socket.AF_INET6


def make_server(srv: str, snapshots: Snapshots, *, template: str,
                static_dir: Path | None = None) -> ThreadingHTTPServer:
    """A server bound to ``srv`` (port 0: a free one), not yet serving."""
    host, port = parse_srv(srv)
    cls = _Server6 if ":" in host else _Server
    try:
        return cls((host, port), _handler(snapshots, template, static_dir))
    except OSError as exc:
        raise NetknitError(f"cannot serve on {srv}: {exc.strerror or exc}",
                           hint="choose another address with --srv host:port") from None
