"""Command line: argument parsing and presentation only; the work is in the layers.

Flags and environment follow containerlab where it has them: ``-t/--topo`` (or the path
as the first argument, or the single ``*.clab.yml`` of the current directory), ``CLAB_TOPO``,
``--max-workers``, ``--reconfigure``, ``destroy --cleanup``, ``inspect --format json``,
``CLAB_LABDIR_BASE``; every flag can also come from ``CLAB_<COMMAND>_<FLAG>``.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import __version__
from ._errors import NetknitError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from .engine import LabView
    from .runtimes import ExecResult
    from .topology import Topology

_TOPO_SUFFIXES = (".clab.yml", ".clab.yaml")


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    # emoji off: MACs like 7e:cd:6e would otherwise print a ":cd:" emoji
    console = Console(stderr=stderr, highlight=False, soft_wrap=False, emoji=False)
    if not console.is_terminal and "COLUMNS" not in __import__("os").environ:
        console.width = 160  # pipes and logs: do not squeeze tables into 80 columns
    return console


def _fail(exc: NetknitError) -> NoReturn:
    err = _console(stderr=True)
    err.print(f"[bold red]error:[/] {exc.message}", markup=True, highlight=False)
    if exc.hint:
        err.print(f"[yellow]hint:[/] {exc.hint}")
    sys.exit(exc.exit_code)


def find_topology(given: str | None) -> Path:
    """The topology file: as given, the single ``*.clab.yml`` of a directory, or of cwd.

    Anything that is not a directory is returned as it is: loading it refuses what is not
    a regular file (a FIFO, /dev/null) without opening it for reading.
    """
    path = Path(given) if given else Path.cwd()
    try:
        is_dir = stat.S_ISDIR(path.stat().st_mode)
    except OSError as exc:
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
                         hint="give one with -t FILE")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise UsageError(f"several topology files in {where}: {names}",
                         hint="pick one with -t FILE")
    return found[0]


def _load(topo_arg: str | None, topo_opt: str | None, runtime: str | None = None) -> Topology:
    from .topology import load

    if topo_arg and topo_opt and topo_arg != topo_opt:
        raise UsageError("topology given twice (argument and -t)", hint="give it once")
    topo = load(find_topology(topo_opt or topo_arg), runtime=runtime)
    err = _console(stderr=True)
    for notice in topo.notices:
        err.print(f"[cyan]note:[/] {notice}")
    return topo


def _load_deployed(topo_arg: str | None, topo_opt: str | None) -> Topology:
    """Load a deployed lab's file the way it was deployed: a lab whose state names no
    Docker node was deployed on namespaces only (``--runtime netns`` for linux nodes)."""
    from .state import DEFAULT_RUNTIME, LabDir
    from .topology import lab_name

    path = find_topology(topo_opt or topo_arg)
    runtime: str | None = None
    try:
        state = LabDir.for_lab(lab_name(path), path).read_state()
        if state.runtimes <= {DEFAULT_RUNTIME}:
            runtime = "netns"
    except (OSError, ValueError):
        pass
    return _load(str(path), None, runtime)


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


topo_option = click.option(
    "-t", "--topo", "topo_opt", envvar="CLAB_TOPO", metavar="FILE",
    help="Topology file (or a directory holding one *.clab.yml). Default: the single "
    "*.clab.yml in the current directory. Env: CLAB_TOPO.",
)
topo_argument = click.argument("topo_arg", required=False, metavar="[TOPOLOGY]")
format_option = click.option(
    "-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table",
    show_default=True, help="Output format; json is stable for scripts.",
)


host_option = click.option(
    "--host", "host", metavar="NAME", default=None,
    help="In a lab that spans machines (`hosts:`), the host whose part to work on. "
    "Default: the host whose address is configured on this machine.",
)


class _Reporter:
    """Progress on a terminal; quiet otherwise (or with --quiet)."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled and console.is_terminal
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Reporter:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(TextColumn("{task.description:>14}"), BarColumn(),
                                      MofNCompleteColumn(), console=self.console, transient=True)
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
        self.console.print(f"[cyan]note:[/] {message}")

    def exec_output(self, result: ExecResult) -> None:
        if not self.enabled:
            return
        colour = "green" if result.returncode == 0 else "red"
        self.console.print(f"[{colour}]exec[/] {result.node}: {result.command} "
                           f"(exit {result.returncode})")


def _print_lab(view: LabView, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(view.to_json(), indent=2))
        return
    from rich.table import Table

    console = _console()
    if not view.nodes:
        console.print(f"lab {view.lab!r} is not deployed")
        return
    from rich import box

    table = Table(title=f"lab {view.lab}", title_justify="left", box=box.SIMPLE_HEAD,
                  padding=(0, 1), collapse_padding=True, pad_edge=False, show_edge=False)
    narrow = console.width < 100  # a plain 80-column terminal: kind is in --format json
    for col in ("node", "kind", "state", "interface", "mac", "mtu", "addresses", "peer"):
        if col == "kind" and narrow:
            continue
        table.add_column(col, no_wrap=col in ("node", "interface", "mac", "mtu", "addresses"),
                         overflow="fold")
    for node in view.nodes:
        state = node.state if node.cmd == "-" else f"{node.state}, cmd {node.cmd}"
        first = [node.name, state] if narrow else [node.name, node.kind, state]
        rows = node.interfaces or []
        if not rows:
            table.add_row(*first, "", "", "", "", "")
        for k, i in enumerate(rows):
            st = i.state if not i.drift else f"[red]{', '.join(i.drift)}[/]"
            cells = [i.name + ("" if i.state == "up" else f" ({st})"), i.mac, str(i.mtu),
                     "\n".join(i.addresses), i.peer]
            table.add_row(*(first if k == 0 else [""] * len(first)), *cells)
    console.print(table)


@click.group(context_settings={"help_option_names": ["-h", "--help"],
                               "auto_envvar_prefix": "CLAB"})
@click.version_option(__version__, "-v", "--version", prog_name="netknit")
def main() -> None:
    """netknit wires network namespaces and containers together from one
    containerlab-style topology file: race-free, crash-safe and fast.

    \b
    Typical session:
      netknit deploy -t examples/quickstart.clab.yml
      netknit inspect -t examples/quickstart.clab.yml
      netknit exec -t examples/quickstart.clab.yml --node h1 -- ping -c1 10.0.0.2
      netknit destroy -t examples/quickstart.clab.yml --cleanup

    \b
    A lab across machines (nodes with `host:`, a top-level `hosts:` map):
      netknit plan -t lab.clab.yml --host A     # what host A will create
      netknit deploy -t lab.clab.yml --host A   # on A; then --host B on B
    """
    if os.geteuid() == 0:
        # under `ip netns exec` the lab's namespaces must still land in the host's
        # /run/netns, or they die with this command
        from .kernel._mounts import join_host_mounts

        join_host_mounts()


@main.command()
@topo_argument
@topo_option
@click.option("-r", "--runtime", type=click.Choice(["netns", "docker"]), default=None,
              help="Node runtime. `netns` wires containerlab `kind: linux` nodes as bare "
              "namespaces (image ignored). Default: each node's own kind.")
@click.option("--max-workers", type=click.IntRange(1, 256), default=8, show_default=True,
              help="How many nodes are worked on at once.")
@click.option("--sandbox-image", metavar="IMAGE", default=None,
              help="Image of the containers that hold Docker nodes' namespaces (start-strategy "
              "sandbox). Default: the topology's `sandbox-image`, else netknit/sandbox:2, "
              "built locally from Debian's busybox-static when missing.")
@click.option("--reconfigure", is_flag=True,
              help="Destroy the lab first if it is deployed (containerlab's flag).")
@host_option
@click.option("-q", "--quiet", is_flag=True, help="No progress and no table.")
@format_option
def deploy(topo_arg: str | None, topo_opt: str | None, runtime: str | None, max_workers: int,
           sandbox_image: str | None, reconfigure: bool, host: str | None, quiet: bool,
           fmt: str) -> None:
    """Create every namespace, link and address of a lab, then start its nodes.

    Validates the whole file before touching the machine. Deploying a lab that is
    already deployed from the same file changes nothing. A failed deploy removes what it
    made; after a crash, `netknit destroy` removes exactly what was made.
    """
    with _errors():
        from . import engine

        topo = _load(topo_arg, topo_opt, runtime)
        lab_dir = _lab_dir(topo)
        console = _console(stderr=True)
        host = _which_host(topo, host, console)
        if reconfigure:
            engine.destroy(topo.name, lab_dir)
        with _Reporter(console, not quiet) as reporter:
            result = engine.deploy(topo, lab_dir=lab_dir, max_workers=max_workers,
                                   reporter=reporter, sandbox_image=sandbox_image, host=host)
        for r in result.exec_results:
            if not quiet or r.returncode:
                _print_exec(r, console)
        if result.already_deployed:
            console.print(f"lab {topo.name!r} is already deployed from this file: nothing to do")
        elif not quiet:
            on = f" on host {host}" if host else ""
            console.print(f"lab {topo.name!r} deployed{on} in {result.seconds:.2f}s "
                          f"({len(result.plan.nodes)} nodes, "
                          f"{len(result.plan.link_actions())} links); "
                          f"lab directory {lab_dir.path}")
        if not quiet or fmt == "json":
            _print_lab(engine.inspect(topo.name, lab_dir), fmt)
        if result.exec_failures:
            console.print(f"[yellow]warning:[/] {len(result.exec_failures)} exec command(s) "
                          "failed (see above)")


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


@main.command()
@topo_argument
@topo_option
@click.option("-r", "--runtime", type=click.Choice(["netns", "docker"]), default=None,
              help="As for deploy.")
@host_option
@format_option
def plan(topo_arg: str | None, topo_opt: str | None, runtime: str | None, host: str | None,
         fmt: str) -> None:
    """Show what deploy would create on this (or the given) host, without touching the
    machine: namespaces, bridges, links with their ends, and for VXLAN links the VNI,
    remote, local address, port and MTU. Needs no root.

    In a lab that spans machines, --host is required (there is nothing to detect it from
    without looking at the machine).
    """
    with _errors():
        from .plan import build

        topo = _load(topo_arg, topo_opt, runtime)
        rows = _plan_rows(build(topo, host))
        if fmt == "json":
            click.echo(json.dumps({"lab": topo.name, "host": host, "items": rows}, indent=2))
            return
        from rich import box
        from rich.table import Table

        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, show_edge=False,
                      title=f"lab {topo.name}" + (f", host {host}" if host else ""))
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
    if result.output.strip():
        console.print(result.output.rstrip(), markup=False, highlight=False)


@main.command()
@topo_argument
@topo_option
@click.option("-c", "--cleanup", is_flag=True, help="Also delete the lab directory.")
@click.option("--keep-mgmt-net", is_flag=True,
              help="Keep the management network, even when no other lab uses it.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def destroy(topo_arg: str | None, topo_opt: str | None, cleanup: bool, keep_mgmt_net: bool,
            quiet: bool) -> None:
    """Remove exactly what deploy made (read from the lab's journal), nothing else.

    Works after a crashed or killed deploy, and on a lab that is already gone.
    """
    with _errors():
        from . import engine
        from .state import LabDir
        from .topology import lab_name

        if topo_arg and topo_opt and topo_arg != topo_opt:
            raise UsageError("topology given twice (argument and -t)", hint="give it once")
        path = find_topology(topo_opt or topo_arg)
        name = lab_name(path)  # destroy needs the name only: the journal knows the rest
        lab_dir = LabDir.for_lab(name, path)
        if quiet:
            engine.destroy(name, lab_dir, cleanup=cleanup, keep_mgmt_net=keep_mgmt_net)
            return
        console = _console(stderr=True)
        with _Reporter(console, True) as reporter:
            result = engine.destroy(name, lab_dir, cleanup=cleanup, reporter=reporter,
                                    keep_mgmt_net=keep_mgmt_net)
        if result.nothing_to_do:
            console.print(f"lab {name!r} is not deployed: nothing to destroy")
        else:
            what = ", ".join(f"{n} {k}" for k, n in sorted(result.removed.items())) or "nothing"
            console.print(f"lab {name!r} destroyed in {result.seconds:.2f}s (removed {what})")


@main.command()
@topo_argument
@topo_option
@format_option
def inspect(topo_arg: str | None, topo_opt: str | None, fmt: str) -> None:
    """Show every node and interface: what it should be and any drift from it."""
    with _errors():
        from . import engine

        topo = _load(topo_arg, topo_opt)
        _print_lab(engine.inspect(topo.name, _lab_dir(topo)), fmt)


@main.command(name="exec", context_settings={"ignore_unknown_options": True})
@topo_option
@click.option("--node", "nodes", multiple=True, metavar="NAME",
              help="Node to run in (repeatable). Default: every namespace node.")
@click.option("--cmd", "cmd", metavar="COMMAND", help="Command as one string (containerlab).")
@click.option("--timeout", type=float, default=None, help="Seconds before the command is killed.")
@format_option
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def exec_(topo_opt: str | None, nodes: tuple[str, ...], cmd: str | None,
          timeout: float | None, fmt: str, argv: tuple[str, ...]) -> None:
    """Run a command inside lab nodes:  netknit exec --node h1 -- ping -c1 10.0.0.2

    Exit status: the command's, or the first non-zero one when run in several nodes.
    """
    import shlex

    with _errors():
        from . import engine

        if cmd and argv:
            raise NetknitError("give the command once: --cmd STRING or after --")
        command = shlex.split(cmd) if cmd else list(argv)
        if not command:
            raise NetknitError("no command given", hint="netknit exec --node h1 -- ip -br addr")
        topo = _load(None, topo_opt)
        results = engine.exec_in(topo, nodes, command, timeout=timeout)
        if fmt == "json":
            from dataclasses import asdict

            click.echo(json.dumps([asdict(r) for r in results], indent=2))
        elif len(results) == 1:
            sys.stdout.write(results[0].output)
        else:
            console = _console()
            for r in results:
                _print_exec(r, console)
        codes = [r.returncode for r in results if r.returncode]
        sys.exit(codes[0] if codes else 0)


@main.command(name="cni-install", add_help_option=False,
              context_settings={"ignore_unknown_options": True})
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def cni_install(argv: tuple[str, ...]) -> None:
    """Generate 00-netknit.conflist around the primary CNI network (--help: options)."""
    from .cni.install import main as install_main

    sys.exit(install_main(list(argv)))


@main.command()
@click.option("--intf", "intf", metavar="NAMES",
              help="Interfaces to wait for, comma-separated (default: $NETKNIT_INTFS, "
              "else $CLAB_INTFS eth* interfaces).")
@click.option("--timeout", type=click.IntRange(0, None), default=30, show_default=True,
              help="Seconds to wait.")
@click.option("--print-script", is_flag=True,
              help="Print the same wait as a POSIX sh script, for images without netknit.")
def wait(intf: str | None, timeout: int, print_script: bool) -> None:
    """Wait until this namespace's lab interfaces exist (for containers netknit did not
    start).  Exit status: 0 ready, 1 timeout (missing interfaces listed), 2 usage.
    """
    import os
    import time

    if print_script:
        from importlib import resources

        sys.stdout.write(resources.files("netknit.data").joinpath("wait.sh").read_text())
        return
    names = [n for n in (intf or os.environ.get("NETKNIT_INTFS", "")).split(",") if n]
    count = os.environ.get("CLAB_INTFS", "")
    if not names and not count.isdigit():
        click.echo("netknit wait: give --intf NAMES or set NETKNIT_INTFS / CLAB_INTFS", err=True)
        sys.exit(2)

    def missing() -> list[str]:
        # /proc/net/dev is this namespace's list (/sys/class/net may be another's)
        with open("/proc/net/dev", encoding="ascii", errors="replace") as f:
            have = {line.split(":", 1)[0].strip() for line in f if ":" in line}
        if names:
            return [n for n in names if n not in have]
        eth = sum(1 for n in have if n.startswith("eth"))
        return [f"{int(count) - eth} of {count} eth* interfaces"] if eth < int(count) else []

    deadline = time.monotonic() + timeout
    while (left := missing()):
        if time.monotonic() >= deadline:
            click.echo(f"netknit wait: timeout after {timeout}s; missing: {' '.join(left)}",
                       err=True)
            sys.exit(1)
        time.sleep(0.05)


def _run_reconcile(topo_arg: str | None, topo_opt: str | None, fmt: str, *,
                   dry_run: bool = False, restart: str | None = None) -> NoReturn:
    with _errors():
        from . import engine

        topo = _load_deployed(topo_arg, topo_opt)
        result = engine.reconcile(topo, _lab_dir(topo), dry_run=dry_run, restart=restart)
        _print_drift(result, fmt)
        sys.exit(1 if result.failed else 0)


def _print_drift(result: Any, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps({"lab": result.lab, "dry_run": result.dry_run,
                               "drifts": [d.to_json() for d in result.drifts]}, indent=2))
        return
    console = _console()
    if not result.drifts:
        console.print(f"lab {result.lab!r} is in sync: nothing to do")
        return
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, show_edge=False)
    for col in ("node", "found", "action", "status"):
        table.add_column(col, overflow="fold")
    for d in result.drifts:
        colour = "green" if d.status == "repaired" else "yellow" if d.status == "planned" \
            else "red"
        table.add_row(d.node, d.found, d.action, f"[{colour}]{d.status}[/]")
    console.print(table)


@main.command()
@topo_argument
@topo_option
@click.option("--dry-run", is_flag=True, help="Only report the drift; change nothing.")
@format_option
def reconcile(topo_arg: str | None, topo_opt: str | None, dry_run: bool, fmt: str) -> None:
    """Repair what differs from the deployed lab: lost namespaces and links (recreated
    the way deploy makes them), MAC, MTU, up state, addresses, bridge ports, stopped cmd.

    Exit status: 0 in sync or repaired, 1 if something could not be repaired.
    """
    _run_reconcile(topo_arg, topo_opt, fmt, dry_run=dry_run)


@main.command()
@topo_argument
@topo_option
@click.option("--node", required=True, metavar="NAME", help="The node to restart.")
@format_option
def restart(topo_arg: str | None, topo_opt: str | None, node: str, fmt: str) -> None:
    """Restart one node: stop its workload, remove its namespace, and bring it back with
    all its links (peer ends included), addresses and cmd, through the reconcile path."""
    _run_reconcile(topo_arg, topo_opt, fmt, restart=node)


@main.command()
@topo_argument
@topo_option
@click.option("--once", is_flag=True, help="Repair until the lab is in sync, then exit.")
def watch(topo_arg: str | None, topo_opt: str | None, once: bool) -> None:
    """Repair drift as it happens (foreground; logs to stderr; stops on Ctrl-C/SIGTERM).

    Listens to link and address events in the host and in every node namespace, and
    re-checks every 2 s: a lost link, address, MTU, MAC or namespace comes back the way
    deploy made it. A failed repair is retried with backoff; the watcher keeps going.
    """
    import logging

    with _errors():
        from .engine._watch import watch as run_watch

        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(message)s")
        topo = _load_deployed(topo_arg, topo_opt)
        sys.exit(run_watch(topo, _lab_dir(topo), once=once))


if __name__ == "__main__":
    main()
