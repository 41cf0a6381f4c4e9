"""Image pulls as containerlab decides them (types/types.go ParsePullPolicyValue, runtime/
docker PullImage, core/image.go): the policy's spellings and layers, which images are
pulled, the progress by layer bytes, the registry named, the timeout knob. The pulls
themselves run against a real registry in tests/docker/test_docker_pull.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from netknit._errors import ImageError, RuntimeFailure, TopologyError
from netknit.runtimes import _pull
from netknit.topology import loads

LAB = """
name: t
topology:
  defaults: {image-pull-policy: never}
  kinds:
    linux: {image: x:1}
  groups:
    g: {image-pull-policy: " ALWAYS "}
  nodes:
    a: {kind: linux}
    b: {kind: linux, group: g}
    c: {kind: linux, group: g, image-pull-policy: ifnotpresent}
    d: {kind: linux, image-pull-policy: IfNotPresent}
"""


def test_policy_spellings_and_layers_as_containerlab() -> None:
    nodes = loads(LAB).nodes
    assert {n: nodes[n].options.image_pull_policy for n in "abcd"} == {
        "a": "Never", "b": "Always", "c": "IfNotPresent", "d": "IfNotPresent"}
    assert loads("name: t\ntopology:\n  nodes:\n    a: {kind: linux, image: x}\n").nodes[
        "a"].options.image_pull_policy == "IfNotPresent"  # containerlab's default


def test_an_unknown_policy_is_an_error_with_its_path() -> None:
    with pytest.raises(TopologyError) as info:
        loads("name: t\ntopology:\n  nodes:\n    a: {kind: linux, image: x, "
              "image-pull-policy: IfNotPresnt}\n")
    (problem,) = info.value.problems
    assert problem.path == "topology.nodes.a.image-pull-policy"
    assert "must be one of IfNotPresent, Always, Never" in problem.message
    assert "did you mean 'IfNotPresent'?" in problem.message


def test_each_image_once_and_which_to_pull() -> None:
    found = _pull.wants([("a:1", "n1", "Never"), ("a:1", "n2", "IfNotPresent"),
                         ("b:1", "n3", "Never"), ("c:1", "n4", "Always"),
                         ("d:1", "n5", "IfNotPresent"), ("e:1", "n6", "Never")])
    assert [(w.image, w.nodes, w.policy) for w in found] == [
        ("a:1", ["n1", "n2"], "IfNotPresent"), ("b:1", ["n3"], "Never"),
        ("c:1", ["n4"], "Always"), ("d:1", ["n5"], "IfNotPresent"), ("e:1", ["n6"], "Never")]
    here = {"c:1", "d:1", "e:1"}
    pull, refused = _pull.decide(found, here.__contains__)
    # Always pulls what is there; IfNotPresent only what is missing; Never never
    assert [w.image for w in pull] == ["a:1", "c:1"]
    assert [w.image for w in refused] == ["b:1"]
    error = _pull.never_error(refused)
    assert isinstance(error, ImageError)
    assert "image not found locally: b:1 (node n3); image-pull-policy Never" in error.message
    assert error.hint is not None and "docker load" in error.hint


@pytest.mark.parametrize(("image", "registry"), [
    ("alpine", "docker.io"), ("library/alpine:3", "docker.io"),
    ("ghcr.io/nokia/srlinux:24", "ghcr.io"), ("127.0.0.1:5000/x/y:1", "127.0.0.1:5000"),
    ("localhost/x", "localhost"), ("frr/frr:9@sha256:ab", "docker.io"),
])
def test_registry_of(image: str, registry: str) -> None:
    assert _pull.registry_of(image) == registry


def test_progress_by_layer_bytes() -> None:
    layers = _pull.Layers()
    for message in [
        {"status": "Pulling from x/y", "id": "1"},  # not a layer
        {"status": "Pulling fs layer", "id": "L1"}, {"status": "Already exists", "id": "L0"},
        {"status": "Pulling fs layer", "id": "L2"},
        {"status": "Downloading", "id": "L1", "progressDetail": {"current": 10, "total": 100}},
        {"status": "Downloading", "id": "L2", "progressDetail": {"current": 5, "total": 50}},
    ]:
        layers.feed(message)
    assert (layers.status, layers.done, layers.total) == ("downloading", 15, 150)
    for message in [
        {"status": "Download complete", "id": "L1"},
        {"status": "Extracting", "id": "L1", "progressDetail": {"current": 1, "total": 100}},
        {"status": "Download complete", "id": "L2"},
    ]:
        layers.feed(message)
    assert (layers.status, layers.done, layers.total) == ("extracting", 150, 150)
    with pytest.raises(_pull.PullFailed, match="manifest unknown"):
        layers.feed({"error": "manifest unknown", "errorDetail": {"message": "x"}})


def test_timeout_knob(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_pull.PULL_ENV, raising=False)
    assert _pull.pull_timeout() == _pull.DEFAULT_PULL_TIMEOUT
    monkeypatch.setenv(_pull.PULL_ENV, "2.5")
    assert _pull.pull_timeout() == 2.5
    for bad in ("0", "-1", "soon"):
        monkeypatch.setenv(_pull.PULL_ENV, bad)
        with pytest.raises(RuntimeFailure, match="is not a number of seconds above 0"):
            _pull.pull_timeout()


class _Seen:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.transfers: list[tuple[str, str, int, int]] = []

    def note(self, message: str) -> None:
        self.notes.append(message)

    def transfer(self, name: str, status: str, done: int, total: int) -> None:
        self.transfers.append((name, status, done, total))


def test_a_pull_that_gets_no_answer_ends_at_the_timeout(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """The clock is the caller's: a stream that says nothing does not hold it up, and a
    pull that answers meanwhile is reported as pulled."""
    monkeypatch.setenv(_pull.PULL_ENV, "1")
    release = threading.Event()

    def fetch(image: str, timeout: float) -> Iterator[Mapping[str, Any]]:
        if image == "silent:1":
            release.wait(10)
            return
        yield {"status": "Downloading", "id": "L", "progressDetail": {"current": 1,
                                                                      "total": 2}}
        yield {"status": "Pull complete", "id": "L"}

    seen = _Seen()
    found = _pull.wants([("silent:1", "a", "Always"), ("fine:1", "b", "Always")])
    started = time.monotonic()
    failed = _pull.pull_all(found, fetch, seen, {})
    took = time.monotonic() - started
    release.set()
    assert 1 <= took < 3
    assert failed == {"silent:1": f"no answer within 1s ({_pull.PULL_ENV})"}
    assert "pulled fine:1 (1 layer, 0.0 MB" in " ".join(seen.notes)
    assert ("fine:1", "done", 2, 2) in seen.transfers
    assert seen.transfers[-1][:2] == ("silent:1", "failed") or \
        ("silent:1", "failed", 0, 0) in seen.transfers
    error = _pull.pull_error(failed, found, lambda image: False)
    assert "image not found locally: silent:1 (node a): no answer from registry docker.io: " \
        "no answer within 1s" in error.message


def test_the_cli_draws_a_pull_by_bytes_on_a_terminal_and_in_lines_otherwise(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from netknit.cli import _Reporter

    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=120)
    with _Reporter(terminal, True) as report:
        report.transfer("reg:5000/x:1", "downloading", 1_500_000, 3_000_000)
        (task,) = report._progress.tasks
        assert (task.description, task.completed, task.total, task.fields) == (
            "downloading reg:5000/x:1", 1_500_000, 3_000_000, {"bytes": True})
        assert str(report._progress.columns[-1].render(task)) == "1.5 MB/3.0 MB"
        report.transfer("reg:5000/x:1", "done", 3_000_000, 3_000_000)
        assert report._progress.tasks == []
    log = io.StringIO()
    plain = Console(file=log, force_terminal=False, width=120)
    monkeypatch.setattr(_Reporter, "EVERY", 0.0)
    with _Reporter(plain, True) as report:
        report.transfer("reg:5000/x:1", "downloading", 1_500_000, 3_000_000)
        report.transfer("reg:5000/x:1", "done", 3_000_000, 3_000_000)
    assert log.getvalue() == "reg:5000/x:1: downloading, 1.5 MB of 3.0 MB\n"
    quiet = io.StringIO()
    with _Reporter(Console(file=quiet, force_terminal=False), False) as report:
        report.transfer("reg:5000/x:1", "downloading", 1, 2)
    assert quiet.getvalue() == ""
