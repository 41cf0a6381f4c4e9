"""Where the topology comes from, as in containerlab: `-t https://...` downloads the file
and keeps it where stdin's is kept (/tmp/.clab), named by its content, so that a later
`destroy -t URL` finds the same lab (served here from a loopback HTTP server of the
test's own); several files in the directory and a terminal: a picker asks which."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from .conftest import Lab, netknit, on_terminal, run_cli

LAB = """
name: LAB
topology:
  nodes:
    web: {kind: netns}
    db: {kind: netns}
  links:
    - endpoints: ["web:eth1", "db:eth1"]
      ipv4: [10.62.0.1/24, 10.62.0.2/24]
"""


class _Files(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}  # the fixture's subclass has its own

    def do_GET(self) -> None:
        body = self.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: object) -> None:
        pass  # no request lines in the test's output


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, bytes]]]:
    files: dict[str, bytes] = {}
    handler = type("Files", (_Files,), {"files": files})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_deploy_and_destroy_a_topology_given_by_url(lab: Lab,
                                                   server: tuple[str, dict[str, bytes]]) -> None:
    base, files = server
    files["/labs/lab.clab.yml"] = lab.write(LAB).read_bytes()
    url = f"{base}/labs/lab.clab.yml"
    done = run_cli("deploy", "-t", url, "--quiet")
    assert done.returncode == 0, done.stderr
    ping = run_cli("exec", "-t", url, "--node", "web", "--", "ping", "-c1", "-W2", "10.62.0.2")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    rows = json.loads(run_cli("inspect", "-t", url, "-f", "json").stdout)[lab.name]
    kept = Path(rows[0]["absLabPath"])  # the file deployed: the download, kept
    assert kept.parent == Path("/tmp/.clab") and kept.name.startswith("topo-")
    assert kept.read_bytes() == files["/labs/lab.clab.yml"]
    gone = run_cli("destroy", "-t", url, "--cleanup")
    assert gone.returncode == 0, gone.stderr
    assert f"lab {lab.name!r} destroyed" in gone.stderr
    assert lab.leftovers() == []
    kept.unlink()


def test_a_url_that_cannot_be_had_is_one_clear_error(lab: Lab,
                                                     server: tuple[str, dict[str, bytes]]
                                                     ) -> None:
    base, files = server
    files["/empty.clab.yml"] = b"\n"
    for url, said in ((f"{base}/missing.clab.yml", "HTTP 404"),
                      (f"{base}/empty.clab.yml", "is empty"),
                      ("https://github.com/example/labs", "does not clone repositories"),
                      # no scheme: a path mistyped, or a URL; both are said
                      ("github.com/example/labs", "no such file here; as a URL")):
        done = run_cli("deploy", "-t", url, "--quiet")
        assert done.returncode != 0
        assert "error: " in done.stderr and said in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    # a local file of that name is the file, as in containerlab
    local = lab.dir / "example.com" / "lab"
    local.parent.mkdir()
    local.write_text(LAB.replace("LAB", lab.name))
    done = run_cli("deploy", "-t", "example.com/lab", "--dry-run", cwd=lab.dir)
    assert done.returncode == 0, done.stderr
    assert lab.leftovers() == []


def test_several_files_on_a_terminal_ask_which(lab: Lab) -> None:
    first = lab.write(LAB.replace("LAB", "LABx"), "first.clab.yml")
    lab.write(LAB, "second.clab.yml")
    assert run_cli("deploy", "-t", str(first), "--quiet").returncode == 0
    try:
        code, out = on_terminal([*netknit(), "deploy", "--quiet"], "2", cwd=lab.dir)
        assert code == 0, out
        assert "1. first.clab.yml (running)" in out and "2. second.clab.yml\n" in out
        assert Path(f"/run/netns/clab-{lab.name}-web").exists()  # the second one's lab
        code, out = on_terminal([*netknit(), "inspect"], "", cwd=lab.dir)
        assert code == 2 and "no topology file chosen" in out, out
        piped = run_cli("inspect", cwd=lab.dir)  # no terminal: containerlab's error
        assert piped.returncode == 2 and "several topology files" in piped.stderr
    finally:
        for topo in ("first.clab.yml", "second.clab.yml"):
            run_cli("destroy", "-t", str(lab.dir / topo), "--cleanup")
    assert lab.leftovers() == []
