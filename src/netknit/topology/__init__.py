"""Load a containerlab-compatible topology file into the immutable model.

    topo = load("lab.clab.yml", runtime="netns")

Pure: reads the one file and nothing else. Every problem found is collected and raised
together as one :class:`~netknit._errors.TopologyError`, each naming the file, the YAML
path and the line. Importing this package stays cheap: the YAML parser and pydantic are
only imported by the first load.
"""

from __future__ import annotations

import os
from dataclasses import replace
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from netknit._digest import sha256
from netknit._errors import NotSupportedError, Problem, TopologyError
from netknit._source import Unreadable as _Unreadable
from netknit._source import read_bytes as _read_bytes
from netknit._source import source_sha256
from netknit.topology._filter import only
from netknit.topology._model import (
    AUTO_BRIDGE,
    DEFAULT_LINK_MTU,
    DEFAULT_PREFIX,
    DEFAULT_PRIVATE_DIRS,
    DEFAULT_UNDERLAY_MTU,
    MACVLAN_MODES,
    PULL_POLICIES,
    START_STRATEGIES,
    VXLAN_DEFAULT_PORT,
    VXLAN_OVERHEAD,
    ContainerOptions,
    Endpoint,
    Healthcheck,
    Host,
    Kind,
    Link,
    LinkType,
    Mgmt,
    Node,
    PullPolicy,
    Stage,
    StageExec,
    StageSpec,
    StartStrategy,
    Topology,
    Vxlan,
    WaitFor,
    joins_mgmt,
)

__all__ = [
    "AUTO_BRIDGE",
    "DEFAULT_LINK_MTU",
    "DEFAULT_PREFIX",
    "DEFAULT_PRIVATE_DIRS",
    "DEFAULT_UNDERLAY_MTU",
    "MACVLAN_MODES",
    "PULL_POLICIES",
    "RUNTIMES",
    "START_STRATEGIES",
    "VXLAN_DEFAULT_PORT",
    "VXLAN_OVERHEAD",
    "ContainerOptions",
    "Endpoint",
    "Healthcheck",
    "Host",
    "Kind",
    "Link",
    "LinkType",
    "Mgmt",
    "Node",
    "PullPolicy",
    "Stage",
    "StageExec",
    "StageSpec",
    "StartStrategy",
    "Topology",
    "Vxlan",
    "WaitFor",
    "from_document",
    "joins_mgmt",
    "lab_name",
    "load",
    "loads",
    "only",
    "read_document",
    "source_sha256",
]

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from netknit.topology import _envsubst
    from netknit.topology._context import Site
    from netknit.topology._yaml import Document, YPath

#: Values of ``runtime``: None means the default, Docker.
RUNTIMES = ("docker", "netns")


def load(path: str | PathLike[str], *, runtime: str | None = None,
         name: str | None = None, mgmt: Mapping[str, str] | None = None) -> Topology:
    """Read and check the topology file at ``path``.

    ``runtime="netns"`` wires containerlab ``linux`` nodes as bare namespaces (their image
    and container settings are ignored, with a notice each). ``name``: the lab's name
    instead of the file's (containerlab's ``--name``), checked the same way. ``mgmt``:
    keys of the file's ``mgmt:`` given instead (deploy's ``--network``,
    ``--ipv4-subnet``, ``--ipv6-subnet``), checked the same way.
    Raises :class:`TopologyError` listing every problem found.
    """
    file = str(path)
    try:
        data = _read_bytes(path)
        text = _decoded(data)
    except _Unreadable as exc:
        raise TopologyError([Problem(file, "", exc.reason, exc.line)]) from None
    topology = _load(text, file, runtime, Path(path).resolve(), name, mgmt)
    if name is None and "$" not in text and "__git" not in text:
        # the name is the file's own, as written (no override, variable or git name)
        topology = replace(topology, source_sha256=sha256(data).hexdigest())
    return topology


def rendered(path: str | PathLike[str]) -> str:
    """The text of the topology file at ``path`` as netknit reads it, its environment
    variables expanded (containerlab's ``deploy --export-rendered``)."""
    try:
        return _expand(_read(path), str(path)).text
    except _Unreadable as exc:
        raise TopologyError([Problem(str(path), "", exc.reason, exc.line)]) from None


def _read(path: str | PathLike[str]) -> str:
    """The text of a regular UTF-8 file; :class:`_Unreadable` for anything else."""
    return _decoded(_read_bytes(path))


def _decoded(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Unreadable("the file is not UTF-8 text", data.count(b"\n", 0, exc.start) + 1
                          ) from None


def _expand(text: str, file: str) -> _envsubst.Expanded:
    """The text as containerlab reads it: its environment variables expanded. Go templates,
    which containerlab renders first, are refused where they are written."""
    from netknit.topology import _envsubst

    lines = _envsubst.template_lines(text)
    if lines:
        raise TopologyError(
            [Problem(file, "", "Go template syntax ({{ ... }}) is not supported", n)
             for n in lines],
            hint="netknit reads the file as YAML with environment variables; render the "
            "template first (containerlab deploy --export-rendered FILE) and load the result")
    try:
        return _envsubst.expand(text, os.environ)
    except _envsubst.EnvsubstError as exc:
        raise TopologyError([Problem(file, "", exc.message, exc.line)]) from None


def lab_name(path: str | PathLike[str]) -> str:
    """Only the lab's name, for commands that need nothing else (``destroy``).

    Skips the full validation (and the pydantic import); a file whose name cannot be
    read is loaded fully, so the user gets the usual precise errors.
    """
    from netknit.topology import _yaml
    from netknit.topology._magic import git_name
    from netknit.topology._values import NAME_RE

    try:
        doc = _yaml.load(_expand(_read(path), str(path)).text)
        name = doc.data.get("name") if isinstance(doc.data, dict) else None
    except (_Unreadable, _yaml.YamlError, TopologyError):
        name = None
    if isinstance(name, str):
        name = git_name(name, Path(path).parent)[0]
    if isinstance(name, str) and NAME_RE.match(name):
        return name
    return load(path, runtime="netns").name


def loads(text: str, *, filename: str = "<string>", runtime: str | None = None) -> Topology:
    """Check topology ``text``; ``filename`` is only used in messages."""
    return _load(text, filename, runtime, None)


def _load(text: str, file: str, runtime: str | None, path: Path | None,
          name: str | None = None, mgmt: Mapping[str, str] | None = None) -> Topology:
    _check_runtime(runtime)
    doc, notices = _document(text, file)
    if name is not None and isinstance(doc.data, dict):
        doc.data["name"] = name
        doc.scalars.pop(("name",), None)
    if mgmt and isinstance(doc.data, dict):
        block = doc.data.get("mgmt")
        if not isinstance(block, dict):  # none in the file (or a wrong one: replaced)
            block = doc.data["mgmt"] = {}
        for key, value in mgmt.items():
            block[key] = value
            doc.scalars.pop(("mgmt", key), None)
    return _checked(file, doc, runtime, path, notices=notices)


def _check_runtime(runtime: str | None) -> None:
    if runtime is not None and runtime not in RUNTIMES:
        raise NotSupportedError(
            f"unknown runtime '{runtime}'", hint=f"use one of: {', '.join(RUNTIMES)}"
        )


def _document(text: str, file: str) -> tuple[Document, list[str]]:
    """The file's values and lines, its environment variables expanded; the notices
    about variables left unset."""
    from netknit.topology import _yaml

    expanded = _expand(text, file)
    try:
        doc = _yaml.load(expanded.text)
    except _yaml.YamlError as exc:
        raise TopologyError([Problem(file, "", exc.message, expanded.line(exc.line))]
                            ) from None
    if expanded.source_lines is not None:  # a value brought newlines: lines of the file
        doc.remap(expanded.line)
    return doc, [f"{file}:{line}: ${{{name}}} is not set: left as '${name}', as "
                 "containerlab leaves it" for line, name in expanded.unset]


def _checked(file: str, doc: Document, runtime: str | None, path: Path | None, *,
             notices: list[str], sites: Mapping[YPath, Site] | None = None,
             base_dir: Path | None = None, labdir_base: Path | None = None) -> Topology:
    from netknit.topology import _build
    from netknit.topology._context import Context

    ctx = Context(file, doc, runtime, sites)
    ctx.notices.extend(notices)
    topology = _build.build(ctx, path, base_dir, labdir_base)
    if topology is None or ctx.problems:
        problems = sorted(ctx.problems, key=lambda p: (p.file != file, p.file, p.line or 0))
        raise TopologyError(problems, hint="; ".join(ctx.hints) or None)
    return topology


# -- for netknit.Lab: a lab built in Python goes through the same checks as a file ----------

def read_document(path: str | PathLike[str]) -> tuple[Document, list[str]]:
    """The values of the topology file at ``path`` as plain data with their lines (its
    environment variables expanded), and the notices of its reading; nothing checked yet."""
    try:
        text = _read(path)
    except _Unreadable as exc:
        raise TopologyError([Problem(str(path), "", exc.reason, exc.line)]) from None
    return _document(text, str(path))


def from_document(doc: Document, *, file: str, sites: Mapping[YPath, Site],
                  path: Path | None = None, base_dir: Path | None = None,
                  runtime: str | None = None, notices: Sequence[str] = (),
                  labdir_base: Path | None = None) -> Topology:
    """Check ``doc`` (data as a topology file holds it) as :func:`load` checks a file.

    ``sites``: where each value was written (its nearest ancestor's site is used); every
    problem names that file and line. ``path``: the file the lab was read from, if any;
    ``base_dir``: the directory relative paths start from when there is no file;
    ``labdir_base``: the directory that holds the lab directory, if chosen (containerlab's
    ``__clabDir__`` names the lab directory).
    Raises :class:`TopologyError` listing every problem found.
    """
    _check_runtime(runtime)
    return _checked(file, doc, runtime, path, notices=list(notices), sites=sites,
                    base_dir=base_dir, labdir_base=labdir_base)
