"""containerlab's destroy flags and redeploy: `--all` (with `-y` and its prompt),
`--node-filter`, `--graceful`, and `redeploy`.

`destroy --all` removes every lab on the machine, so its tests run in a private world
of their own: a mount namespace whose /run/netns and /run/netknit are fresh, a network
namespace as its host, and a dockerd of their own (DOCKER_HOST), so that the labs of
other test runs on this machine are not in sight. Objects of their own that are no lab's
(an unmarked namespace and veth, containers without netknit's labels) must survive.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import netns_names, on_terminal, run_cli

from .conftest import _APPLETS, IMAGE, DockerLab
from .test_faults import Engine

GENTLE = "sh -c 'trap \"echo bye > /out/bye; exit 0\" TERM; while :; do sleep 1; done'"


class World:
    """A private machine: its own /run/netns, /run/netknit, host namespace and engine."""

    def __init__(self, engine: Engine, tmp: Path) -> None:
        self.engine = engine
        self.tmp = tmp
        setup = ("mount -t tmpfs -o mode=0755 tmpfs /run/netns && "
                 "mount --make-shared /run/netns && mkdir -p /run/netknit && "
                 "mount -t tmpfs -o mode=0755 tmpfs /run/netknit && "
                 "ip link set lo up && echo ready && exec sleep 100000")
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", setup],
            stdout=subprocess.PIPE, text=True)
        assert self.holder.stdout is not None and self.holder.stdout.readline() == "ready\n"

    def enter(self) -> list[str]:
        return ["nsenter", "-t", str(self.holder.pid), "-m", "-n"]

    def env(self) -> dict[str, str]:
        return {**os.environ, "COLUMNS": "200", "DOCKER_HOST": self.engine.host}

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.enter(), sys.executable, "-m", "netknit", *args],
                              cwd=self.tmp, env=self.env(), input=stdin, capture_output=True,
                              text=True, timeout=300, check=False)

    def sh(self, *argv: str) -> str:
        return subprocess.run([*self.enter(), *argv], capture_output=True, text=True,
                              check=True, timeout=60).stdout

    def netns(self) -> set[str]:
        return set(self.sh("ls", "/run/netns").split())

    def links(self) -> set[str]:
        return {line.split(": ")[1].split("@")[0]
                for line in self.sh("ip", "-o", "link", "show").splitlines()}

    def containers(self) -> set[str]:
        return {c["Names"][0].lstrip("/") for c in self.engine.api.containers(all=True)}

    def on_terminal(self, *args: str, answer: str) -> tuple[int, str]:
        """Run netknit with a terminal as stdin; type ``answer`` at its prompt."""
        return on_terminal([*self.enter(), sys.executable, "-m", "netknit", *args], answer,
                           cwd=self.tmp, env=self.env())

    def close(self) -> None:
        self.holder.kill()  # our own child, by pid: its namespaces die with it
        self.holder.wait()


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    from netknit.runtimes.docker import build_busybox_image

    eng = Engine()
    try:
        eng.start()
        build_busybox_image(eng.api, IMAGE, ["/bin/sh"], _APPLETS)
        yield eng
    finally:
        eng.remove()


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Iterator[World]:
    w = World(engine, tmp_path)
    try:
        yield w
    finally:
        for c in engine.api.containers(all=True):
            engine.api.remove_container(c["Id"], force=True)
        w.close()


NETNS_LAB = """
name: NAME
topology:
  nodes:
    a: {kind: netns, cmd: "sleep 3600"}
    b: {kind: netns}
    brNAME: {kind: bridge}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      ipv4: ["10.17.0.1/24", "10.17.0.2/24"]
    - endpoints: ["b:eth2", "brNAME:pNAME"]
"""
DOCKER_LAB = f"""
name: NAME
topology:
  defaults: {{kind: linux, image: {IMAGE}, cmd: sleep 3600}}
  nodes:
    s: {{}}
    n: {{kind: netns}}
  links:
    - endpoints: ["s:eth1", "n:eth1"]
      ipv4: ["10.18.0.1/24", "10.18.0.2/24"]
"""


def _write(tmp: Path, text: str, name: str) -> Path:
    (tmp / name).mkdir()
    path = tmp / name / "lab.clab.yml"
    path.write_text(text.replace("NAME", name))
    return path


def test_destroy_all_removes_every_lab_and_nothing_else(world: World) -> None:
    tag = secrets.token_hex(2)
    one, two = f"x{tag}a", f"x{tag}b"
    topo1, topo2 = _write(world.tmp, NETNS_LAB, one), _write(world.tmp, DOCKER_LAB, two)
    for topo in (topo1, topo2):
        done = world.cli("deploy", "-t", str(topo), "--quiet")
        assert done.returncode == 0, done.stderr
    # no lab's: an unmarked namespace and veth, a plain container, a containerlab one
    world.sh("ip", "netns", "add", f"other-{tag}")
    world.sh("ip", "link", "add", f"oth{tag}", "type", "veth", "peer", "name", f"otp{tag}")
    for name, labels in ((f"plain-{tag}", {}), (f"clab-{tag}", {"containerlab": "foreign"})):
        made = world.engine.api.create_container(IMAGE, "sleep 3600", name=name, labels=labels)
        world.engine.api.start(made["Id"])
    # the first lab's note is lost: its marks still find it
    world.sh("sh", "-c", "rm -f /run/netknit/labs/*")
    keep = {"netns": {f"other-{tag}"}, "links": {f"oth{tag}", f"otp{tag}"},
            "containers": {f"plain-{tag}", f"clab-{tag}"}}
    assert len(world.netns()) == 1 + 2 + 1  # ours, lab one's two, lab two's n

    done = world.cli("destroy", "--all", "--cleanup")  # stdin is no terminal: no prompt
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"lab {one!r} destroyed" in done.stderr and f"lab {two!r} destroyed" in done.stderr
    assert world.netns() == keep["netns"]
    assert keep["links"] <= world.links() and f"br{one}" not in world.links()
    assert world.containers() == keep["containers"]
    assert not (world.tmp / two / f"clab-{two}").exists()  # --cleanup: its directory too
    hosts = Path("/etc/hosts").read_text()  # the one found by its mark alone too
    assert f"CLAB-{one}-START" not in hosts and f"CLAB-{two}-START" not in hosts
    assert not [n for n in (one, two) if Path(f"/etc/ssh/ssh_config.d/clab-{n}.conf").exists()]
    again = world.cli("destroy", "--all")
    assert again.returncode == 0 and "no netknit labs found" in again.stderr


def test_destroy_all_asks_on_a_terminal_unless_yes(world: World) -> None:
    name = f"y{secrets.token_hex(3)}"
    topo = _write(world.tmp, NETNS_LAB, name)
    assert world.cli("deploy", "-t", str(topo), "--quiet").returncode == 0
    code, out = world.on_terminal("destroy", "--all", answer="")
    assert code == 1 and "aborted by the user. No labs were removed" in out, out
    assert f"Lab: {name}" in out and "Are you sure" in out
    assert f"clab-{name}-a" in world.netns()
    code, out = world.on_terminal("destroy", "--all", answer="no")
    assert code == 1 and f"clab-{name}-a" in world.netns()
    code, out = world.on_terminal("destroy", "--all", answer="Y")
    assert code == 0 and world.netns() == set(), out
    assert world.cli("deploy", "-t", str(topo), "--quiet").returncode == 0
    code, out = world.on_terminal("destroy", "--all", "-y", answer="")
    assert code == 0 and "Are you sure" not in out and world.netns() == set(), out
    assert f"CLAB-{name}-START" not in Path("/etc/hosts").read_text()


def test_destroy_all_with_a_node_filter_takes_those_nodes_of_every_lab(world: World
                                                                        ) -> None:
    """containerlab applies --node-filter to each lab --all finds: those nodes go, the
    rest of each lab keeps running; a lab without one of them is an error (the others
    are still done)."""
    tag = secrets.token_hex(2)
    one, two, other = f"f{tag}a", f"f{tag}b", f"f{tag}c"
    topos = [_write(world.tmp, NETNS_LAB, one), _write(world.tmp, NETNS_LAB, two),
             _write(world.tmp, "name: NAME\ntopology:\n  nodes:\n    c: {kind: netns}\n",
                    other)]
    for topo in topos:
        done = world.cli("deploy", "-t", str(topo), "--quiet")
        assert done.returncode == 0, done.stderr
    done = world.cli("destroy", "--all", "--node-filter", "b", "-y")
    assert done.returncode == 1, done.stdout + done.stderr
    for lab in (one, two):
        assert f"nodes b of lab {lab!r} destroyed" in done.stderr
    assert f"lab {other!r}: node 'b' is not present in the topology" in done.stderr
    assert world.netns() == {f"clab-{one}-a", f"clab-{two}-a", f"clab-{other}-c"}
    for lab in (one, two):
        shown = json.loads(world.cli("inspect", "-t", str(world.tmp / lab / "lab.clab.yml"),
                                     "-f", "json").stdout)
        states = {c["name"]: c["state"] for c in shown[lab]}
        assert states[f"clab-{lab}-a"] == "running", states
    assert world.cli("destroy", "--all").returncode == 0
    assert world.netns() == set()


def test_destroy_node_filter_keeps_the_rest_running(dlab: DockerLab) -> None:
    topo = str(dlab.write(f"""
name: LAB
topology:
  defaults: {{kind: linux, image: {IMAGE}, cmd: sleep 3600}}
  nodes:
    s: {{}}
    n: {{kind: netns}}
    m: {{kind: netns}}
  links:
    - endpoints: ["s:eth1", "n:eth1"]
      ipv4: ["10.19.0.1/24", "10.19.0.2/24"]
    - endpoints: ["n:eth2", "m:eth1"]
      ipv4: ["10.19.1.2/24", "10.19.1.3/24"]
    - endpoints: ["m:eth2", "s:eth2"]
"""))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    bad = run_cli("destroy", "-t", topo, "--node-filter", "s", "--cleanup")
    assert bad.returncode == 2 and "cannot be used with --node-filter" in bad.stderr
    unknown = run_cli("destroy", "-t", topo, "--node-filter", "s,zz")
    assert unknown.returncode == 2 and "'zz' is not present" in unknown.stderr
    done = run_cli("destroy", "-t", topo, "--node-filter", "s", "--node-filter", "m")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [c["Names"][0] for c in dlab.containers()] == []
    assert f"clab-{dlab.name}-m" not in netns_names()
    assert f"clab-{dlab.name}-n" in netns_names()
    dry = run_cli("reconcile", "-t", topo, "--dry-run")  # nothing to bring back
    assert dry.returncode == 0 and "in sync" in dry.stdout, dry.stdout
    view = {n["node"]: n for n in json.loads(run_cli("inspect", "interfaces", "-t", topo,
                                                     "-f", "json").stdout)}
    assert view["s"]["state"] == view["m"]["state"] == "destroyed"
    assert view["n"]["state"] == "running" and view["n"]["cmd"] == "running"
    assert [i["drift"] for i in view["n"]["interfaces"] if i["drift"]] == []
    assert run_cli("start", "-t", topo, "-n", "s").returncode == 1  # nothing to start
    assert run_cli("destroy", "-t", topo).returncode == 0


def test_destroy_graceful_stops_workloads_first(dlab: DockerLab) -> None:
    out = dlab.dir / "out"
    out.mkdir()
    lab = f"""
name: LAB
topology:
  nodes:
    s: {{kind: linux, image: {IMAGE}, binds: ["out:/out"], cmd: {json.dumps(GENTLE)}}}
    n: {{kind: netns, cmd: {json.dumps(GENTLE.replace("/out/", f"{out}/n-"))}}}
  links:
    - endpoints: ["s:eth1", "n:eth1"]
"""
    topo = str(dlab.write(lab))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    assert run_cli("destroy", "-t", topo).returncode == 0
    assert not (out / "bye").exists()  # removed at once: killed, never asked
    (out / "n-bye").unlink()  # a namespace node's cmd always gets its SIGTERM first
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    started = time.monotonic()
    done = run_cli("destroy", "-t", topo, "--graceful")
    assert done.returncode == 0, done.stderr
    assert (out / "bye").read_text() == "bye\n"
    assert (out / "n-bye").read_text() == "bye\n"
    assert time.monotonic() - started < 30
    assert dlab.leftovers() == []


def test_graceful_gives_each_workload_the_engine_timeout(dlab: DockerLab) -> None:
    """As containerlab: `--graceful` gives a workload up to the engine timeout (global
    `--timeout`, default 2m) to end after its stop signal. One that needs 11 s ends on its
    own by default (netknit gave 10 s before), and is killed under `--timeout 2s`."""
    out = dlab.dir / "out"
    out.mkdir()
    slow = GENTLE.replace("echo bye", "sleep {s}; echo bye")
    lab = f"""
name: LAB
topology:
  nodes:
    s: {{kind: linux, image: {IMAGE}, binds: ["out:/out"], cmd: {json.dumps(slow)}}}
"""
    topo = str(dlab.write(lab.replace("{s}", "6")))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    done = run_cli("destroy", "-t", topo, "--graceful", "--timeout", "2s", "--quiet")
    assert done.returncode == 0, done.stderr
    assert not (out / "bye").exists()  # killed 2 s after its stop signal, 4 s too early
    topo = str(dlab.write(lab.replace("{s}", "11")))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    done = run_cli("destroy", "-t", topo, "--graceful", "--quiet")
    assert done.returncode == 0, done.stderr
    assert (out / "bye").read_text() == "bye\n"
    assert dlab.leftovers() == []


def test_redeploy_destroys_then_deploys(dlab: DockerLab) -> None:
    topo = str(dlab.write(NETNS_LAB.replace("NAME", "LAB").replace("brLAB", "brTAG")
                          .replace("pLAB", "pTAG")))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    marker = dlab.dir / f"clab-{dlab.name}" / "mine"
    marker.write_text("x")
    subprocess.run(["ip", "-n", f"clab-{dlab.name}-a", "addr", "flush", "dev", "eth1"],
                   check=True)
    done = run_cli("redeploy", "-t", topo, "--cleanup", "-f", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    assert {row["name"] for row in shown[dlab.name]} >= {f"clab-{dlab.name}-a",
                                                         f"clab-{dlab.name}-b"}
    # a new lab: the address flushed by hand is back (a plain deploy would change nothing)
    shown_a = subprocess.run(["ip", "-n", f"clab-{dlab.name}-a", "-o", "addr", "show", "eth1"],
                             capture_output=True, text=True, check=True).stdout
    assert "10.17.0.1/24" in shown_a
    assert not marker.exists()  # -c: the lab directory was removed before the deploy
    ping = run_cli("exec", "-t", topo, "--node", "a", "--", "ping", "-c1", "-W2", "10.17.0.2")
    assert ping.returncode == 0, ping.stdout
    assert run_cli("destroy", "-t", topo).returncode == 0
