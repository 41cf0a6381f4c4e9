"""The pytest plugin (entry point ``pytest11`` named ``netknit``): labs deployed for a
test and destroyed after it, whatever happens to the test.

``netknit_lab`` is a callable fixture: give it a :class:`netknit.Lab`, a topology file
(relative paths start from the test file's directory) or the data of one as a dict; it
deploys a copy of that lab under a name of its own and returns the deployed copy::

    def test_ping(netknit_lab):
        lab = netknit_lab("two-hosts.clab.yml")
        assert lab.exec("h1", "ping -c1 10.0.0.2").returncode == 0

    @pytest.mark.netknit(topology="two-hosts.clab.yml")
    def test_marked(netknit_lab):
        lab = netknit_lab()        # the marker's lab, deployed before the test began

Every lab is destroyed at teardown, also when the test fails or the session is
interrupted (Ctrl-C: a KeyboardInterrupt), with its lab directory (kept in pytest's
temporary directory). Each lab gets a name of its own (``<name>-<hash of the test
id>-<pid>``), so the same test run by two sessions or ``pytest -n`` workers at once
never meets another's lab; host-side names written in the topology (bridges, host
interfaces) are the test's to keep apart. Without root, tests that use it are skipped
with the reason.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    from ._lab import Lab

__all__ = ["LabFactory", "netknit_lab", "unique_name"]

MARKER = "netknit"
_ROOT_REASON = ("netknit labs need root (network namespaces on the real kernel): "
                "run pytest as root")

#: Labs deployed and not yet destroyed, by name: the session's last chance to remove
#: them if a teardown never ran.
_live: dict[str, Lab] = {}


class LabFactory(Protocol):
    """The type of the ``netknit_lab`` fixture."""

    def __call__(self, topology: Lab | str | os.PathLike[str] | Mapping[str, Any] | None = None,
                 *, runtime: str | None = None) -> Lab:
        """Deploy a copy of ``topology`` (the marker's lab when left out) and return it."""
        ...


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(topology, runtime=None): deploy this lab (a netknit.Lab, a "
        "topology file relative to the test file, or its data as a dict) before the test; "
        "netknit_lab() returns it")


def unique_name(base: str, test_id: str, index: int = 0) -> str:
    """``<base>-<hash of the test id>-<pid>`` (``-<index>`` for a test's further labs):
    apart across tests, sessions and workers (each a process of its own)."""
    digest = hashlib.sha256(test_id.encode()).hexdigest()[:6]
    return f"{base}-{digest}-{os.getpid()}" + (f"-{index}" if index else "")


def _source(topology: Any, directory: Path, runtime: str | None) -> Lab:
    from ._lab import Lab

    if isinstance(topology, Lab):
        return topology
    if isinstance(topology, Mapping):
        return Lab.from_dict(topology, runtime=runtime)
    if isinstance(topology, str | os.PathLike):
        return Lab.from_file(directory / os.fspath(topology), runtime=runtime)
    raise TypeError(f"netknit_lab takes a netknit.Lab, a topology file or a dict, "
                    f"not {type(topology).__name__}")


def _destroy(labs: list[Lab]) -> None:
    """Destroy every lab (the last first), each tried even when another fails."""
    from ._lab import _interrupts_held

    failure: BaseException | None = None
    for lab in reversed(labs):
        try:
            with _interrupts_held():
                lab.destroy(cleanup=True)
            _live.pop(lab.name, None)
        except Exception as exc:
            failure = failure or exc
    if failure is not None:
        raise failure


@pytest.fixture
def netknit_lab(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFactory]:
    """Deploys labs for the test and destroys them at teardown (see the module)."""
    if os.geteuid() != 0:
        pytest.skip(_ROOT_REASON)
    marker = request.node.get_closest_marker(MARKER)
    directory = Path(request.path).parent
    labs: list[Lab] = []
    marked: list[Lab] = []

    def deploy(topology: Lab | str | os.PathLike[str] | Mapping[str, Any] | None = None, *,
               runtime: str | None = None) -> Lab:
        if topology is None:
            if marker is None:
                raise TypeError("netknit_lab() needs a lab, unless the test is marked "
                                "@pytest.mark.netknit(topology=...)")
            return marked[0]
        source = _source(topology, directory, runtime)
        # a dict may leave the name out: every lab here gets a name of its own anyway
        base = source.name or "lab"
        lab = source.copy(name=unique_name(base, request.node.nodeid, len(labs)),
                          labdir_base=tmp_path_factory.mktemp("netknit"))
        lab.validate()  # a lab with problems changes nothing: nothing to destroy
        labs.append(lab)  # before the deploy: one interrupted half-way is destroyed too
        _live[lab.name] = lab
        lab.deploy()
        return lab

    try:
        if marker is not None:
            topology = marker.kwargs.get("topology", marker.args[0] if marker.args else None)
            if topology is None:
                raise TypeError("@pytest.mark.netknit needs the lab: topology=...")
            if isinstance(topology, Mapping):  # its problems: at the marked test
                from ._lab import Lab

                topology = Lab.from_dict(topology, runtime=marker.kwargs.get("runtime"))
                code = getattr(request.function, "__code__", None)
                if code is not None:  # its first line: the first decorator's
                    topology._sites[()] = (code.co_filename, code.co_firstlineno)
            marked.append(deploy(topology, runtime=marker.kwargs.get("runtime")))
        yield deploy
    finally:
        _destroy(labs)


@pytest.fixture(autouse=True)
def _netknit_marked(request: pytest.FixtureRequest) -> None:
    """A test marked ``@pytest.mark.netknit`` gets its lab even without asking for
    ``netknit_lab``."""
    if request.node.get_closest_marker(MARKER) is not None:
        request.getfixturevalue("netknit_lab")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Labs whose teardown never ran (an interrupted session) are destroyed here."""
    if not _live:
        return
    try:
        _destroy(list(_live.values()))
    except Exception as exc:  # reported, not raised: the session's result stands
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"netknit: a lab could not be destroyed: {exc}", red=True)
