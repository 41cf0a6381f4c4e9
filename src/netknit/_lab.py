"""A lab built in Python: :class:`Lab`, the typed API over everything the CLI does.

A Lab holds the same data a topology file holds (a dict of containerlab's keys) and
remembers where each piece was written: the ``add_node``/``add_link`` call in the
user's code, or the file and line it was read from. Checking it goes through the one
validation path of :mod:`netknit.topology`, so a lab built in code gets exactly the errors
a file gets, located at the call that wrote the bad value.

Imported on first use of ``netknit.Lab``; the YAML parser, pydantic and the engine only
when a lab is checked or deployed.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import os
import shlex
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import LabLockedError, NotSupportedError, Problem, TopologyError

if TYPE_CHECKING:
    from .engine import DeployResult, DestroyResult, LabView, LifecycleResult, ReconcileResult
    from .runtimes import ExecResult
    from .state import LabDir
    from .topology import Topology
    from .topology._context import Site
    from .topology._yaml import YPath

__all__ = ["Lab"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_NODES: YPath = ("topology", "nodes")
_LINKS: YPath = ("topology", "links")


def _call_site() -> Site:
    """The file and line of the first caller outside netknit: the user's code."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    return frame.f_code.co_filename, frame.f_lineno


def _plain(value: Any) -> Any:
    """A value as a YAML file would hold it: mappings, lists and scalars (addresses and
    paths become their text)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike | ipaddress.IPv4Interface | ipaddress.IPv6Interface |
                  ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network |
                  ipaddress.IPv6Network):
        return os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    return value


def _keys(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments as containerlab's keys: ``startup_delay`` is ``startup-delay``."""
    return {key.replace("_", "-"): _plain(value) for key, value in fields.items()
            if value is not None}


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Ctrl-C during a destroy is delivered when it has finished: a destroy cut short
    would leave the lab half there. Only the main thread receives signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
        if caught:
            signal.raise_signal(signal.SIGINT)  # to the handler the program had


class Lab:
    """A lab built in code (or read from a topology file), and everything the CLI does
    with it, as methods::

        lab = netknit.Lab("demo")                 # nodes are netns nodes unless told
        lab.add_node("h1")
        lab.add_node("h2")
        lab.add_link("h1:eth1", "h2:eth1", ipv4=["10.0.0.1/24", "10.0.0.2/24"])
        with lab.deployed():                      # destroyed on exit, whatever happens
            print(lab.exec("h1", ["ping", "-c1", "10.0.0.2"]).output)

    ``runtime="netns"`` runs ``linux`` nodes as bare namespaces (as ``--runtime netns``).
    ``labdir_base``: the directory that holds the lab directory ``clab-<name>``; by default
    ``CLAB_LABDIR_BASE``, else the topology file's directory, else the current directory
    when the Lab was made (which is also where relative ``binds`` start from).
    """

    def __init__(self, name: str, *, prefix: str | None = None, runtime: str | None = None,
                 labdir_base: str | os.PathLike[str] | None = None) -> None:
        site = _call_site()
        data: dict[str, Any] = {"name": name}
        if prefix is not None:
            data["prefix"] = prefix
        data["topology"] = {}
        self._init(data, runtime, labdir_base, file=site[0])
        self._sites.update({(): site, ("name",): site, ("prefix",): site})

    # -- reading ----------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, name: str | None = None,
                  runtime: str | None = None,
                  labdir_base: str | os.PathLike[str] | None = None) -> Lab:
        """Read and check a containerlab topology file (raises :class:`TopologyError`, as
        :func:`netknit.load` does). ``name``: the lab's name instead of the file's. The
        lab can be changed in code afterwards; problems in what the file holds still
        name the file and line."""
        from .topology import read_document

        doc, notices = read_document(path)
        if doc.duplicates or not isinstance(doc.data, dict):  # a dict cannot hold them
            from .topology import load

            load(path, runtime=runtime)  # raises, worded as for any file
        lab = cls.__new__(cls)
        lab._init(doc.data, runtime, labdir_base, file=str(path))
        lab._path = Path(path).resolve()
        lab._scalars = dict(doc.scalars)
        lab._notices = notices
        lab._sites.update((p, (str(path), line)) for p, line in doc.lines.items())
        if name is not None:
            lab.rename(name)
        lab.validate()
        return lab

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, runtime: str | None = None,
                  labdir_base: str | os.PathLike[str] | None = None) -> Lab:
        """A lab from the data a topology file holds (``{"name": ..., "topology": ...}``);
        problems name the line of this call."""
        lab = cls.__new__(cls)
        site = _call_site()
        lab._init(_plain(data), runtime, labdir_base, file=site[0])
        lab._sites[()] = site
        return lab

    def _init(self, data: dict[str, Any], runtime: str | None,
              labdir_base: str | os.PathLike[str] | None, *, file: str) -> None:
        self._data = data
        self._sites: dict[YPath, Site] = {}
        self._file = file  # the file messages are relative to
        self._path: Path | None = None  # the topology file it was read from
        self._scalars: dict[YPath, str] = {}  # source text of scalars read (``1.50``)
        self._notices: list[str] = []
        self._base = Path.cwd()  # where relative paths start when there is no file
        self.runtime = runtime
        self.labdir_base = Path(labdir_base) if labdir_base is not None else None
        self._model: Topology | None = None

    # -- building ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The lab's name."""
        return str(self._data.get("name", ""))

    def rename(self, name: str) -> Lab:
        """Give the lab another name (its namespaces and containers are named after it)."""
        self._data["name"] = name
        self._sites[("name",)] = _call_site()
        self._scalars.pop(("name",), None)
        return self._changed()

    def add_node(self, name: str, *, kind: str | None = None, image: str | None = None,
                 **fields: Any) -> Lab:
        """Add a node: ``kind`` (``netns`` when not given, or as ``defaults`` say),
        ``image`` and any of containerlab's node fields as keywords, ``_`` for ``-``
        (``startup_delay=2``, ``cmd=...``, ``env={...}``, ``exec=[...]``, ``binds=[...]``).
        A problem with any of them names this call's file and line. Returns the lab."""
        site = _call_site()
        nodes = self._section("nodes", {})
        if name in nodes:
            first = self._sites.get((*_NODES, name))
            where = f" (first at {first[0]}:{first[1]})" if first else ""
            raise TopologyError([Problem(site[0], f"topology.nodes.{name}",
                                         f"node '{name}' is defined twice{where}", site[1])])
        nodes[name] = _keys({"kind": kind, "image": image, **fields})
        self._sites[(*_NODES, name)] = site
        return self._changed()

    def add_link(self, *endpoints: str | Mapping[str, Any], ipv4: Sequence[Any] | None = None,
                 ipv6: Sequence[Any] | None = None, mtu: int | None = None,
                 **fields: Any) -> Lab:
        """Add a link between endpoints ``"node:interface"`` (containerlab's brief form):
        ``ipv4``/``ipv6`` one address per end (``""`` for none), ``mtu``; other link
        fields as keywords (``type="veth"`` with endpoint mappings: the extended form).
        Returns the lab."""
        link: dict[str, Any] = {}
        if "type" in fields:
            link["type"] = _plain(fields.pop("type"))
        if endpoints:
            link["endpoints"] = _plain(list(endpoints))
        link.update(_keys({"ipv4": ipv4, "ipv6": ipv6, "mtu": mtu, **fields}))
        links = self._section("links", [])
        links.append(link)
        self._sites[(*_LINKS, len(links) - 1)] = _call_site()
        return self._changed()

    def set_defaults(self, **fields: Any) -> Lab:
        """containerlab's ``topology.defaults``: fields every node gets unless it sets its
        own (``kind="linux"``, ``image=...``). Returns the lab."""
        return self._update(("topology", "defaults"), _keys(fields))

    def set_kind(self, kind: str, **fields: Any) -> Lab:
        """containerlab's ``topology.kinds.<kind>``: fields every node of that kind gets.
        Returns the lab."""
        self._section("kinds", {}).setdefault(kind, {})
        return self._update(("topology", "kinds", kind), _keys(fields))

    def _update(self, path: YPath, fields: dict[str, Any]) -> Lab:
        """Set ``fields`` in the mapping at ``path``, each located at the caller's call."""
        site = _call_site()
        mapping = self._section(str(path[1]), {})
        for key in path[2:]:
            mapping = mapping[key]
        for key, value in fields.items():
            mapping[key] = value
            # what a file wrote there is gone, and where it was written with it
            under = (*path, key)
            for table in (self._scalars, self._sites):
                for old in [p for p in table if p[:len(under)] == under]:
                    del table[old]
            self._sites[under] = site
        return self._changed()

    def _section(self, key: str, empty: Any) -> Any:
        topology = self._data.get("topology")
        if not isinstance(topology, dict):
            topology = self._data["topology"] = {}
        if topology.get(key) is None:
            topology[key] = empty
        return topology[key]

    def _changed(self) -> Lab:
        self._model = None
        return self

    def copy(self, *, name: str | None = None,
             labdir_base: str | os.PathLike[str] | None = None) -> Lab:
        """A separate copy of the lab (another ``name`` or ``labdir_base`` if given)."""
        twin = copy.copy(self)
        twin._data = copy.deepcopy(self._data)
        twin._sites = dict(self._sites)
        twin._scalars = dict(self._scalars)
        twin._model = None
        if labdir_base is not None:
            twin.labdir_base = Path(labdir_base)
        if name is not None:
            twin.rename(name)
        return twin

    def to_dict(self) -> dict[str, Any]:
        """The lab as the data of a topology file (a copy)."""
        return copy.deepcopy(self._data)

    def to_yaml(self, path: str | os.PathLike[str] | None = None) -> str:
        """The lab as a containerlab topology file; written to ``path`` when given.
        ``$`` is written ``$$``, so that reading the file back gives the same values."""
        import yaml

        class Dumper(yaml.SafeDumper):
            pass

        Dumper.add_representer(_Source, lambda dumper, value: dumper.represent_scalar(
            value.tag, str(value)))
        text = yaml.dump(self._written(self._data, ()), Dumper=Dumper, sort_keys=False,
                         allow_unicode=True, default_flow_style=False)
        if "{{" in text:
            raise NotSupportedError("a value holds '{{', which a topology file cannot hold "
                                    "(containerlab renders the file as a Go template)",
                                    hint="write it another way, e.g. '{ {'")
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def _written(self, value: Any, path: YPath) -> Any:
        """``value`` as :meth:`to_yaml` writes it: ``$`` doubled (a file's ``$$`` is one
        ``$``), and a scalar read from a file as written there (``1.50``, ``yes``: fields
        that take text read the source text)."""
        if isinstance(value, str):
            return value.replace("$", "$$")
        if isinstance(value, dict):
            return {self._written(k, ()): self._written(v, (*path, k))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self._written(v, (*path, i)) for i, v in enumerate(value)]
        source = self._scalars.get(path)
        return _Source.of(source, value) if source is not None else value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Lab):
            return NotImplemented
        return self._data == other._data

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        topology = self._data.get("topology")
        nodes = len(topology.get("nodes") or {}) if isinstance(topology, dict) else 0
        return f"<netknit.Lab {self.name!r}: {nodes} nodes>"

    # -- checking ---------------------------------------------------------------------

    @property
    def topology(self) -> Topology:
        """The validated model (raises :class:`TopologyError` listing every problem, each
        at the call or the file line that wrote it)."""
        if self._model is None:
            from .topology import from_document
            from .topology._yaml import Document

            sites = dict(self._sites)
            doc = Document(copy.deepcopy(self._data), lines={p: line for p, (_f, line)
                                                             in sites.items()},
                           scalars=dict(self._scalars))
            self._model = from_document(doc, file=self._file, sites=sites, path=self._path,
                                        base_dir=self._base, runtime=self.runtime,
                                        notices=self._notices, labdir_base=self.labdir_base)
        return self._model

    def validate(self) -> Topology:
        """Check the lab now (see :attr:`topology`)."""
        return self.topology

    @property
    def lab_dir(self) -> Path:
        """The lab directory (``clab-<name>``): journal, state, node files."""
        return self._lab_dir().path

    def _lab_dir(self) -> LabDir:
        from .state import LabDir

        return LabDir.for_lab(self.name, self._path, self.labdir_base, fileless=self._base)

    # -- what the CLI does ------------------------------------------------------------

    def deploy(self, *, max_workers: int = 8, skip_post_deploy: bool = False,
               reconfigure: bool = False) -> DeployResult:
        """Deploy the lab (``netknit deploy``): a no-op when it is deployed as it is; a
        deployed lab that was changed gets the difference applied (``reconfigure``: it is
        destroyed with its lab directory and deployed anew). Commands of ``exec:`` that
        fail are in the result's ``exec_failures``, as the CLI warns of them."""
        from .engine import deploy

        topology = self.topology  # checked before anything is changed
        if reconfigure:
            self.destroy(cleanup=True)
        return deploy(topology, lab_dir=self._lab_dir(), max_workers=max_workers,
                      skip_post_deploy=skip_post_deploy)

    def destroy(self, *, cleanup: bool = False, graceful: bool = False,
                keep_mgmt_net: bool = False) -> DestroyResult:
        """Remove exactly what deploy made (``netknit destroy``); succeeds when nothing is
        there. ``cleanup``: the lab directory too; ``graceful``: workloads are stopped
        first; ``keep_mgmt_net``: the management network stays."""
        from .engine import destroy

        return destroy(self.name, self._lab_dir(), cleanup=cleanup, graceful=graceful,
                       keep_mgmt_net=keep_mgmt_net)

    @contextlib.contextmanager
    def deployed(self, *, cleanup: bool = True, max_workers: int = 8) -> Iterator[Lab]:
        """Deploy the lab for a ``with`` block and destroy it on the way out, also when
        the block raises or is interrupted (a Ctrl-C during the destroy is held until it
        is done). The lab is checked first: a lab with problems changes nothing.
        ``cleanup``: the lab directory is removed too."""
        self.validate()
        ours = True
        try:
            try:
                self.deploy(max_workers=max_workers)
            except LabLockedError:
                ours = False  # another process is deploying or destroying it: leave it
                raise
            yield self
        finally:
            if ours:
                with _interrupts_held():
                    self.destroy(cleanup=cleanup)

    def inspect(self, *, every: bool = False) -> LabView:
        """Desired and actual state of every node and interface (``netknit inspect``;
        ``every``: with all other interfaces of each node's namespace, as ``netknit
        inspect interfaces`` lists them)."""
        from .engine import inspect

        return inspect(self.name, self._lab_dir(), every=every)

    def exec(self, node: str, cmd: str | Sequence[str], *,
             timeout: float | None = None) -> ExecResult:
        """Run a command in ``node`` (``netknit exec``): an argv list, or a string split
        as a shell would (no shell runs it). Returns its exit code and output; a
        non-zero exit is not an error here, check ``returncode``."""
        from .engine import exec_in

        argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        return exec_in(self.topology, [node], argv, timeout=timeout,
                       lab_dir=self._lab_dir())[0]

    def reconcile(self, *, dry_run: bool = False) -> ReconcileResult:
        """Repair what drifted from the lab (``netknit reconcile``); ``dry_run``: only
        report it."""
        from .engine import reconcile

        return reconcile(self.topology, self._lab_dir(), dry_run=dry_run)

    def watch(self, *, once: bool = False) -> int:
        """Repair drift as it happens until SIGINT/SIGTERM (``netknit watch``; from the
        main thread); ``once``: one pass. Returns the CLI's exit status."""
        from .engine._watch import watch

        return watch(self.topology, self._lab_dir(), once=once)

    def stop(self, nodes: Sequence[str] = ()) -> LifecycleResult:
        """Stop nodes (all when none is named), their link ends parked (``netknit stop``)."""
        from .engine import stop

        return stop(self.topology, self._lab_dir(), nodes)

    def start(self, nodes: Sequence[str] = ()) -> LifecycleResult:
        """Start stopped nodes (all when none is named) with their links."""
        from .engine import start

        return start(self.topology, self._lab_dir(), nodes)

    def restart(self, nodes: Sequence[str] = ()) -> LifecycleResult:
        """Stop, then start nodes (all when none is named)."""
        from .engine import restart

        return restart(self.topology, self._lab_dir(), nodes)



class _Source(str):
    """A scalar's source text, written plain with the tag YAML read it as (the text
    resolves to that tag again, so the emitter leaves it unquoted)."""

    tag: str

    @classmethod
    def of(cls, text: str, value: Any) -> _Source:
        source = cls(text)
        kind = {bool: "bool", int: "int", float: "float", type(None): "null"}.get(
            type(value), "timestamp")
        source.tag = f"tag:yaml.org,2002:{kind}"
        return source
