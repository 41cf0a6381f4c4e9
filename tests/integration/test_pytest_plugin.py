"""The pytest plugin, driven as its users drive it: test files run by pytest sessions of
their own (``pytester``, in subprocesses), the labs on the real kernel. Each session's
labs are named after this test's lab, so ``lab.leftovers()`` sees whatever they left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import Lab as FixtureLab
from .conftest import netns_names

pytest_plugins = ["pytester"]

HEADER = """
import json, os, pathlib, sys, time
import pytest
import netknit

BASE = "{base}"
RECORD = pathlib.Path(r"{record}")
LAB = {{"name": BASE, "topology": {{
    "nodes": {{"h1": {{}}, "h2": {{}}}},
    "links": [{{"endpoints": ["h1:eth1", "h2:eth1"], "ipv4": ["10.0.0.1/24", "10.0.0.2/24"]}}]}}}}

def note(lab):
    with RECORD.open("a") as f:
        f.write(json.dumps({{"name": lab.name, "dir": str(lab.lab_dir)}}) + "\\n")

def ping(lab):
    return lab.exec("h1", ["ping", "-c1", "-W2", "10.0.0.2"]).returncode
"""

TOPOLOGY = """\
name: {base}
topology:
  nodes:
    h1: {{}}
    h2: {{}}
  links:
    - endpoints: ["h1:eth1", "h2:eth1"]
      ipv4: ["10.0.0.1/24", "10.0.0.2/24"]
"""


class Session:
    """A test file for an inner pytest session, and what its tests recorded."""

    def __init__(self, pytester: pytest.Pytester, lab: FixtureLab) -> None:
        self.pytester = pytester
        self.lab = lab
        self.record = lab.dir / "record.jsonl"
        pytester.makefile(".clab.yml", lab=TOPOLOGY.format(base=lab.name))

    def write(self, body: str, name: str = "test_inner") -> Path:
        header = HEADER.format(base=self.lab.name, record=self.record)
        return self.pytester.makepyfile(**{name: header + body})

    def labs(self) -> list[dict[str, str]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def assert_gone(self) -> None:
        labs = self.labs()
        assert labs, "the inner tests recorded no lab"
        for entry in labs:
            assert entry["name"].startswith(f"{self.lab.name}-")
            assert not [n for n in netns_names() if n.startswith(f"clab-{entry['name']}-")]
            assert not Path(entry["dir"]).exists()
        assert self.lab.leftovers() == []


@pytest.fixture
def session(pytester: pytest.Pytester, lab: FixtureLab) -> Session:
    return Session(pytester, lab)


def test_passing_and_failing_tests_leave_nothing(session: Session) -> None:
    session.write("""
def test_passes(netknit_lab):
    lab = netknit_lab(LAB)
    note(lab)
    assert ping(lab) == 0
    assert lab.inspect().deployed

def test_fails(netknit_lab):
    lab = netknit_lab(LAB)
    note(lab)
    assert os.path.exists(f"/run/netns/clab-{lab.name}-h1")
    assert False, "fails on purpose"

def test_two_labs_in_one_test_and_each_input(netknit_lab):
    here = pathlib.Path(__file__).parent
    code = netknit.Lab(BASE)
    code.add_node("h1"); code.add_node("h2")
    code.add_link("h1:eth1", "h2:eth1", ipv4=["10.0.0.1/24", "10.0.0.2/24"])
    labs = [netknit_lab(code), netknit_lab("lab.clab.yml"), netknit_lab(here / "lab.clab.yml"),
            netknit_lab(LAB)]
    for lab in labs:
        note(lab)
        assert ping(lab) == 0
    assert len({lab.name for lab in labs}) == 4
    assert code.name == BASE  # the lab given is copied, not renamed

def test_a_lab_with_problems_deploys_nothing(netknit_lab):
    bad = {"name": BASE, "topology": {"nodes": {"h1": {"kind": "nope"}}}}
    with pytest.raises(netknit.TopologyError, match="unknown kind 'nope'"):
        netknit_lab(bad)
""")
    result = session.pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*fails on purpose*"])
    assert len(session.labs()) == 6
    session.assert_gone()


def test_an_interrupted_session_destroys_the_lab(session: Session) -> None:
    session.write("""
def test_interrupted(netknit_lab):
    lab = netknit_lab(LAB)
    note(lab)
    raise KeyboardInterrupt

def test_never_runs():
    RECORD.write_text("ran\\n")
""")
    result = session.pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert [entry["name"] for entry in session.labs()]
    session.assert_gone()


def test_a_sigint_to_the_session_destroys_the_lab(session: Session) -> None:
    path = session.write("""
def test_waits_for_the_signal(netknit_lab):
    lab = netknit_lab(LAB)
    note(lab)
    while True:
        time.sleep(0.1)
""")
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                             str(path)], cwd=session.pytester.path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not session.labs():
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the inner test never deployed its lab"
            time.sleep(0.05)
        assert f"clab-{session.labs()[0]['name']}-h1" in netns_names()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    session.assert_gone()


def test_the_marker_deploys_its_lab_for_the_test(session: Session) -> None:
    path = session.write("""
@pytest.mark.netknit(topology="lab.clab.yml")
def test_marked(netknit_lab):
    lab = netknit_lab()
    assert netknit_lab() is lab
    note(lab)
    assert ping(lab) == 0

@pytest.mark.netknit(LAB)
def test_marked_without_asking_for_the_fixture():
    assert [n for n in os.listdir("/run/netns") if n.startswith(f"clab-{BASE}-")]

@pytest.mark.netknit(topology="lab.clab.yml")
class TestMarkedClass:
    def test_one(self, netknit_lab):
        note(netknit_lab())
        assert ping(netknit_lab()) == 0

def test_no_marker_no_default(netknit_lab):
    with pytest.raises(TypeError, match="needs a lab"):
        netknit_lab()

@pytest.mark.netknit({"name": BASE, "topology": {"nodes": {"a": {"kind": "nope"}}}})
def test_marked_with_a_bad_lab():
    raise AssertionError("not reached")
""")
    lines = path.read_text().splitlines()
    marked = next(n for n, line in enumerate(lines, 1) if '"kind": "nope"' in line)
    result = session.pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, errors=1)
    # the marker's problems are located at it, as a file's are at their line
    result.stdout.fnmatch_lines([f"*{path}:{marked}: topology.nodes.a.kind: unknown kind*"])
    assert len(session.labs()) == 2
    session.assert_gone()


def test_two_sessions_of_the_same_test_at_once(session: Session) -> None:
    """The names are apart (``pytest -n`` workers are processes of their own too)."""
    path = session.write("""
def test_same(netknit_lab):
    lab = netknit_lab(LAB)
    note(lab)
    assert ping(lab) == 0
""")
    procs = [subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                               "--basetemp", str(session.pytester.path / f"tmp{i}"),
                               str(path)], cwd=session.pytester.path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(2)]
    outs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outs
    assert len({entry["name"] for entry in session.labs()}) == 2
    session.assert_gone()


def test_the_entry_point_registers_the_plugin(pytester: pytest.Pytester) -> None:
    shown = pytester.runpytest_subprocess("--markers")
    shown.stdout.fnmatch_lines(["@pytest.mark.netknit(topology, runtime=None):*"])
    hidden = pytester.runpytest_subprocess("--markers", "-p", "no:netknit")
    assert "pytest.mark.netknit" not in hidden.stdout.str()


def test_without_root_the_test_is_skipped_with_the_reason(pytester: pytest.Pytester) -> None:
    # the inner session sees another user (its own process only)
    pytester.makeconftest("import os\nos.geteuid = lambda: 1000\n")
    pytester.makepyfile("""
import pytest

def test_needs_a_lab(netknit_lab):
    raise AssertionError("not reached")

@pytest.mark.netknit({"name": "x", "topology": {}})
def test_marked():
    raise AssertionError("not reached")
""")
    result = pytester.runpytest_subprocess("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*netknit labs need root*run pytest as root*"])
    assert os.geteuid() == 0  # this session is untouched
