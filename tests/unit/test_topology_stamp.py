"""The digest a loaded topology carries: destroy knows the deployed lab by it (the
deploy's note) without parsing the file, so it is set only when the file alone decides
the lab's name."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from netknit.topology import load, source_sha256

LAB = "name: stamped\ntopology:\n  nodes:\n    a: {kind: netns}\n"


def test_a_literal_name_carries_the_files_digest(tmp_path: Path) -> None:
    path = tmp_path / "lab.clab.yml"
    path.write_text(LAB)
    topo = load(path)
    assert topo.name == "stamped"
    assert topo.source_sha256 == hashlib.sha256(LAB.encode()).hexdigest()
    assert source_sha256(path) == topo.source_sha256
    path.write_text(LAB.replace("stamped", "stampee"))  # same size, same inode
    assert source_sha256(path) != topo.source_sha256


@pytest.mark.parametrize("text", [
    LAB.replace("name: stamped", "name: ${NK_STAMP_TEST:-stamped}"),  # a variable decides
    LAB.replace("name: stamped", "name: stamped-__gitHash__"),  # the repository decides
    LAB + "    b: {kind: netns, exec: ['echo $HOME']}\n",  # any variable: not looked into
])
def test_a_name_that_is_not_the_files_alone_carries_none(tmp_path: Path, text: str) -> None:
    path = tmp_path / "lab.clab.yml"
    path.write_text(text)
    assert load(path).source_sha256 is None


def test_a_name_given_instead_carries_none(tmp_path: Path) -> None:
    path = tmp_path / "lab.clab.yml"
    path.write_text(LAB)
    topo = load(path, name="other")
    assert (topo.name, topo.source_sha256) == ("other", None)


def test_what_is_not_a_regular_file_has_no_digest(tmp_path: Path) -> None:
    assert source_sha256(tmp_path) is None
    assert source_sha256(tmp_path / "missing.clab.yml") is None
