"""Command line: argument parsing and presentation only; the work is in the layers.

Flags and environment follow containerlab where it has them: ``-t/--topo`` (or the path
as the first argument, or the single ``*.clab.yml`` of the current directory, or ``-`` for
stdin), ``CLAB_TOPO``, ``--max-workers``, ``--reconfigure``, ``destroy --cleanup``,
``inspect --format json``, ``CLAB_LABDIR_BASE``; every flag can also come from
``CLAB_<COMMAND>_<FLAG>``. containerlab's global flags (``--name``, ``--timeout``,
``--log-level``, ``-d``) are accepted before or after the command, and its aliases
(``dep``, ``des``, ``ins``, ``i``, ...) name the same commands.

Start-up is most of a small lab's time, so a command imports what it needs inside its
function (``from . import engine``, ``from .topology import load``, rich only through
:func:`_console` or inside the printing function), never at module level: every command
pays for what this module imports (``bench/startup.py`` measures it). What ``deploy`` and
``destroy`` do, and the helpers every command shares, are in :mod:`netknit._commands`,
which imports no click: the launcher runs those two commands' usual lines without this
module (:mod:`netknit._fastargv`, whose table :func:`fast_spec` derives from here).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import click

from . import __version__, _commands
from ._commands import (
    _LOG_LEVELS,
    _TOPO_SUFFIXES,
    _console,
    _deployed_runtime,
    _errors,
    _fail,
    _global,
    _graph_text,
    _lab_dir,
    _lab_rows,
    _labelled,
    _load,
    _load_deployed,
    _node_list,
    _note,
    _plan_rows,
    _print_containers,
    _print_exec,
    _print_plan_rows,
    _Reporter,
    _warn,
    _write_graph,
)
from ._errors import NetknitError, StateError, UsageError

if TYPE_CHECKING:
    from .engine import ContainerDetails, FoundLab, NodeView
    from .runtimes import ExecResult
    from .topology import Topology


topo_option = click.option(
    "-t", "--topo", "topo_opt", envvar="CLAB_TOPO", metavar="FILE",
    help="Topology file (a directory holding one *.clab.yml; `-`: stdin; an http(s) URL: "
    "downloaded). Default: the single *.clab.yml in the current directory. Env: CLAB_TOPO.",
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


def _print_interfaces(nodes: list[NodeView], fmt: str) -> None:
    """containerlab's ``inspect interfaces`` (every interface of each node's namespace)
    with netknit's view: addresses, the peer, and how it drifted from the deployed lab."""
    if fmt == "json":
        click.echo(json.dumps([n.to_json() for n in nodes], indent=2))
        return
    if not nodes:
        _note("no containers found")
        return
    from rich import box
    from rich.table import Table

    from .engine._marks import MARK_WORD

    table = Table(box=box.ROUNDED, header_style="bold")
    for col in ("Container Name", "Name", "Alias", "MAC", "Index", "MTU", "Type", "State",
                "Addresses", "Drift"):
        table.add_column(col, overflow="fold", no_wrap=col in ("Name", "MAC", "Addresses"))
    for node in nodes:
        head = node.container + (f" ({node.state})" if node.state != "running" else "")
        if node.drift:
            head += f"\n[red]{', '.join(node.drift)}[/]"
        if not node.interfaces:
            table.add_row(head, *[""] * 9)
        for k, i in enumerate(node.interfaces):
            # netknit's mark (the lab's identity) is no name for people: JSON has it
            alias = "N/A" if not i.alias or i.alias.startswith(MARK_WORD) else i.alias
            state = i.operstate
            colour = "green" if state == "up" else "red" if "down" in state or \
                state == "missing" else "yellow"
            table.add_row(head if k == 0 else "", i.name, alias, i.mac,
                          str(i.ifindex or ""), str(i.mtu), i.type, f"[{colour}]{state}[/]",
                          "\n".join(i.addresses), f"[red]{', '.join(i.drift)}[/]")
        table.add_section()
    _console().print(table)


# -- containerlab's global flags, aliases, and the help ----------------------------------

#: alias -> command (containerlab's); an alias whose command does not exist is unknown
ALIASES = {"dep": "deploy", "des": "destroy", "ins": "inspect", "i": "inspect",
           "rdep": "redeploy", "int": "interfaces", "intf": "interfaces"}

#: one example per command, shown under its line in `netknit --help` and in its own help
EXAMPLES = {
    "deploy": "netknit deploy -t lab.clab.yml",
    "destroy": "netknit destroy -t lab.clab.yml --cleanup",
    "redeploy": "netknit redeploy -t lab.clab.yml",
    "start": "netknit start -t lab.clab.yml -n r1",
    "stop": "netknit stop -t lab.clab.yml -n r1,r2",
    "restart": "netknit restart -t lab.clab.yml --node r1",
    "inspect": "netknit inspect -t lab.clab.yml -f json   (--all: every lab here)",
    "interfaces": "netknit inspect interfaces -t lab.clab.yml -n r1",
    "exec": "netknit exec -t lab.clab.yml --label clab-node-kind=linux --cmd 'ip -br a'",
    "plan": "netknit plan -t lab.clab.yml",
    "reconcile": "netknit reconcile -t lab.clab.yml --dry-run",
    "watch": "netknit watch -t lab.clab.yml",
    "wait": "netknit wait --intf eth1,eth2 --timeout 60",
    "cni-install": "netknit cni-install --help",
    "version": "netknit version -j",
    "completion": "source <(netknit completion bash)",
}


class _Duration(click.ParamType):  # type: ignore[type-arg]
    """containerlab's durations (``30s``, ``2m30s``, ``1h``, ``500ms``), or seconds."""

    name = "duration"
    _UNITS: ClassVar[dict[str, float]] = {
        "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        import re

        if isinstance(value, int | float):
            seconds = float(value)
        else:
            text = str(value).strip()
            parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", text)
            if re.fullmatch(r"\d+(?:\.\d*)?", text):
                seconds = float(text)
            elif parts and "".join(n + u for n, u in parts) == text:
                seconds = sum(float(n) * self._UNITS[u] for n, u in parts)
            else:
                self.fail(f"{value!r} is not a duration (e.g. 30s, 2m30s, 1h, or seconds)",
                          param, ctx)
        if seconds <= 0:
            self.fail("zero or negative timeouts are not allowed", param, ctx)
        return seconds


def _set_global(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is None or (value == 0 and param.name == "debug"):
        return value
    key = "log_level" if param.name == "debug" else str(param.name)
    value = "debug" if param.name == "debug" else value
    ctx.meta[f"netknit.{key}"] = value
    if key == "timeout":
        from .runtimes import set_api_timeout

        set_api_timeout(value)
    elif key == "log_level":
        import logging

        logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
        logging.getLogger().setLevel(_LOG_LEVELS[value])
    return value


_GLOBAL_OPTIONS: list[click.Option] = []


def _global_options() -> list[click.Option]:
    """containerlab's persistent flags: accepted before the command and after it. Made
    once and shared by every command (click keeps a parse's values in its context, none
    in an option): making them for each of ~30 commands cost ~3 ms of every start."""
    if not _GLOBAL_OPTIONS:
        _GLOBAL_OPTIONS.extend(_make_global_options())
    return list(_GLOBAL_OPTIONS)


def _make_global_options() -> list[click.Option]:
    return [
        click.Option(["--name"], metavar="LAB", envvar="CLAB_NAME", expose_value=False,
                     callback=_set_global, help="Lab name: without -t, the deployed lab of "
                     "that name (its file is found by its mark); with -t, the lab's name "
                     "instead of the file's."),
        click.Option(["--timeout"], type=_Duration(), envvar="CLAB_TIMEOUT",
                     expose_value=False, callback=_set_global, help="Timeout of requests "
                     "to container engines (e.g. 30s, 2m30s; default 2m), and the time a "
                     "workload gets to end after its stop signal (stop, destroy "
                     "--graceful); on exec, of each command."),
        click.Option(["--log-level"], type=click.Choice(list(_LOG_LEVELS),
                     case_sensitive=False), metavar="LEVEL", envvar="CLAB_LOG_LEVEL",
                     expose_value=False, callback=_set_global, help="trace, debug, info "
                     "(default), warning, error or fatal; warning and above hide notes."),
        click.Option(["-d", "--debug"], count=True, expose_value=False,
                     callback=_set_global, help="Debug logging (as --log-level debug)."),
        click.Option(["-r", "--runtime"], metavar="RUNTIME", expose_value=False,
                     envvar="CLAB_RUNTIME", callback=_foreign_global,
                     help="containerlab's container runtime: netknit finds each lab's "
                     "runtimes itself (Docker, netns); on deploy, netns or docker."),
        click.Option(["--vars"], metavar="FILE", multiple=True, expose_value=False,
                     envvar="CLAB_VARS", callback=_foreign_global,
                     help="containerlab's variables for Go templates: ignored (netknit "
                     "renders no templates)."),
    ]


def _foreign_global(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """containerlab's global -r and --vars, taken so that its scripts run; a warning where
    what they ask is not what netknit does."""
    if param.name == "vars" and value:
        _warn("--vars is ignored: netknit renders no Go templates (a file with {{ }} is "
              "refused on that line)")
    elif param.name == "runtime" and value and value not in ("docker", "netns"):
        _warn(f"--runtime {value} is ignored: netknit runs containers on Docker, and "
              "finds the runtimes of a deployed lab itself")
    return value


class _Group(click.Group):
    """A command group with containerlab's aliases and global flags on every command."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        own = {opt for param in cmd.params for opt in param.opts}
        # a command's own flag of the same name wins (`wait --timeout` is wait's)
        cmd.params += [opt for opt in _global_options() if not set(opt.opts) & own]
        example = EXAMPLES.get(name or cmd.name or "")
        if example and not cmd.epilog:
            cmd.epilog = f"\b\nExample:\n  {example}"
        super().add_command(cmd, name)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in ALIASES:
            return super().get_command(ctx, ALIASES[cmd_name])
        return found

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command on one line (with its aliases), and an example under it."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            aliases = [a for a, target in ALIASES.items() if target == name]
            line = cmd.get_short_help_str(limit=100)
            rows.append((name + (f" ({', '.join(aliases)})" if aliases else ""), line,
                         EXAMPLES.get(name, "")))
        if not rows:
            return
        width = max(len(name) for name, _, _ in rows) + 2
        with formatter.section("Commands"):
            pad = " " * formatter.current_indent
            for name, line, example in rows:
                formatter.write(f"{pad}{name:<{width}}{line}\n")
                if example:
                    formatter.write(f"{pad}{'':<{width}}  e.g. {example}\n")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"],
                                          "auto_envvar_prefix": "CLAB"},
             params=_global_options())
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
    _commands.join_host()


@main.command()
@topo_argument
@topo_option
@click.option("-r", "--runtime", type=click.Choice(["netns", "docker"]), default=None,
              help="Node runtime. `netns` wires containerlab `kind: linux` nodes as bare "
              "namespaces (image ignored). Default: each node's own kind.")
@click.option("--max-workers", type=click.IntRange(1, 256), default=None,
              help="How many nodes are worked on at once. Default: 8; containers as many as "
              "the engine keeps up with (learned from its latencies, at most 64).")
@click.option("--sandbox-image", metavar="IMAGE", default=None,
              help="Image of the containers that hold Docker nodes' namespaces (start-strategy "
              "sandbox). Default: the topology's `sandbox-image`, else netknit/sandbox:2, "
              "built locally from Debian's busybox-static when missing.")
@click.option("-c", "--reconfigure", is_flag=True,
              help="Destroy the lab and remove its lab directory first, then deploy it afresh "
              "(containerlab's flag). Without it, a lab deployed from a changed file gets "
              "only the changes.")
@click.option("--node-filter", "node_filter", multiple=True, metavar="NODES",
              help="Deploy only these nodes (comma list, or the flag repeated) and the links "
              "between them. For a fresh deploy only, as in containerlab.")
@click.option("--skip-post-deploy", is_flag=True,
              help="Leave out the post-deploy work: the nodes' `exec:` commands.")
@click.option("--dry-run", is_flag=True,
              help="Print what deploy would do and do nothing: the plan of a lab that is not "
              "deployed, the changes to a deployed one.")
@host_option
@click.option("-q", "--quiet", is_flag=True, help="No progress and no table.")
@format_option
@click.option("-g", "--graph", is_flag=True,
              help="Also write the lab as a Graphviz dot file, as containerlab: "
              "<lab dir>/graph/<file name>.dot (`netknit graph` draws and serves it live).")
@click.option("--network", metavar="NAME", help="Management network name, instead of the "
              "file's mgmt.network (containerlab's flag).")
@click.option("-4", "--ipv4-subnet", metavar="CIDR", callback=lambda c, p, v: _cidr(v, 4, p),
              help="Management network IPv4 subnet, instead of the file's.")
@click.option("-6", "--ipv6-subnet", metavar="CIDR", callback=lambda c, p, v: _cidr(v, 6, p),
              help="Management network IPv6 subnet, instead of the file's.")
@click.option("--export-rendered", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the topology as netknit reads it (environment variables "
              "expanded) to FILE.")
@click.option("--skip-labdir-acl", is_flag=True,
              help="Accepted for containerlab's scripts: netknit sets no ACLs on the lab "
              "directory anyway.")
@click.option("--export-template", metavar="FILE", hidden=True)
@click.option("--owner", metavar="NAME", hidden=True)
@click.option("--restore-all", metavar="DIR", is_flag=False, flag_value="./snapshots",
              hidden=True)
@click.option("--restore", "restore", multiple=True, metavar="NODE=FILE", hidden=True)
def deploy(**flags: Any) -> None:
    """Create every namespace, link and address of a lab, then start its nodes.

    Validates the whole file before touching the machine. Deploying a lab that is
    already deployed from the same file changes nothing; from a changed file, only what
    differs is added, removed or changed (nodes, links, addresses, MTUs, MACs; a node
    whose image, env or cmd changed is recreated with its links), and the other nodes
    keep running untouched. A failed deploy removes what it made; after a crash,
    `netknit destroy` removes exactly what was made, and `deploy` finishes a change.

    Docker images are pulled first, as each node's `image-pull-policy` says
    (IfNotPresent by default; Always; Never), each within NETKNIT_PULL_TIMEOUT seconds
    (default 300).

    \b
    Example:
      netknit deploy -t lab.clab.yml --dry-run    # what would change
      netknit deploy -t lab.clab.yml              # apply it
    """
    _commands.deploy(**flags)


def _cidr(value: str | None, version: int, param: click.Parameter) -> str | None:
    """A subnet flag's value, refused as containerlab's flag parsing refuses it."""
    if value is None:
        return None
    import ipaddress

    try:
        if ipaddress.ip_network(value, strict=False).version == version:
            return value
    except ValueError:
        pass
    raise click.BadParameter(f"{value!r} is not an IPv{version} subnet (e.g. "
                             f"{'172.20.20.0/24' if version == 4 else '3fff:172:20:20::/64'})",
                             param=param)


@main.command(short_help="Show what deploy would create, without touching the machine.")
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
        _print_plan_rows(topo.name, host, rows)


@main.command()
@topo_argument
@topo_option
@click.option("-c", "--cleanup", is_flag=True,
              help="Also delete the lab directory. Cannot be used with --node-filter.")
@click.option("--graceful", is_flag=True,
              help="Stop each workload (its stop signal, then up to --timeout, default 2m) "
              "before removing it.")
@click.option("-a", "--all", "all_labs", is_flag=True,
              help="Destroy every netknit lab on this machine (found by the marks and "
              "labels its objects carry).")
@click.option("-y", "--yes", is_flag=True,
              help="With --all: no confirmation prompt (asked only on a terminal).")
@click.option("--node-filter", "node_filter", multiple=True, metavar="NAMES",
              help="Destroy only these nodes (comma-separated or repeated); the rest of the "
              "lab keeps running.")
@click.option("--keep-mgmt-net", is_flag=True,
              help="Keep the management network, even when no other lab uses it.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--max-workers", "max_workers", type=click.IntRange(0), default=None,
              metavar="N", help="At most N objects removed at once (default and 0: 8).")
def destroy(**flags: Any) -> None:
    """Remove exactly what deploy made (read from the lab's journal), nothing else.

    Works after a crashed or killed deploy, and on a lab that is already gone.

    \b
    Examples:
      netknit destroy -t lab.clab.yml --cleanup
      netknit destroy --all -y
      netknit destroy -t lab.clab.yml --node-filter r1,r2
    """
    _commands.destroy(**flags)


#: deploy's and destroy's flags that redeploy (containerlab's) does not take
_NOT_ON_REDEPLOY = frozenset({"reconfigure", "dry_run", "node_filter"})
#: flags both take where deploy's is redeploy's: its checks (1-256 workers) hold, and
#: destroy gets the same value
_DEPLOYS_ON_REDEPLOY = frozenset({"max_workers"})


def _redeploy_params() -> list[click.Parameter]:
    """destroy's flags, then deploy's (a name or flag destroy has already is destroy's:
    ``-c`` is --cleanup, as in containerlab; but destroy's hidden ones, which it only
    takes with a warning, the global ones deploy has of its own, and
    ``_DEPLOYS_ON_REDEPLOY`` are deploy's: ``-r/--runtime``, ``--max-workers``)."""
    params: list[click.Parameter] = []
    names: set[str | None] = set()
    flags: set[str] = set()
    # deploy's own flags win over the global ones destroy carries (deploy's -r/--runtime)
    deploys = {o for p in deploy.params if p.expose_value for o in (*p.opts, *p.secondary_opts)}
    for command in (destroy, deploy):
        for param in command.params:
            own = set(param.opts) | set(param.secondary_opts)
            if param.name in _NOT_ON_REDEPLOY or param.name in names or own & flags or \
                    (command is destroy and getattr(param, "hidden", False)) or \
                    (command is destroy and param.name in _DEPLOYS_ON_REDEPLOY) or \
                    (command is destroy and not param.expose_value and own & deploys):
                continue
            params.append(param)
            names.add(param.name)
            flags |= own
    return params


@click.pass_context
def _redeploy(ctx: click.Context, /, **given: Any) -> None:
    for command in (destroy, deploy):
        own = {p.name for p in command.params if p.expose_value}  # not the global flags
        ctx.invoke(command, **{k: v for k, v in given.items() if k in own})


main.add_command(click.Command(
    "redeploy", callback=_redeploy, params=_redeploy_params(),
    help="Destroy a lab, then deploy it again (containerlab's redeploy): destroy's flags "
    "(-c/--cleanup, --graceful, -a/--all) and deploy's.\n\n"
    "Example:  netknit redeploy -t lab.clab.yml --cleanup",
    short_help="Destroy a lab, then deploy it again."))


class _InspectGroup(_Group):
    """``inspect [TOPOLOGY]`` and ``inspect interfaces``: a word that names a subcommand
    is the subcommand (wherever it stands), any other the topology file."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = list(args)
        at = _first_positional(self, args)
        if at is not None:
            word = args.pop(at)
            if self.get_command(ctx, word) is not None:
                args.insert(0, word)  # `inspect -t x interfaces`: -t belongs to interfaces
            else:
                args[at:at] = ["--topology-arg", word]
        return super().parse_args(ctx, args)


def _first_positional(cmd: click.Command, args: list[str]) -> int | None:
    """Where the first argument that is no option (nor an option's value) stands."""
    takes_value = {opt for p in cmd.params if isinstance(p, click.Option)
                   and not p.is_flag and not p.count for opt in p.opts}
    skip = False
    for at, arg in enumerate(args):
        if skip:
            skip = False
        elif arg == "--":
            return at + 1 if at + 1 < len(args) else None
        elif not arg.startswith("-") or arg == "-":
            return at
        elif arg in takes_value:
            skip = True
    return None


def _found_rows(lab: FoundLab) -> list[ContainerDetails]:
    """containerlab's rows of a lab found on the machine by its mark."""
    from . import engine
    from .topology import load

    if lab.lab_dir is None:
        _note(f"lab {lab.name!r}: its objects carry its mark, but nothing says where its "
              "files are: `netknit destroy -t` with its topology file removes them")
        return []
    topo = None
    if lab.topology is not None:
        try:
            topo = load(lab.topology, name=lab.name,
                        runtime=_deployed_runtime(lab.name, lab.topology))
        except NetknitError:
            _note(f"lab {lab.name!r}: cannot read {lab.topology}: showing what its "
                  "state records")
    try:
        view = engine.inspect(lab.name, lab.lab_dir)
    except NetknitError as exc:  # one lab's engine being down must not hide the others
        _note(f"lab {lab.name!r} not shown: {exc.message}")
        return []
    return engine.containers(view, topo, topology=lab.topology, owner=lab.owner)


@main.group(cls=_InspectGroup, invoke_without_command=True)
@topo_option
@click.option("--topology-arg", "topo_arg", hidden=True)
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json", "csv"]),
              default="table", show_default=True,
              help="Output format; json and csv as containerlab prints them.")
@click.option("-a", "--all", "all_labs", is_flag=True,
              help="Every lab deployed on this machine (found by the labs' marks).")
@click.option("--details", is_flag=True,
              help="Everything netknit knows of each node (JSON, grouped by lab).")
@click.option("-w", "--wide", is_flag=True, help="One line per node, with its owner.")
@click.pass_context
def inspect(ctx: click.Context, topo_opt: str | None, topo_arg: str | None, fmt: str,
            all_labs: bool, details: bool, wide: bool) -> None:
    """List a lab's nodes: name, kind, image, state, management addresses.

    \b
    The lab: -t (or the topology as argument, or the *.clab.yml of the current
    directory), --name LAB (every deployed lab of that name), or --all.
    `inspect interfaces` shows each node's interfaces and their drift.
    """
    if ctx.invoked_subcommand is not None:
        return
    with _errors():
        from . import engine

        if topo_opt or topo_arg or not (all_labs or _global("name")):
            topo = _load(topo_arg, topo_opt)
            rows = _lab_rows(topo, _lab_dir(topo))
            if not rows:
                _note(f"lab {topo.name!r} is not deployed")
        else:
            rows = [row for lab in engine.find_labs(None if all_labs else _global("name"),
                                                     reporter=_Reporter(_console(True), False))
                    for row in _found_rows(lab)]
        if details:
            _print_details(rows)
        else:
            _print_containers(rows, fmt, all_labs=all_labs, wide=wide)


def _print_details(rows: list[ContainerDetails]) -> None:
    """``--details``: each node's row with netknit's view of it (JSON, grouped by lab)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row.lab_name, []).append({**row.to_json(), **row.details})
    click.echo(json.dumps(grouped, indent=2))


@inspect.command(name="interfaces")
@topo_argument
@topo_option
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format; json is containerlab's, with "
              "netknit's keys added.")
@click.option("-n", "--node", "node", metavar="NODE",
              help="Only this node (its name, or its container's).")
def interfaces(topo_arg: str | None, topo_opt: str | None, fmt: str, node: str | None) -> None:
    """Show each node's interfaces and their drift from the deployed lab.

    Every interface of the node's namespace as containerlab lists it (name, alias, MAC,
    index, MTU, type, state), with netknit's view: addresses, peer, and drift (missing,
    down, no carrier, a wrong MAC, MTU or address)."""
    with _errors():
        from . import engine

        topo = _load(topo_arg, topo_opt)
        nodes = engine.inspect(topo.name, _lab_dir(topo), every=True).nodes
        if node is not None:
            nodes = [n for n in nodes if node in (n.name, n.container)]
            if not nodes:
                raise UsageError(f"no node {node!r} in lab {topo.name!r}",
                                 hint=f"nodes: {', '.join(topo.nodes)}")
        _print_interfaces(sorted(nodes, key=lambda n: n.container), fmt)


@main.command(name="exec", context_settings={"ignore_unknown_options": True})
@topo_option
@click.option("--cmd", "cmds", multiple=True, metavar="COMMAND",
              help="Command as one string (repeatable: each runs in turn).")
@click.option("--label", "labels", multiple=True, metavar="KEY[=VALUE]",
              help="Only nodes with this label (repeatable, or comma-separated): the "
              "node's own labels and containerlab's (clab-node-name, clab-node-kind, "
              "clab-node-group, containerlab=<lab>).")
@click.option("--node", "nodes", multiple=True, metavar="NAME",
              help="Node to run in (repeatable). Default: every namespace node.")
@click.option("-f", "--format", "fmt", type=click.Choice(["plain", "json", "table"]),
              default="plain", show_default=True,
              help="json: containerlab's {container: [{cmd, return-code, stdout, stderr}]}.")
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def exec_(topo_opt: str | None, cmds: tuple[str, ...], labels: tuple[str, ...],
          nodes: tuple[str, ...], fmt: str, argv: tuple[str, ...]) -> None:
    """Run commands inside lab nodes.

    \b
    The lab: -t, --name LAB, the *.clab.yml of the current directory, or else every
    lab deployed here (pick nodes with --label, as containerlab does).
      netknit exec --node h1 -- ping -c1 10.0.0.2
      netknit exec --label clab-node-kind=linux --cmd 'ip -br a' --cmd 'ip r' -f json
    Exit status: the first failing command's (0 when all succeed).
    """
    import shlex

    with _errors():
        from . import engine

        if cmds and argv:
            raise UsageError("give the commands as --cmd STRING or after --, not both")
        try:
            commands = [shlex.split(c) for c in cmds] or ([list(argv)] if argv else [])
        except ValueError as exc:
            raise UsageError(f"--cmd: {exc}") from None
        if not commands or not all(commands):
            raise UsageError("provide command to execute",
                             hint="netknit exec --node h1 --cmd 'ip -br addr'")
        wanted = _label_filter(labels)
        done: list[tuple[str, list[str], ExecResult]] = []
        for topo, names in _exec_targets(topo_opt, nodes, wanted):
            for name in names:
                for command in commands:
                    done += [(topo.full_name(name), command, result) for result in
                             engine.exec_in(topo, [name], command, separate=fmt == "json",
                                            timeout=_global("timeout"))]
        _print_exec_results(done, fmt)
        codes = [r.returncode for _, _, r in done if r.returncode]
        sys.exit(codes[0] if codes else 0)


def _label_filter(labels: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """``--label`` values: (key, value) pairs, or (key, None) for "has this label"."""
    out: list[tuple[str, str | None]] = []
    for item in (part.strip() for given in labels for part in given.split(",")):
        key, eq, value = item.partition("=")
        if not key or "=" in value:
            raise UsageError(f"--label {item!r}: expected KEY=VALUE or KEY")
        out.append((key, value if eq else None))
    return out


def _exec_targets(topo_opt: str | None, nodes: tuple[str, ...],
                  wanted: list[tuple[str, str | None]]) -> list[tuple[Topology, list[str]]]:
    """The labs to run in, each with its chosen nodes (in file order)."""
    from . import kinds
    from .plan import node_labels

    lab = _global("name")
    if topo_opt or (not lab and _topologies_in(Path.cwd())):
        labs = [_load_deployed(None, topo_opt)]
    else:  # --name: the labs of that name; neither: every lab here
        labs = _deployed_labs(lab)
    unknown = set(nodes)
    targets = []
    for topo in labs:
        chosen = []
        for name, node in topo.nodes.items():
            if not kinds.get(node.kind).own_namespace or (nodes and name not in nodes):
                continue
            unknown.discard(name)
            have = node_labels(topo, node)
            if all(have.get(k) == v if v is not None else k in have for k, v in wanted):
                chosen.append(name)
        if chosen:
            targets.append((topo, chosen))
    if unknown and len(labs) == 1:
        raise NetknitError(f"no node {sorted(unknown)[0]!r} in lab {labs[0].name!r}",
                           hint=f"nodes: {', '.join(labs[0].nodes)}")
    if not targets:
        raise NetknitError("no node matches: nothing to run", hint="check --node and --label "
                           "(`netknit inspect --all` lists the labs deployed here)")
    return targets


def _deployed_labs(name: str | None) -> list[Topology]:
    """The topologies of the labs deployed here (those called ``name``)."""
    from . import engine
    from .topology import load

    out = []
    for lab in engine.find_labs(name, reporter=_Reporter(_console(True), False)):
        if lab.topology is None:
            continue
        try:
            out.append(load(lab.topology, name=lab.name,
                            runtime=_deployed_runtime(lab.name, lab.topology)))
        except NetknitError as exc:
            _note(f"lab {lab.name!r}: cannot read {lab.topology} ({exc.message}): skipped")
    return out


def _topologies_in(directory: Path) -> bool:
    try:
        return any(p.name.endswith(_TOPO_SUFFIXES) for p in directory.iterdir())
    except OSError:
        return False


def _stdout_json(text: str) -> Any:
    """containerlab's Stdout: JSON output stays JSON, anything else is a string."""
    def refuse(word: str) -> Any:
        raise ValueError(word)  # NaN, Infinity: not JSON to Go

    try:
        return json.loads(text, parse_constant=refuse) if text.strip() else text
    except ValueError:
        return text


def _print_exec_results(done: list[tuple[str, list[str], ExecResult]], fmt: str) -> None:
    """One command's output (stdout and stderr together) as it is; several, each under
    its node and command; JSON keyed by container as containerlab's (ExecCollection),
    stdout and stderr apart."""
    if fmt == "json":
        grouped: dict[str, list[dict[str, Any]]] = {}
        for container, argv, result in done:
            grouped.setdefault(container, []).append({
                "cmd": argv, "return-code": result.returncode,
                "stdout": _stdout_json(result.output), "stderr": result.stderr})
        click.echo(json.dumps(dict(sorted(grouped.items())), indent=2))
    elif len(done) == 1:
        sys.stdout.write(done[0][2].output)  # stdout and stderr, as the node wrote them
    else:
        from dataclasses import replace

        console = _console()
        for container, _argv, result in done:
            _print_exec(replace(result, node=container), console)


@main.command()
@click.option("-s", "--short", is_flag=True, help="Print just the version number.")
@click.option("-j", "--json", "as_json", is_flag=True, help="Print version info as JSON.")
def version(short: bool, as_json: bool) -> None:
    """Show netknit's version (containerlab's fields with -j)."""
    # containerlab's keys; commit and date are what its builds print when not stamped
    info = {"version": __version__, "commit": "none", "date": "unknown", "repository": ""}
    if short:
        click.echo(__version__)
    elif as_json:
        click.echo(json.dumps(info, separators=(",", ":")))
    else:
        for key, label in (("version", "version"), ("commit", "commit"), ("date", "date")):
            click.echo(f"{label:>11}: {info[key]}")


@main.command(context_settings={"ignore_unknown_options": False})
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script (bash, zsh or fish).

    \b
    Bash:  source <(netknit completion bash)
           netknit completion bash > /etc/bash_completion.d/netknit
    Zsh:   netknit completion zsh > "${fpath[1]}/_netknit"
    fish:  netknit completion fish | source
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # the choice allows only the shells click knows
    click.echo(cls(main, {}, "netknit", "_NETKNIT_COMPLETE").source())


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
                   dry_run: bool = False) -> NoReturn:
    with _errors():
        from . import engine

        topo = _load_deployed(topo_arg, topo_opt)
        result = engine.reconcile(topo, _lab_dir(topo), dry_run=dry_run)
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


@main.command(short_help="Repair what differs from the deployed lab (--dry-run: report).")
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


def _lifecycle_command(verb: str, short: str, summary: str, example: str) -> None:
    """containerlab's start/stop/restart: ``-n/--node`` repeatable or comma-separated."""

    @main.command(name=verb, help=f"{summary}\n\nExample:  {example}", short_help=short)
    @topo_argument
    @topo_option
    @click.option("-n", "--node", "nodes", multiple=True, metavar="NAMES",
                  help=f"Node(s) to {verb} (repeatable or comma-separated). If omitted, "
                  f"{verb} all nodes.")
    @format_option
    def command(topo_arg: str | None, topo_opt: str | None, nodes: tuple[str, ...],
                fmt: str) -> None:
        with _errors():
            from . import engine

            names = [n for item in nodes for n in item.split(",") if n]
            topo = _load_deployed(topo_arg, topo_opt)
            result = getattr(engine, verb)(topo, _lab_dir(topo), names)
            if fmt == "json":
                click.echo(json.dumps(result.to_json(), indent=2))
            else:
                console = _console()
                for note in result.notes:
                    _labelled("note", "cyan", note)
                for name, what in result.done.items():
                    console.print(f"node {name}: {what}")
                if result.repair is not None and result.repair.failed:
                    _print_drift(result.repair, fmt)
            sys.exit(1 if result.failed else 0)


_lifecycle_command(
    "stop", "Stop nodes; their link ends are parked, the peers keep theirs.",
    "Stop nodes of a deployed lab; their link ends are parked (the peer keeps its "
    "side, addresses and all), and reconcile and watch leave them stopped.",
    "netknit stop -t lab.clab.yml -n r1,r2")
_lifecycle_command(
    "start", "Start stopped nodes, with all their links back.",
    "Start stopped nodes: each comes back with all its links (parked ends "
    "re-attached, the rest made again), addresses and cmd; hooks marked on-restart run.",
    "netknit start -t lab.clab.yml -n r1")
_lifecycle_command(
    "restart", "Restart nodes (all when -n is left out), links kept.",
    "Restart nodes: stop, then start (workload and namespace), links kept.",
    "netknit restart -t lab.clab.yml -n r1 -n r2")


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


# -- graph -------------------------------------------------------------------------------


@main.command(short_help="Draw the lab: a live page on 127.0.0.1:50080, or --offline, "
              "--mermaid, --dot, --drawio.",
              epilog="\b\nExamples:\n  netknit graph -t lab.clab.yml\n"
              "  netknit graph -t lab.clab.yml --drawio --output -")
@topo_argument
@topo_option
@click.option("-s", "--srv", default="127.0.0.1:50080", show_default=True,
              metavar="HOST:PORT", help="Address of the page's HTTP server. This machine "
              "only by default (containerlab binds 0.0.0.0:50080): 0.0.0.0:50080 serves "
              "every address; :PORT is 127.0.0.1:PORT.")
@click.option("-o", "--offline", is_flag=True, help="Write the page as one HTML file "
              "(scripts, styles and data inline), from the topology file only, instead "
              "of serving it.")
@click.option("--dot", is_flag=True, help="Write the graph in Graphviz's dot format.")
@click.option("--mermaid", is_flag=True, help="Write the graph as a mermaid flowchart.")
@click.option("--mermaid-direction", default="TD", show_default=True, metavar="DIR",
              help="Direction of the mermaid flowchart: TB, TD, BT, RL or LR.")
@click.option("--drawio", is_flag=True, help="Write a draw.io (diagrams.net) diagram: "
              "positions from the nodes' labels graph-posX/graph-posY, else a row per group.")
@click.option("--output", metavar="FILE", help="Where --offline, --mermaid, --dot and "
              "--drawio write (`-`: stdout). Default, as containerlab: "
              "clab-<lab>/graph/<file>.html|.mermaid|.dot, and <file>.drawio beside the "
              "topology file.")
@click.option("--template", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="An HTML page to serve instead of netknit's, with containerlab's "
              "fields {{ .Name }} and {{ .Data }}.")
@click.option("--static-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Serve /static/ from this directory (with --template).")
@click.option("--node-filter", "node_filter", multiple=True, metavar="NODES",
              help="Only these nodes (comma-separated or repeated) and the links between them.")
def graph(topo_arg: str | None, topo_opt: str | None, srv: str, offline: bool, dot: bool,
          mermaid: bool, mermaid_direction: str, drawio: bool, output: str | None,
          template: Path | None, static_dir: Path | None,
          node_filter: tuple[str, ...]) -> None:
    """Draw the lab, as containerlab's graph does: a page that follows the lab live, or
    the lab written as one HTML file, a mermaid flowchart, a dot graph or a draw.io file.

    The page (http://127.0.0.1:50080 by default: this machine only) groups the nodes by
    group, else kind, and labels links with their interface names. Link and node states,
    addresses and drift come from what `inspect interfaces` sees, each second: a link is
    up, down, drifted, being repaired (by reconcile or watch) or stopped. Click a node
    for its interfaces, MACs, addresses and management address. Everything the page
    needs ships with netknit: nothing is fetched from the network.
    """
    with _errors():
        from . import graph as drawn

        chosen = [name for name, on in (("offline", offline), ("dot", dot),
                                        ("mermaid", mermaid), ("drawio", drawio)) if on]
        if len(chosen) > 1:
            raise UsageError(f"--{' and --'.join(chosen)} cannot be combined",
                             hint="give one of them")
        if static_dir is not None and template is None:
            raise UsageError("--static-dir needs --template", hint="or leave it out")
        if mermaid_direction not in drawn.MERMAID_DIRECTIONS:
            raise UsageError(f"--mermaid-direction {mermaid_direction!r} is not a direction",
                             hint=f"one of {', '.join(drawn.MERMAID_DIRECTIONS)}")
        nodes = _node_list(node_filter) or None
        if not chosen:
            _serve_graph(_load_deployed(topo_arg, topo_opt), srv, nodes, template, static_dir)
            return
        topo = _load(topo_arg, topo_opt)
        name, text = _graph_text(topo, chosen[0], nodes, mermaid_direction)
        if output == "-":
            click.echo(text, nl=False)
            return
        _write_graph(topo, name, text, output)


def _serve_graph(topo: Topology, srv: str, nodes: list[str] | None, template: Path | None,
                 static_dir: Path | None) -> None:
    """Serve the page until Ctrl-C or SIGTERM."""
    import signal
    import threading

    from .graph import default_template
    from .graph._live import sampler
    from .graph._server import Snapshots, make_server

    snapshots = Snapshots(sampler(topo, _lab_dir(topo)), nodes)
    server = make_server(srv, snapshots, static_dir=static_dir,
                         template=template.read_text() if template else default_template())
    host, port = str(server.server_address[0]), server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    _note(f"serving the graph of lab {topo.name!r} on http://{shown}:{port} (Ctrl-C stops)")
    snapshots.start()
    # serve_forever returns once shutdown() is called, from another thread
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        snapshots.stop()
        server.server_close()


@main.command(short_help="Stream the lab's events: nodes, interfaces, addresses, drift.")
@topo_argument
@topo_option
@click.option("-f", "--format", "fmt", type=click.Choice(["plain", "json"]), default="plain",
              show_default=True, help="plain: one line per event, as `docker events`; "
              "json: one JSON object per line (containerlab's keys).")
@click.option("-i", "--initial-state", is_flag=True,
              help="First print every node and interface as it is now (and its drift).")
def events(topo_arg: str | None, topo_opt: str | None, fmt: str, initial_state: bool) -> None:
    """Stream a deployed lab's events as they happen (until Ctrl-C/SIGTERM): nodes
    started, stopped, restarted (and Docker's container events); interfaces created,
    updated (up, down, carrier, MTU, MAC) and deleted; addresses added and deleted;
    drift found, repaired, repair failed (as `watch` or `reconcile` log them; with no
    `watch` running, events looks for drift itself, read-only, and says when it is
    cleared). Each event names the lab, the node and the interface.
    """
    import signal
    import threading

    with _errors():
        from .engine._events import LabEvent, stream

        topo = _load_deployed(topo_arg, topo_opt)
        lab_dir = _lab_dir(topo)
        if not lab_dir.journal.exists():
            raise StateError(f"lab {topo.name!r} is not deployed",
                             hint="deploy it first: `netknit deploy`")
        stop = threading.Event()

        def emit(event: LabEvent) -> None:
            line = json.dumps(event.to_json(), separators=(",", ":")) if fmt == "json" \
                else event.plain()
            try:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            except BrokenPipeError:  # `netknit events | head`: the reader is done
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda _s, _f: stop.set())
        stream(topo.name, lab_dir, emit, initial_state=initial_state, stop=stop)


# -- tools (containerlab's `tools`) ----------------------------------------------------------


@main.group(name="tools", cls=_Group)
def tools_group() -> None:
    """containerlab's tools: impair links (netem), add veth and vxlan links by hand."""


@tools_group.group("veth")
def tools_veth() -> None:
    """veth operations."""


@tools_veth.command("create")
@topo_option
@click.option("-a", "--a-endpoint", "a_end", required=True, metavar="ENDPOINT",
              help="End A: <node>:<interface>, host:<interface> (in the host namespace) or "
              "bridge:<bridge>:<interface> (a port of that host bridge).")
@click.option("-b", "--b-endpoint", "b_end", required=True, metavar="ENDPOINT",
              help="End B, written as end A.")
@click.option("-m", "--mtu", type=int, default=9500, show_default=True, help="Link MTU.")
def tools_veth_create(topo_opt: str | None, a_end: str, b_end: str, mtu: int) -> None:
    """Create a veth pair between two ends of a deployed lab, both born in place (up,
    the lab's mark on them). The lab's journal records it: `destroy` removes it;
    `reconcile` and `watch` leave it alone (it is not in the topology: it is not
    recreated when a node restarts); `deploy` of a changed file keeps it.

    Example:  netknit tools veth create -t lab.clab.yml -a r1:eth9 -b r2:eth9
    """
    with _errors():
        from .engine._tools import veth_create

        topo = _load_deployed(None, topo_opt)
        done = veth_create(topo, _lab_dir(topo), a_end, b_end, mtu=mtu)
        _print_tool(done)


@tools_group.group("vxlan")
def tools_vxlan() -> None:
    """VXLAN interface operations."""


@tools_vxlan.command("create")
@topo_option
@click.option("--remote", required=True, metavar="ADDRESS", help="Address of the remote VTEP.")
@click.option("-l", "--link", "link", required=True, metavar="INTERFACE",
              help="The lab's host interface to stitch the tunnel to (tc redirect, both "
              "ways), e.g. one made by `tools veth create -b host:<if>`.")
@click.option("-i", "--id", "vni", type=int, default=10, show_default=True, help="VNI.")
@click.option("--dev", metavar="INTERFACE", default=None,
              help="Parent (underlay) interface. Default: the kernel routes to the remote.")
@click.option("-m", "--mtu", type=int, default=0,
              help="VXLAN MTU. Default: the parent's, less the VXLAN overhead (1450 over "
              "IPv4 without --dev).")
@click.option("-p", "--dst-port", "--port", "dst_port", type=int, default=14789,
              show_default=True, help="Destination UDP port (--port: containerlab's old name).")
@click.option("-s", "--src-port", "src_port", type=int, default=0,
              help="Source UDP port (default: the kernel picks per flow).")
def tools_vxlan_create(topo_opt: str | None, remote: str, link: str, vni: int,
                       dev: str | None, mtu: int, dst_port: int, src_port: int) -> None:
    """Create a VXLAN device vx-<link> in the host and stitch it with tc to <link>, a host
    interface of the deployed lab. Journaled into the lab: `destroy` removes it.

    Example:  netknit tools vxlan create -t lab.clab.yml --remote 192.0.2.2 --id 100 -l veth9
    """
    with _errors():
        from .engine._tools import vxlan_create

        topo = _load_deployed(None, topo_opt)
        done = vxlan_create(topo, _lab_dir(topo), remote=remote, link=link, vni=vni, dev=dev,
                            mtu=mtu, dst_port=dst_port, src_port=src_port)
        _print_tool(done)


def _print_tool(done: Any) -> None:
    details = ", ".join(f"{k} {v}" for k, v in done.details.items())
    click.echo(f"{done.what} created in lab {done.lab} ({details})")


# -- tools netem: link impairment (containerlab's `tools netem`) -----------------------------


@tools_group.group(name="netem", cls=_Group)
def netem_group() -> None:
    """Link impairment: delay, jitter, loss, rate and corruption of an interface's egress.

    NODE is a node of a deployed lab (its name, or its namespace/container name like
    clab-lab-r1; -t picks the lab) or a namespace of /run/netns. On a lab's link the
    impairment is recorded: reconcile, watch and restart put it back.
    """


_netem_node = click.option("-n", "--node", "node", required=True, metavar="NODE",
                           help="Node (or namespace) whose interface to impair.")
_netem_iface = click.option("-i", "--interface", "iface", required=True, metavar="IFACE",
                            help="Interface to impair (its egress).")


def _netem_target(topo_opt: str | None, node: str) -> Topology | None:
    """The deployed lab ``node`` belongs to (None: a namespace that is no lab's node)."""
    from .kernel import netns as kernel_netns

    if topo_opt:
        return _load_deployed(None, topo_opt)
    labs = [t for t in _deployed_labs(_global("name"))
            if any(node in (n, t.full_name(n)) for n in t.nodes)]
    if len(labs) > 1:
        raise UsageError(f"node {node!r} is in labs {', '.join(t.name for t in labs)}",
                         hint="pick the lab with -t FILE (or --name LAB)")
    if labs:
        return labs[0]
    if kernel_netns.exists(node):
        return None
    raise UsageError(f"no node {node!r} in the labs deployed here, and no namespace "
                     "of that name", hint="give its lab with -t FILE; `netknit inspect "
                     "--all` lists the labs deployed here")


def _netem_set(topo_opt: str | None, node: str, iface: str, imp: Any) -> Any:
    from .engine import _netem

    topo = _netem_target(topo_opt, node)
    if topo is None:
        return _netem.set_on_namespace(node, iface, imp)
    return _netem.set_on_node(topo, _lab_dir(topo), node, iface, imp)


def _print_netem(rows: list[Any]) -> None:
    from rich import box
    from rich.table import Table

    table = Table(box=box.ROUNDED)
    for col in ("Interface", "Delay", "Jitter", "Packet Loss", "Rate (kbit)", "Corruption"):
        table.add_column(col, justify="center" if col == "Interface" else "right")
    for row in rows:
        table.add_row(*row.cells())
    _console().print(table)


@netem_group.command(name="set")
@_netem_node
@_netem_iface
@click.option("--delay", default="0s", show_default=True, metavar="DURATION",
              help="Time to delay outgoing packets (e.g. 100ms, 2s).")
@click.option("--jitter", default="0s", show_default=True, metavar="DURATION",
              help="Delay variation, aka jitter (e.g. 50ms); needs --delay.")
@click.option("--loss", type=float, default=0.0, show_default=True, metavar="PERCENT",
              help="Random packet loss in percent (e.g. 0.1 means 0.1%).")
@click.option("--rate", default="0", show_default=True, metavar="KBIT",
              help="Link rate limit in kbit/s (e.g. 1000), or with tc's unit (1mbit); "
              "alone it works with tbf, where the kernel has no sch_netem.")
@click.option("--corruption", type=float, default=0.0, show_default=True, metavar="PERCENT",
              help="Random packet corruption probability in percent (e.g. 0.1).")
@topo_option
def netem_set(node: str, iface: str, delay: str, jitter: str, loss: float, rate: str,
              corruption: float, topo_opt: str | None) -> None:
    """Set the impairments of an interface, all at once (what is not given is cleared;
    nothing given clears them all). Delay, jitter, loss and corruption need the kernel's
    sch_netem; a rate alone is shaped by tbf.

    \b
    Example:
      netknit tools netem set -n clab-lab-r1 -i eth1 --delay 10ms --jitter 2ms --loss 1
      netknit tools netem set -n clab-lab-r1 -i eth1 --rate 1mbit
    """
    from ._impair import make

    with _errors():
        try:
            imp = make(delay=delay, jitter=jitter, loss=loss, rate=rate,
                       corruption=corruption)
        except ValueError as exc:
            raise UsageError(f"--{exc}", hint="see `netknit tools netem set --help`") from None
        result = _netem_set(topo_opt, node, iface, imp or None)
        for note in result.notes:
            _note(note)
        if result.rows:
            _print_netem(result.rows)


@netem_group.command(name="reset")
@_netem_node
@_netem_iface
@topo_option
def netem_reset(node: str, iface: str, topo_opt: str | None) -> None:
    """Remove the impairments of an interface (its netem or tbf qdisc)."""
    with _errors():
        result = _netem_set(topo_opt, node, iface, None)
        for note in result.notes:
            _note(note)
        click.echo(f'Reset impairments on node "{node}", interface "{iface}"')


@netem_group.command(name="show")
@click.option("-n", "--node", "node", required=True, metavar="NODE",
              help="Node (or namespace) whose interfaces to show.")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="json: containerlab's shape, impaired interfaces only.")
@topo_option
def netem_show(node: str, fmt: str, topo_opt: str | None) -> None:
    """Show the impairments of every interface of a node (N/A: none)."""
    with _errors():
        from .engine import _netem

        topo = _netem_target(topo_opt, node)
        result = _netem.show_namespace(node) if topo is None else \
            _netem.show_node(topo, _lab_dir(topo), node)
        if fmt == "json":
            rows = [r.to_json() for r in result.rows if r.impairment is not None]
            click.echo(json.dumps({node: rows}, indent=2))
        else:
            _print_netem(result.rows)


@main.group(name="resident", cls=_Group)
def resident_group() -> None:
    """A resident netknit process that runs commands already loaded: a command then
    costs a fork instead of an interpreter start and its imports (~200 ms on a small
    VM; a 2-node deploy goes from ~250 ms to ~60 ms). CNI calls use it too.

    \b
    Commands run there exactly as here: in your namespaces, directory and environment,
    with your terminal; Ctrl-C and kill reach them. Without a resident (or with
    NETKNIT_RESIDENT=0) every command runs in its own process, as always. When netknit's
    files change, the resident hands the next command back and exits.
    """


@resident_group.command(name="start")
@click.option("--idle", type=float, default=0.0, show_default=True, metavar="SECONDS",
              help="Exit after this long without a command (0: run until stopped).")
def resident_start(idle: float) -> None:
    """Start the resident process in the background (nothing if one runs)."""
    import subprocess

    from . import _resident

    with _errors():
        path = _resident.socket_path()
        pid = _resident.running(path)
        if pid is not None:
            click.echo(f"resident process {pid} already serves {path}")
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(f"{path}.log", "ab") as log:
            child = subprocess.Popen(
                [sys.executable, "-c", "from netknit._launch import serve_resident; "
                 "serve_resident()", "--socket", path, "--idle", str(idle)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                cwd="/")
        deadline = time.monotonic() + 60
        while _resident.running(path) != child.pid or not os.path.exists(path):
            if child.poll() is not None:
                raise StateError(f"the resident process exited ({child.returncode}) "
                                 "before it served", hint=f"its log: {path}.log")
            if time.monotonic() > deadline:
                raise StateError("the resident process did not serve within 60 s",
                                 hint=f"its log: {path}.log; `netknit resident stop`")
            time.sleep(0.05)
        click.echo(f"resident process {child.pid} serves {path}")


@resident_group.command(name="stop")
def resident_stop() -> None:
    """Stop the resident process; commands it runs finish first."""
    import select
    import signal

    from . import _resident

    path = _resident.socket_path()
    pid = _resident.running(path)
    if pid is None:
        click.echo("no resident process runs")
        return
    # Held before the signal: the pid file goes before the interpreter has finished
    # exiting, so only the process itself can say it is gone (and a pidfd is never a
    # reused pid).
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        handle = None
    try:
        if handle is not None and _resident.running(path) == pid:
            signal.pidfd_send_signal(handle, signal.SIGTERM)
            if not select.select([handle], [], [], 60)[0]:
                _fail(StateError(f"resident process {pid} still runs commands after 60 s",
                                 hint=f"wait for them, or `kill {pid}` again"))
    finally:
        if handle is not None:
            os.close(handle)
    click.echo(f"resident process {pid} stopped")


@resident_group.command(name="status")
@format_option
def resident_status(fmt: str) -> None:
    """Whether a resident process runs, and where (exit 1 if none)."""
    from . import _resident

    path = _resident.socket_path()
    pid = _resident.running(path)
    if fmt == "json":
        click.echo(json.dumps({"running": pid is not None, "pid": pid, "socket": path}))
    elif pid is None:
        click.echo(f"no resident process runs (its socket would be {path})")
    else:
        click.echo(f"resident process {pid} serves {path}")
    sys.exit(0 if pid is not None else 1)


# -- the fast path's table (netknit._fastargv) -------------------------------------------


def fast_spec(name: str) -> dict[str, Any]:
    """Command ``name`` as :mod:`netknit._fastargv` reads it: click's definition, less the
    flags that reader leaves to click (see :data:`netknit._fastargv.SPEC`)."""
    command = main.commands[name]
    argument: str | None = None
    flags: dict[str, list[Any]] = {}
    for param in command.params:
        if isinstance(param, click.Argument):
            argument = param.name if param.nargs == 1 and not param.required else None
        else:
            takes = _fast_takes(param)
            for flag in param.opts if takes is not None else ():
                flags[flag] = [param.name, takes]
    # what click passes for flags not given (read where no CLAB_ variable is set)
    defaults = command.make_context(name, [], resilient_parsing=True).params
    for flag, (param_name, takes) in list(flags.items()):
        if takes != "flag":
            continue
        # a flag is True when given, False when not: asked of click, whose ways of saying
        # so (flag_value, default) differ between its versions
        given = command.make_context(name, [flag], resilient_parsing=True).params
        if given[param_name] is not True or defaults[param_name] is not False:
            del flags[flag]
    environment = {*_envvars(main, "CLAB"), *_envvars(command, f"CLAB_{name.upper()}"),
                   "_NETKNIT_COMPLETE"}  # click's shell completion, for `netknit`
    return {"argument": argument, "flags": dict(sorted(flags.items())),
            "defaults": dict(sorted(defaults.items())), "environment": sorted(environment)}


def _fast_takes(param: click.Parameter) -> str | list[Any] | None:
    """What a flag takes, in the table's words; None: left to click."""
    if not isinstance(param, click.Option) or param.hidden or param.callback is not None \
            or not param.expose_value or param.count or param.secondary_opts \
            or param.nargs != 1:
        return None
    kind = param.type
    if param.is_flag:
        return "flag" if isinstance(kind, click.types.BoolParamType) else None
    if kind is click.STRING:
        return "texts" if param.multiple else "text"
    if param.multiple:
        return None
    if isinstance(kind, click.Choice) and kind.case_sensitive and \
            all(isinstance(c, str) for c in kind.choices):
        return ["choice", *kind.choices]
    if isinstance(kind, click.IntRange) and not (kind.clamp or kind.min_open or kind.max_open):
        return ["int", kind.min, kind.max]
    return None


def _envvars(command: click.Command, prefix: str) -> set[str]:
    """The environment variables click reads for the flags of ``command`` (its own and
    the automatic ``<prefix>_<NAME>``), help and version included."""
    ctx = click.Context(command, info_name=prefix)
    names: set[str] = set()
    for param in [*command.params, command.get_help_option(ctx)]:
        if param is None:
            continue
        given = param.envvar
        names.update([given] if isinstance(given, str) else given or ())
        if isinstance(param, click.Option) and param.allow_from_autoenv and param.name:
            names.add(f"{prefix}_{param.name.upper()}")
    return names


if __name__ == "__main__":
    main()
