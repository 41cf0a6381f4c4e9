"""containerlab's magic variables (core/config.go ``magicVarReplacer``), replaced where
containerlab replaces them: in bind host paths, in node ``exec`` commands and in stage
commands; and its git variables, in the lab's name only (``magicTopoNameReplacer``).

- ``__clabDir__``: the lab directory (``clab-<lab>``, see :mod:`netknit._labpath`);
- ``__clabLabName__``: its base name;
- ``__clabNodeDir__``: the node's directory in it (``clab-<lab>/<node>``);
- ``__clabNodeName__``: the node's name.

Replaced in one pass, as Go's ``strings.Replacer`` does: a value that happens to contain
a variable's name is not expanded again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from netknit.topology._model import Node

LAB_DIR = "__clabDir__"
LAB_NAME = "__clabLabName__"
NODE_DIR = "__clabNodeDir__"
NODE_NAME = "__clabNodeName__"

_ANY = re.compile("|".join(re.escape(v) for v in (LAB_DIR, LAB_NAME, NODE_DIR, NODE_NAME)))


def lab_variables(lab_dir: Path) -> dict[str, str]:
    """The lab's variables; the directory absolute, as containerlab's."""
    return {LAB_DIR: os.path.abspath(lab_dir), LAB_NAME: lab_dir.name}


def node_variables(lab: Mapping[str, str], node: str) -> dict[str, str]:
    """The lab's variables and the node's (none at all without the lab's: no name)."""
    if not lab:
        return {}
    return {**lab, NODE_DIR: str(Path(lab[LAB_DIR]) / node), NODE_NAME: node}


def expand(text: str, variables: Mapping[str, str]) -> str:
    if not variables or "__clab" not in text:
        return text
    return _ANY.sub(lambda m: variables.get(m.group(), m.group()), text)


def expand_source(mount: str, variables: Mapping[str, str]) -> str:
    """A bind or volume (``source:target[:options]``) with the variables replaced in its
    source only, as containerlab's resolveBindPaths and resolveVolumePaths do."""
    source, colon, rest = mount.partition(":")
    return expand(source, variables) + colon + rest


def in_stages(node: Node, variables: Mapping[str, str]) -> Node:
    """``node`` with the variables replaced in its stage commands."""
    if not variables or not any("__clab" in e.command for spec in node.stages.values()
                                for e in spec.exec):
        return node
    stages = {name: dataclasses.replace(spec, exec=tuple(
        dataclasses.replace(e, command=expand(e.command, variables)) for e in spec.exec))
        for name, spec in node.stages.items()}
    return dataclasses.replace(node, stages=MappingProxyType(stages))


GIT_BRANCH = "__gitBranch__"
GIT_HASH = "__gitHash__"


def git_name(name: str, directory: Path) -> tuple[str, str | None]:
    """The lab name with ``__gitBranch__`` and ``__gitHash__`` replaced, as containerlab
    replaces them (in the name only): the branch checked out in the repository whose
    root is ``directory`` (the topology file's), ``/`` as ``-``, and the commit's short
    hash; ``none`` each where there is none. Also a notice when there is no repository.

    Read from the repository's files (``HEAD``, its ref, ``packed-refs``): no ``git``
    process, nothing written."""
    if GIT_BRANCH not in name and GIT_HASH not in name:
        return name, None
    head = _git_head(directory)
    notice = None
    if head is None:
        head = ("none", "none")
        notice = (f"the lab name uses git variables, but {directory} holds no Git "
                  "repository: they are replaced with 'none', as containerlab does")
    branch, commit = head
    return name.replace(GIT_BRANCH, branch.replace("/", "-")).replace(GIT_HASH, commit), notice


def _git_head(directory: Path) -> tuple[str, str] | None:
    """(branch, short hash) of the repository at ``directory``; None: no repository.
    containerlab opens the repository at exactly that directory (go-git's PlainOpen)."""
    dot_git = directory / ".git"
    try:
        if dot_git.is_file():  # a worktree or a submodule: "gitdir: <path>"
            pointer = dot_git.read_text().strip()
            if not pointer.startswith("gitdir:"):
                return None
            git_dir = (directory / pointer.removeprefix("gitdir:").strip()).resolve()
        else:
            git_dir = dot_git
        head = (git_dir / "HEAD").read_text().strip()
    except OSError:
        return None
    common = git_dir
    with contextlib.suppress(OSError):  # a worktree keeps its refs in the main repository
        common = (git_dir / (git_dir / "commondir").read_text().strip()).resolve()
    if not head.startswith("ref:"):
        return "HEAD", head[:7] or "none"  # detached: go-git's Head() is named HEAD
    ref = head.removeprefix("ref:").strip()
    branch = ref.removeprefix("refs/heads/")
    commit = _resolve(ref, (git_dir, common))
    return branch, commit[:7] if commit else "none"  # an unborn branch has no commit


def _resolve(ref: str, dirs: tuple[Path, ...]) -> str | None:
    for git_dir in dirs:
        try:
            return (git_dir / ref).read_text().strip()
        except OSError:
            pass
    for git_dir in dirs:
        try:
            lines = (git_dir / "packed-refs").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            commit, _, name = line.partition(" ")
            if name == ref:
                return commit
    return None
