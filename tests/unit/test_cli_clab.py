"""The pure parts of containerlab's CLI shapes: inspect rows, states, durations, exec's
stdout, label filters."""

from __future__ import annotations

import click
import pytest

from netknit._errors import UsageError
from netknit.cli import _Duration, _label_filter, _stdout_json
from netknit.engine import ContainerDetails
from netknit.engine._inspect import _state_words


def row(group: str = "") -> ContainerDetails:
    return ContainerDetails("lab", "lab.clab.yml", "/x/lab.clab.yml", "clab-lab-a", "0123456789ab",
                            "img", "linux", group, "running", "", "N/A", "N/A", "me", node="a")


def test_row_keys_are_containerlabs_in_its_order_and_group_only_when_set() -> None:
    assert list(row().to_json()) == [
        "lab_name", "labPath", "absLabPath", "name", "container_id", "image", "kind", "state",
        "status", "ipv4_address", "ipv6_address", "owner"]
    keys = list(row("spine").to_json())
    assert keys[keys.index("kind") + 1] == "group"


@pytest.mark.parametrize(("state", "words"), [
    ("running", ("running", [])),
    ("running (healthy)", ("running", ["healthy"])),
    ("running (unhealthy)", ("running", ["unhealthy"])),
    ("running (starting)", ("running", ["health: starting"])),
    ("exited (137), sandbox exited (1)", ("exited", ["exit code 137", "sandbox exited (1)"])),
    ("missing", ("missing", [])),
])
def test_state_words(state: str, words: tuple[str, list[str]]) -> None:
    assert _state_words(state) == words


@pytest.mark.parametrize(("given", "seconds"), [
    ("120", 120.0), ("30s", 30.0), ("2m30s", 150.0), ("1h", 3600.0), ("500ms", 0.5),
    ("1.5", 1.5)])
def test_durations(given: str, seconds: float) -> None:
    assert _Duration().convert(given, None, None) == seconds


@pytest.mark.parametrize("given", ["0", "0s", "-1s", "soon", "5x", "1m 30s"])
def test_bad_durations(given: str) -> None:
    with pytest.raises(click.BadParameter):
        _Duration().convert(given, None, None)


def test_stdout_that_is_json_stays_json() -> None:
    assert _stdout_json('{"a": [1, 2]}\n') == {"a": [1, 2]}
    assert _stdout_json("hello\n") == "hello\n"
    assert _stdout_json("") == ""
    assert _stdout_json("NaN") == "NaN"  # not JSON to Go either


def test_label_filters() -> None:
    assert _label_filter(("a=b,c", "d=")) == [("a", "b"), ("c", None), ("d", "")]
    for bad in ("=x", "a=b=c"):
        with pytest.raises(UsageError):
            _label_filter((bad,))
