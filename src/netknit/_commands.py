"""What the commands do, apart from their flags: the bodies of ``deploy`` and
``destroy`` and every helper the command line shares (finding the topology file,
loading it, progress, tables, errors, notes).

Nothing here imports click: ``deploy`` and ``destroy`` are what a script runs most, and
click with the definitions of every command costs ~15 ms of each start (issue 18), so
:mod:`netknit._fastargv` parses their common command lines and :mod:`netknit._launch`
calls :func:`deploy` or :func:`destroy` directly. Every other command line goes through
click (:mod:`netknit.cli`), which calls the same functions: a command does the same
whichever way its flags were read.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

from ._errors import NetknitError, StateError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from .engine import ContainerDetails, FoundLab
    from .runtimes import ExecResult
    from .topology import Topology

#: a command's scratch when click does not run it (see :func:`_meta`)
_FAST_META: dict[str, Any] = {}


def _meta() -> dict[str, Any]:
    """The running command's scratch (global flags' values, stdin's topology): click's
    context's on the click path, so that two commands run in one process (tests, the
    resident's children) never share it; this module's own on the fast path."""
    click = sys.modules.get("click")
    ctx = click.get_current_context(silent=True) if click is not None else None
    meta: dict[str, Any] = ctx.meta if ctx is not None else _FAST_META
    return meta


def _echo(text: str) -> None:
    """A line on stdout, flushed (as ``click.echo`` writes one)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def join_host() -> None:
    """Before any command, as root: under ``ip netns exec`` the lab's namespaces must
    still land in the host's /run/netns, or they die with the command."""
    if os.geteuid() == 0:
        from .kernel._mounts import join_host_mounts

        join_host_mounts()


_TOPO_SUFFIXES = (".clab.yml", ".clab.yaml")


def _console(stderr: bool = False) -> Console:
    """A rich Console, made on first use: importing rich costs ~20 ms that a quiet
    command never spends."""
    return cast("Console", _LazyConsole(stderr))


class _LazyConsole:
    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._real: Console | None = None

    def real(self) -> Console:
        if self._real is None:
            from rich.console import Console

            # emoji off: MACs like 7e:cd:6e would otherwise print a ":cd:" emoji
            self._real = Console(stderr=self._stderr, highlight=False, soft_wrap=False,
                                 emoji=False)
            if not self._real.is_terminal and "COLUMNS" not in os.environ:
                self._real.width = 160  # pipes and logs: do not squeeze tables into 80 columns
        return self._real

    def plain(self) -> bool:
        """No terminal, and nothing asks rich to act as one: it would colour nothing."""
        stream = sys.stderr if self._stderr else sys.stdout
        return self._real is None and not stream.isatty() and not any(
            os.environ.get(v) for v in ("FORCE_COLOR", "TTY_INTERACTIVE", "TTY_COMPATIBLE"))

    @property
    def is_terminal(self) -> bool:
        return False if self.plain() else self.real().is_terminal

    def print(self, *objects: Any, **options: Any) -> None:
        """rich's print; but a line of plain text that rich would print as it is (no
        terminal, no markup, narrower than the page) is written here without importing
        rich (~20 ms: all that destroy would import it for)."""
        text = objects[0] if len(objects) == 1 and not options else None
        if isinstance(text, str) and "[" not in text and len(text) < self._width() and \
                "\n" not in text and self.plain():
            (sys.stderr if self._stderr else sys.stdout).write(text + "\n")
            return
        self.real().print(*objects, **options)

    @staticmethod
    def _width() -> int:
        try:
            return int(os.environ.get("COLUMNS", "160"))
        except ValueError:
            return 80

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


def _fail(exc: NetknitError) -> NoReturn:
    _labelled("error", "bold red", exc.message)
    if exc.hint:
        _labelled("hint", "yellow", exc.hint)
    sys.exit(exc.exit_code)


def _labelled(label: str, style: str, message: str) -> None:
    """``label: message`` on stderr, the label coloured on a terminal; plain where nothing
    would colour it (a pipe, a log), which spares importing rich (~20 ms) for one line."""
    console = _LazyConsole(stderr=True)
    if console.plain():
        sys.stderr.write(f"{label}: {message}\n")
    else:
        console.print(f"[{style}]{label}:[/] {message}")


def find_topology(given: str | None) -> Path:
    """The topology file: as given, the single ``*.clab.yml`` of a directory, or of cwd;
    ``-`` (or ``stdin``): what stdin holds; none given but ``--name``: the deployed lab's.

    Anything that is not a directory is returned as it is: loading it refuses what is not
    a regular file (a FIFO, /dev/null) without opening it for reading. A URL (no local
    file of that name): the file downloaded, kept as stdin's is (containerlab's remote
    topology).
    """
    if given in ("-", "stdin"):
        return _stdin_topology()
    if not given and (name := _global("name")):
        return _deployed_topology(name)
    path = Path(given) if given else Path.cwd()
    try:
        is_dir = stat.S_ISDIR(path.stat().st_mode)
    except OSError as exc:
        url = _topology_url(given) if given and exc.errno == errno.ENOENT else None
        if url is not None:
            try:
                return _url_topology(url)
            except UsageError as why:
                if url == given:
                    raise
                # no scheme: perhaps a path mistyped, not a URL meant
                raise UsageError(f"topology file {given}: no such file here; as a URL "
                                 f"({url}): {why.message}",
                                 hint="check the path given to -t; as a URL: "
                                 f"{why.hint}") from None
        raise UsageError(f"topology file {given or path}: {exc.strerror}",
                         hint="check the path given to -t") from None
    if not is_dir:
        return path
    where = "the current directory" if not given else str(path)
    try:
        found = sorted(p for p in path.iterdir() if p.name.endswith(_TOPO_SUFFIXES))
    except OSError as exc:
        raise UsageError(f"cannot list {where}: {exc.strerror}") from None
    if not found:
        raise UsageError(f"no topology file (*.clab.yml) in {where}",
                         hint="give one with -t FILE (or a deployed lab's name: --name LAB)")
    if len(found) > 1:
        if sys.stdin.isatty():
            return _pick_topology(found, where)
        names = ", ".join(p.name for p in found)
        raise UsageError(f"several topology files in {where}: {names}",
                         hint="pick one with -t FILE")
    return found[0]


def _pick_topology(found: list[Path], where: str) -> Path:
    """containerlab's picker, on a terminal: the files listed (a deployed lab's marked
    running), one chosen by its number; asked once per command."""
    meta = _meta()
    key = f"netknit.picked {where}"
    if key in meta:
        picked: Path = meta[key]
        return picked
    from .engine import find_labs

    try:
        running = {lab.topology.resolve() for lab in find_labs() if lab.topology}
    except (NetknitError, OSError):
        running = set()  # the list still helps without the marks
    lines = [f"Several topology files in {where}, select one:"]
    lines += [f"  {i}. {p.name}{' (running)' if p.resolve() in running else ''}"
              for i, p in enumerate(found, 1)]
    sys.stderr.write("\n".join(lines) + "\nNumber (ENTER aborts): ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip()
    if not (answer.isdigit() and 1 <= int(answer) <= len(found)):
        raise UsageError("no topology file chosen", hint="pick one with -t FILE")
    chosen = meta[key] = found[int(answer) - 1]
    _note(f"using topology file {chosen.name}")
    return chosen


def _stdin_topology() -> Path:
    """The topology read from stdin, kept where containerlab keeps it (``/tmp/.clab``)."""
    meta = _meta()
    if "netknit.stdin" not in meta:
        data = sys.stdin.buffer.read()
        if not data.strip():
            raise UsageError("-t -: stdin holds no topology",
                             hint="pipe the file in: netknit deploy -t - < lab.clab.yml")
        meta["netknit.stdin"] = _kept_topology(data)
    path: Path = meta["netknit.stdin"]
    return path


def _kept_topology(data: bytes) -> Path:
    """A topology that is no local file (stdin's, a URL's), kept where containerlab keeps
    it (``/tmp/.clab``), named by its content: the same file twice is the same lab."""
    import tempfile

    from ._digest import sha256
    from .state import SafeDir

    name = f"topo-{sha256(data).hexdigest()[:12]}.clab.yml"
    base = Path(tempfile.gettempdir())
    with SafeDir.at(base, check=False) as tmp, tmp.subdir(".clab", create=True) as clab:
        if not clab.exists(name):
            clab.write_atomic(name, data)
    return base / ".clab" / name


#: the largest topology file netknit downloads
_MAX_REMOTE_TOPOLOGY = 16 << 20


#: seconds a topology download may take
_DOWNLOAD_TIMEOUT = 60.0


def _topology_url(given: str) -> str | None:
    """containerlab's remote topology: an http(s) URL, or one without its scheme
    (``host.example/path``, https then; a dot in the host and none after it, as
    containerlab tells a URL from a path). None: not a URL."""
    if given.startswith(("http://", "https://")):
        return given
    host, slash, rest = given.partition("/")
    if slash and "." in host and "." not in rest and not host.startswith(".") \
            and not any(c.isspace() for c in given):
        return f"https://{given}"
    return None


def _url_topology(url: str) -> Path:
    """The topology at ``url``, downloaded (once per command) and kept as stdin's is."""
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    if host == "github.com" or "gitlab" in host:
        raise UsageError(f"{url} is a repository page: netknit downloads topology files, "
                         "it does not clone repositories (containerlab does)",
                         hint="git clone the repository and give its file with -t FILE, or "
                         "give the file's raw URL (raw.githubusercontent.com/...)")
    meta = _meta()
    key = f"netknit.url {url}"
    if key not in meta:
        meta[key] = _kept_topology(_download(url))
    path: Path = meta[key]
    return path


def _download(url: str) -> bytes:
    import urllib.error
    import urllib.request

    hint = "check the URL, or download the file and give it with -t FILE"
    try:
        with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT) as response:
            data: bytes = response.read(_MAX_REMOTE_TOPOLOGY + 1)
    except urllib.error.HTTPError as exc:
        raise UsageError(f"cannot download the topology {url}: HTTP {exc.code} {exc.reason}",
                         hint=hint) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise UsageError(f"cannot download the topology {url}: {reason}", hint=hint) from None
    if len(data) > _MAX_REMOTE_TOPOLOGY:
        raise UsageError(f"the topology at {url} is larger than "
                         f"{_MAX_REMOTE_TOPOLOGY >> 20} MiB: not a topology file", hint=hint)
    if not data.strip():
        raise UsageError(f"the topology at {url} is empty", hint=hint)
    return data


def _deployed_topology(name: str) -> Path:
    """The topology file of the lab called ``name`` that is deployed here (``--name``)."""
    from .engine import find_labs

    labs = [lab for lab in find_labs(name) if lab.topology is not None]
    if not labs:
        raise UsageError(f"no lab called {name!r} is deployed here",
                         hint="give its topology file with -t FILE")
    if len(labs) > 1:
        shown = ", ".join(str(lab.topology) for lab in labs)
        raise UsageError(f"{len(labs)} labs called {name!r} are deployed here ({shown})",
                         hint="pick one with -t FILE")
    assert labs[0].topology is not None
    return labs[0].topology


def _lab_name(path: Path) -> str:
    """The lab's name: ``--name`` if given (containerlab's override), else the file's."""
    from .topology import lab_name

    return _global("name") or lab_name(path)


def _deployed_runtime(topo_name: str, path: Path) -> str | None:
    """``netns`` for a lab whose state names no Docker node: it was deployed on
    namespaces only (``--runtime netns`` for linux nodes)."""
    from .state import DEFAULT_RUNTIME, LabDir

    try:
        state = LabDir.for_lab(topo_name, path).read_state()
        if state.runtimes <= {DEFAULT_RUNTIME}:
            return "netns"
    except (OSError, ValueError):
        pass
    return None


def _load(topo_arg: str | None, topo_opt: str | None, runtime: str | None = None,
          mgmt: dict[str, str] | None = None) -> Topology:
    from .topology import load

    if topo_arg and topo_opt and topo_arg != topo_opt:
        raise UsageError("topology given twice (argument and -t)", hint="give it once")
    topo = load(find_topology(topo_opt or topo_arg), runtime=runtime, name=_global("name"),
                mgmt=mgmt)
    for notice in topo.notices:
        _note(notice)
    return topo


def _load_deployed(topo_arg: str | None, topo_opt: str | None) -> Topology:
    """Load a deployed lab's file the way it was deployed (see :func:`_deployed_runtime`)."""
    path = find_topology(topo_opt or topo_arg)
    return _load(str(path), None, _deployed_runtime(_lab_name(path), path))


def _lab_dir(topo: Topology) -> Any:
    from .state import LabDir

    return LabDir.for_lab(topo.name, topo.path)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except NetknitError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        _console(stderr=True).print("interrupted")
        sys.exit(130)


class _Reporter:
    """Progress on a terminal; quiet otherwise (or with --quiet), but for transfers (image
    pulls): a line every few seconds in a log."""

    #: seconds between a transfer's plain lines (no terminal)
    EVERY = 10.0

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console = console
        self.quiet = not enabled
        self.enabled = enabled and console.is_terminal
        self._progress: Any = None
        self._task: Any = None
        self._transfers: dict[str, Any] = {}  # name -> task id, or time of its last line

    def __enter__(self) -> _Reporter:
        if self.enabled:
            from rich import filesize
            from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn
            from rich.text import Text

            class Count(ProgressColumn):
                """n/total, or bytes for a transfer."""

                def render(self, task: Any) -> Text:
                    done, total = int(task.completed), int(task.total or 0)
                    if task.fields.get("bytes"):
                        return Text(f"{filesize.decimal(done)}/{filesize.decimal(total)}")
                    return Text(f"{done}/{total}")

            console = self.console
            if isinstance(console, _LazyConsole):
                console = console.real()  # rich's own objects get the Console itself
            self._progress = Progress(TextColumn("{task.description:>14}"), BarColumn(),
                                      Count(), console=console, transient=True)
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def step(self, name: str, total: int) -> None:
        if self._progress is not None:
            self._task = self._progress.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def note(self, message: str) -> None:
        if _log_level() <= _LOG_LEVELS["info"]:
            self.console.print(f"[cyan]note:[/] {message}")

    def transfer(self, name: str, status: str, done: int, total: int) -> None:
        ended = status in ("done", "failed")
        if self._progress is not None:
            task = self._transfers.get(name)
            if task is None and not ended:
                task = self._transfers[name] = self._progress.add_task(
                    f"{status} {name}", total=total or None, bytes=True)
            if task is not None and ended:
                self._progress.remove_task(task)
                del self._transfers[name]
            elif task is not None:
                self._progress.update(task, description=f"{status} {name}", completed=done,
                                      total=total or None)
        elif not self.quiet and not ended:
            now = time.monotonic()
            if now - self._transfers.setdefault(name, now) >= self.EVERY:
                self._transfers[name] = now
                of = f" of {total / 1e6:.1f} MB" if total else ""
                self.console.print(f"{name}: {status}, {done / 1e6:.1f} MB{of}")

    def exec_output(self, result: ExecResult) -> None:
        if not self.enabled:
            return
        colour = "green" if result.returncode == 0 else "red"
        self.console.print(f"[{colour}]exec[/] {result.node}: {result.command} "
                           f"(exit {result.returncode})")


def _print_containers(rows: list[ContainerDetails], fmt: str, *, all_labs: bool = False,
                      wide: bool = False) -> None:
    """containerlab's ``inspect`` output: a table, ``{"<lab>": [rows]}`` or CSV."""
    if fmt == "json":
        grouped: dict[str, list[dict[str, str]]] = {}
        for row in rows:
            grouped.setdefault(row.lab_name, []).append(row.to_json())
        _echo(json.dumps(grouped, indent=2) if grouped else "{}")
        return
    if fmt == "csv":
        _echo(",".join(_CSV_HEADER))
        for row in rows:
            _echo(",".join(row.to_json().get(key, "") for key in _CSV_HEADER))
        return
    if not rows:
        _note("no containers found")
        return
    from rich import box
    from rich.table import Table

    table = Table(box=box.ROUNDED, show_lines=True, header_style="bold")
    head = [*(["Topology", "Lab Name"] if all_labs else []), *(["Owner"] if wide else []),
            "Name", "Kind/Image", "State", "IPv4/6 Address"]
    for col in head:
        table.add_column(col, justify="center" if col == "Lab Name" else "left",
                         overflow="fold")
    sep = " " if wide else "\n"
    for row in rows:
        status = f"({row.status})" if row.status else ""
        cells = [row.name, sep.join(x for x in (row.kind, row.image) if x),
                 sep.join(x for x in (row.state, status) if x),
                 sep.join(_without_prefix(a) for a in (row.ipv4_address, row.ipv6_address))]
        table.add_row(*([row.lab_path, row.lab_name] if all_labs else []),
                      *([row.owner] if wide else []), *cells)
    _console().print(table)


#: containerlab's CSV columns (cmd/inspect.go printContainerInspectCSV)
_CSV_HEADER = ("lab_name", "labPath", "absLabPath", "name", "container_id", "image", "kind",
               "state", "status", "ipv4_address", "ipv6_address", "owner")


def _without_prefix(address: str) -> str:
    return address if address == "N/A" else address.split("/", 1)[0]


_LOG_LEVELS = {"trace": 5, "debug": 10, "info": 20, "warning": 30, "error": 40, "fatal": 50}


def _global(name: str) -> Any:
    """The value of a global flag (``name``, ``timeout``, ``log_level``), None if unset."""
    return _meta().get(f"netknit.{name}")


def _log_level() -> int:
    return _LOG_LEVELS.get(_global("log_level") or "info", 20)


def _note(message: str) -> None:
    """An informational line on stderr (hidden by ``--log-level warning`` and above)."""
    if _log_level() <= _LOG_LEVELS["info"]:
        _labelled("note", "cyan", message)


def _warn(message: str) -> None:
    """A warning on stderr (hidden by ``--log-level error`` and above)."""
    if _log_level() <= _LOG_LEVELS["warning"]:
        _labelled("warning", "yellow", message)


#: containerlab's flags netknit takes but cannot honour, and why.
_UNHONOURED = {
    "--export-template": "netknit writes topology-data.json in containerlab's shape and "
    "renders no Go templates",
    "--owner": "netknit keeps no lab owner (containerlab's clab_admins group)",
    "--restore-all": "netknit takes no container snapshots",
    "--restore": "netknit takes no container snapshots",
}


def _unhonoured(given: dict[str, object]) -> None:
    """A warning for each containerlab flag given that netknit cannot honour: a script
    written for containerlab runs, and says what it did not get."""
    for flag, value in given.items():
        if value:
            _warn(f"{flag} is ignored: {_UNHONOURED[flag]}")


def _dry_run(topo: Topology, lab_dir: Any, host: str | None, fmt: str) -> None:
    """``deploy --dry-run``: containerlab's apply plan (``-f json``: its keys), and for
    a lab that is not deployed, the plan's objects."""
    from .engine import planned_change
    from .plan import build

    plan = build(topo, host)
    change = planned_change(lab_dir, plan)
    if fmt == "json":
        out: dict[str, Any] = {"dry-run": True, "deployed-lab": change is None,
                               "lab-name": topo.name}
        if change is not None:
            out.update(change.to_json())
        _echo(json.dumps(out, indent=2))
    elif change is None:
        _console().print(f"lab {topo.name!r} is not deployed: deploy would create")
        _print_plan_rows(topo.name, host, _plan_rows(plan))
    else:
        _print_change(topo.name, change, dry_run=True)


def _print_change(lab: str, change: Any, *, dry_run: bool) -> None:
    """containerlab's apply table: one row per action and name."""
    from rich import box
    from rich.table import Table

    table = Table(title="Apply plan" if dry_run else "Apply summary", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("action")
    table.add_column("details", overflow="fold")
    data = change.to_json()
    reasons = data["node-change-reasons"]
    for label, key in (("added nodes", "added-nodes"), ("deleted nodes", "deleted-nodes"),
                       ("recreated nodes", "recreated-nodes"), ("added links", "added-links"),
                       ("removed links", "removed-links"),
                       ("changed interfaces", "changed-interfaces")):
        for value in data[key]:
            table.add_row(label, f"{value} ({reasons[value]})" if value in reasons and
                          key == "recreated-nodes" else value)
    if change.empty:
        table.add_row("no changes", "-")
    _console().print(table)


def _which_host(topo: Topology, host: str | None, console: Console) -> str | None:
    """The host to deploy: the one given, or the one whose address this machine has."""
    if host is not None and not topo.hosts:
        raise NetknitError(f"--host {host}: the lab has no hosts: map; every node is "
                           "deployed here", hint="leave out --host")
    if host is not None or not topo.hosts:
        return host
    from .engine import which_host

    found = which_host(topo)
    console.print(f"[cyan]note:[/] deploying host {found}'s part "
                  f"({topo.hosts[found].address} is configured here)")
    return found


def _print_plan_rows(lab: str, host: str | None, rows: list[dict[str, str]]) -> None:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, show_edge=False,
                  title=f"lab {lab}" + (f", host {host}" if host else ""))
    for col in ("what", "name", "where", "details"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(row["what"], row["name"], row["where"], row["details"])
    _console().print(table)


def _plan_rows(the_plan: Any) -> list[dict[str, str]]:
    """One row per object a plan creates, in plan order."""
    from .links import describe
    from .plan import CreateNode, EnsureBridge

    rows = []
    for action in the_plan.actions.values():
        if isinstance(action, CreateNode):
            node = action.node
            kind = "container" if node.container else "namespace"
            rows.append({"what": kind, "name": node.name, "where": node.netns or "",
                         "details": node.container.name if node.container else ""})
        elif isinstance(action, EnsureBridge):
            rows.append({"what": "bridge", "name": action.name, "where": "host",
                         "details": f"mtu {action.mtu}" if action.mtu else ""})
        elif (row := describe(action)) is not None:
            rows.append(row)  # a link's: its type words it
    return rows


def _print_exec(result: ExecResult, console: Console) -> None:
    colour = "green" if result.returncode == 0 else "red"
    console.print(f"[{colour}]{result.node}[/] $ {result.command}  (exit {result.returncode})")
    for text in (result.output, result.stderr):
        if text.strip():
            console.print(text.rstrip(), markup=False, highlight=False)


def _node_list(values: tuple[str, ...]) -> list[str]:
    """containerlab's string slices: repeated flags, each maybe a comma list."""
    return [n for item in values for n in item.split(",") if n]


def _destroy_one(topo_arg: str | None, topo_opt: str | None, nodes: list[str], *,
                 cleanup: bool, graceful: bool, quiet: bool, keep_mgmt_net: bool,
                 max_workers: int | None) -> None:
    from . import engine
    from .state import LabDir

    if topo_arg and topo_opt and topo_arg != topo_opt:
        raise UsageError("topology given twice (argument and -t)", hint="give it once")
    if not (topo_arg or topo_opt or nodes) and (found := _lab_without_file()) is not None:
        _destroy_found(found, cleanup=cleanup, graceful=graceful, quiet=quiet,
                       keep_mgmt_net=keep_mgmt_net, max_workers=max_workers)
        return
    path = find_topology(topo_opt or topo_arg)
    # destroy needs the name only (the journal knows the rest): the deploy's note has it
    # for an unchanged file, which spares parsing it
    name = _global("name") or engine.deployed_from(path) or _lab_name(path)
    lab_dir = LabDir.for_lab(name, path)
    console = _console(stderr=True)
    with _Reporter(console, not quiet) as reporter:
        if nodes:
            result = engine.destroy_nodes(name, lab_dir, nodes, graceful=graceful,
                                          reporter=reporter, max_workers=max_workers)
        else:
            result = engine.destroy(name, lab_dir, cleanup=cleanup, graceful=graceful,
                                    reporter=reporter, keep_mgmt_net=keep_mgmt_net,
                                    max_workers=max_workers)
    if quiet:
        return
    if result.nothing_to_do:
        console.print(f"lab {name!r} is not deployed: nothing to destroy")
    else:
        what = _counted(result.removed)
        which = f"nodes {', '.join(nodes)} of lab" if nodes else "lab"
        console.print(f"{which} {name!r} destroyed in {result.seconds:.2f}s (removed {what})")


def _counted(removed: dict[str, int]) -> str:
    """``{"container": 3, "netns": 1}`` -> "3 containers, 1 netns" (destroy's summary)."""
    plural = {"netns": "netns", "process": "processes", "hosts": "/etc/hosts blocks"}
    singular = {"hosts": "/etc/hosts block"}
    words = [f"{n} {singular.get(k, k) if n == 1 else plural.get(k, k + 's')}"
             for k, n in sorted(removed.items())]
    return ", ".join(words) or "nothing"


def _lab_without_file() -> FoundLab | None:
    """``destroy --name LAB`` of a lab built in Python (``netknit.Lab``): deployed from
    no file, it is found by its mark and its note alone (None: not such a lab)."""
    from . import engine

    name = _global("name")
    labs = engine.find_labs(name) if name else []
    if not labs or any(lab.topology is not None for lab in labs):
        return None  # a file's lab, or none: find_topology says which
    if len(labs) > 1:
        shown = ", ".join(str(lab.lab_dir.path if lab.lab_dir else "?") for lab in labs)
        raise UsageError(f"{len(labs)} labs called {name!r} are deployed here ({shown})",
                         hint="destroy them all with `netknit destroy --all`, or each from "
                         "Python: netknit.Lab(name, labdir_base=...).destroy()")
    return labs[0]


def _destroy_found(lab: FoundLab, *, cleanup: bool, graceful: bool, quiet: bool,
                   keep_mgmt_net: bool, nodes: Sequence[str] = (),
                   max_workers: int | None = None) -> None:
    """Destroy a lab found by its mark (``nodes``: only those, as --node-filter)."""
    from . import engine

    console = _console(stderr=True)
    with _Reporter(console, not quiet) as reporter:
        if nodes:
            if lab.lab_dir is None or lab.name is None:
                raise StateError(f"lab {lab.name or lab.mark!r}: its lab directory is gone, "
                                 "so its nodes cannot be told apart",
                                 hint="destroy the whole lab: `netknit destroy --all` "
                                 "without --node-filter")
            result = engine.destroy_nodes(lab.name, lab.lab_dir, nodes, graceful=graceful,
                                          reporter=reporter, max_workers=max_workers)
        else:
            result = engine.destroy_found(lab, cleanup=cleanup, graceful=graceful,
                                          keep_mgmt_net=keep_mgmt_net, reporter=reporter,
                                          max_workers=max_workers)
    if not quiet:
        what = _counted(result.removed)
        which = f"nodes {', '.join(nodes)} of lab" if nodes else "lab"
        console.print(f"{which} {lab.name!r} destroyed in {result.seconds:.2f}s "
                      f"(removed {what})")


def _destroy_all(nodes: Sequence[str], *, cleanup: bool, graceful: bool, yes: bool,
                 quiet: bool, keep_mgmt_net: bool, max_workers: int | None) -> None:
    """containerlab's `destroy --all`: the labs are listed and, on a terminal without
    --yes, the user confirms with y or yes; anything else aborts, nothing removed.
    ``nodes`` (--node-filter): only those nodes of each lab, as containerlab applies the
    filter to each; a lab without one of them fails, and the others go on."""
    from . import engine

    console = _console(stderr=True)
    labs = engine.find_labs()
    if not labs:
        if not quiet:
            console.print("no netknit labs found")
        return
    if not yes and sys.stdin.isatty():
        console.print("The following labs will be removed:")
        for i, lab in enumerate(labs, 1):
            where = lab.lab_dir.path if lab.lab_dir else "unknown (found by its mark)"
            console.print(f"  {i}. Lab: {lab.name or '?'}\n     Topology: "
                          f"{lab.topology or 'unknown'}\n     Lab Dir: {where}")
        console.print("[bold red]Are you sure you want to remove all labs listed above? "
                      "Enter 'y', to confirm or ENTER to abort:[/] ", end="")
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise NetknitError("aborted by the user. No labs were removed")
    failed: list[str] = []
    for lab in labs:
        try:
            _destroy_found(lab, cleanup=cleanup, graceful=graceful, quiet=quiet,
                           keep_mgmt_net=keep_mgmt_net, nodes=nodes, max_workers=max_workers)
        except NetknitError as exc:
            console.print(f"[bold red]error:[/] lab {lab.name or lab.mark!r}: {exc.message}")
            failed.append(lab.name or lab.mark)
    if failed:
        raise NetknitError(f"could not destroy every lab: {', '.join(failed)}",
                           hint="fix the causes shown, then run `netknit destroy --all` again")


def _lab_rows(topo: Topology, lab_dir: Any) -> list[ContainerDetails]:
    """containerlab's rows of a lab known by its topology."""
    from . import engine

    note = engine.noted_lab(topo.name, lab_dir)
    return engine.containers(engine.inspect(topo.name, lab_dir), topo,
                             owner=note.owner if note else "")


def _graph_text(topo: Topology, fmt: str, nodes: list[str] | None = None,
                direction: str = "TD") -> tuple[str, str]:
    """The file name containerlab gives an export of ``topo`` (``lab.clab.dot``), and
    its text."""
    from . import graph as drawn

    data = drawn.graph_data(topo)
    if nodes:
        data = drawn.only_nodes(data, nodes)
    stem = topo.path.name.rsplit(".", 1)[0] if topo.path else topo.name  # lab.clab
    text = drawn.export(fmt, data, graph_name=stem, direction=direction)
    return f"{stem}{drawn.SUFFIXES[fmt]}", text


def _write_graph(topo: Topology, name: str, text: str, output: str | None) -> None:
    """To ``output``, else where containerlab writes it: the lab directory's graph/, a
    draw.io file beside the topology file (as clab-io-draw does)."""
    from .state import write_atomic

    if output is not None:
        where = Path(output)
    elif name.endswith(".drawio") and topo.path is not None:
        where = topo.path.parent / name
    else:
        with _lab_dir(topo).open("graph", create=True) as directory:
            directory.write_atomic(name, text.encode())
            where = directory.path / name
        _note(f"wrote {where}")
        return
    write_atomic(where, text.encode())
    _note(f"wrote {where}")


def deploy(topo_arg: str | None, topo_opt: str | None, runtime: str | None,
           max_workers: int | None,
           sandbox_image: str | None, reconfigure: bool, node_filter: tuple[str, ...],
           skip_post_deploy: bool, dry_run: bool, host: str | None, quiet: bool,
           fmt: str, graph: bool, network: str | None, ipv4_subnet: str | None,
           ipv6_subnet: str | None, export_rendered: str | None, skip_labdir_acl: bool,
           export_template: str | None, owner: str | None, restore_all: str | None,
           restore: tuple[str, ...]) -> None:
    """``netknit deploy`` (its flags: :func:`netknit.cli.deploy`)."""
    with _errors():
        from . import engine

        if dry_run and reconfigure:
            raise UsageError("--dry-run cannot be combined with --reconfigure: reconfigure "
                             "always destroys and redeploys the full lab",
                             hint="leave out one of them")
        _unhonoured({"--export-template": export_template, "--owner": owner,
                     "--restore-all": restore_all, "--restore": restore})
        if export_rendered:
            from .state import write_atomic
            from .topology import rendered

            path = find_topology(topo_opt or topo_arg)
            write_atomic(Path(export_rendered), rendered(path).encode())
        mgmt = {key: value for key, value in (("network", network),
                                              ("ipv4-subnet", ipv4_subnet),
                                              ("ipv6-subnet", ipv6_subnet)) if value}
        topo = _load(topo_arg, topo_opt, runtime, mgmt)
        lab_dir = _lab_dir(topo)
        console = _console(stderr=True)
        host = _which_host(topo, host, console)
        names = [n.strip() for entry in node_filter for n in entry.split(",") if n.strip()]
        if names:
            from .topology import only

            if not reconfigure and "deployed" in lab_dir.journal.read().markers:
                raise UsageError(f"--node-filter is not supported when lab {topo.name!r} is "
                                 "deployed: nodes the filter leaves out would be removed",
                                 hint="leave out the filter, or add --reconfigure")
            topo = only(topo, names)
        if dry_run:
            _dry_run(topo, lab_dir, host, fmt)
            return
        if reconfigure:
            engine.destroy(topo.name, lab_dir, cleanup=True)
        with _Reporter(console, not quiet) as reporter:
            result = engine.deploy(topo, lab_dir=lab_dir, max_workers=max_workers,
                                   reporter=reporter, sandbox_image=sandbox_image, host=host,
                                   skip_post_deploy=skip_post_deploy)
        for r in result.exec_results:
            if not quiet or r.returncode:
                _print_exec(r, console)
        if result.already_deployed:
            console.print(f"lab {topo.name!r} is already deployed from this file: nothing to do")
        elif result.change is not None:
            if not quiet and fmt == "table":
                _print_change(topo.name, result.change, dry_run=False)
            if not quiet:
                console.print(f"lab {topo.name!r} changed in {result.seconds:.2f}s; "
                              f"lab directory {lab_dir.path}")
        elif not quiet:
            on = f" on host {host}" if host else ""
            console.print(f"lab {topo.name!r} deployed{on} in {result.seconds:.2f}s "
                          f"({len(result.plan.nodes)} nodes, "
                          f"{len(result.plan.link_actions())} links); "
                          f"lab directory {lab_dir.path}")
        if not quiet or fmt == "json":
            _print_containers(_lab_rows(topo, lab_dir), fmt)
        if graph:
            _write_graph(topo, *_graph_text(topo, "dot"), None)
        if result.exec_failures:
            console.print(f"[yellow]warning:[/] {len(result.exec_failures)} exec command(s) "
                          "failed (see above)")


def destroy(topo_arg: str | None, topo_opt: str | None, cleanup: bool, graceful: bool,
            all_labs: bool, yes: bool, node_filter: tuple[str, ...], keep_mgmt_net: bool,
            quiet: bool, max_workers: int | None) -> None:
    """``netknit destroy`` (its flags: :func:`netknit.cli.destroy`)."""
    with _errors():
        nodes = _node_list(node_filter)
        if cleanup and nodes:
            raise UsageError("--cleanup cannot be used with --node-filter")
        if all_labs:
            _destroy_all(nodes, cleanup=cleanup, graceful=graceful, yes=yes, quiet=quiet,
                         keep_mgmt_net=keep_mgmt_net, max_workers=max_workers)
            return
        _destroy_one(topo_arg, topo_opt, nodes, cleanup=cleanup, graceful=graceful,
                     quiet=quiet, keep_mgmt_net=keep_mgmt_net, max_workers=max_workers)
