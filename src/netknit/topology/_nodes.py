"""Nodes: check each settings block, merge defaults < kinds < groups < node, resolve the
kind.

The merge follows containerlab (types/topology.go getField, GetNodeKind, GetNodeGroup):
a node's kind comes from the node, its own ``group``'s block, the ``defaults`` group's
block or ``defaults`` (never from ``kinds``); its group from the node, its kind's block
or ``defaults``; ``image``/``cmd``/``startup-delay`` take the first *non-empty* value of
node, group, kind, defaults; ``env``/``labels`` merge key-wise with the same precedence;
``exec`` lists are concatenated defaults + kind + group + node.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import field
from ipaddress import ip_address
from pathlib import Path
from types import MappingProxyType
from typing import Any

from netknit import kinds
from netknit._dataclass import dataclass
from netknit.topology._context import Context, show, suggest
from netknit.topology._hosts import Hosts, check_node_host
from netknit.topology._magic import LAB_DIR, expand, expand_source, node_variables
from netknit.topology._model import (
    DEFAULT_PRIVATE_DIRS,
    PULL_POLICIES,
    RESTART_POLICIES,
    START_STRATEGIES,
    ContainerOptions,
    Healthcheck,
    Node,
    PullPolicy,
)
from netknit.topology._schema import NodeDef, validate
from netknit.topology._values import HOSTNAME_MAX, NAME_RE
from netknit.topology._yaml import YPath, format_path

#: containerlab node settings (types/node_definition.go) that need later work: accepted,
#: each named in a warning.
#: ``mgmt_ipv4``/``mgmt_ipv6`` are the older spellings.
CONTAINER_ONLY = tuple(
    """type startup-config enforce-startup-config suppress-startup-config auto-remove
    config license mgmt_ipv4 mgmt_ipv6 sandbox kernel runtime extras certificate components
    publish wait-for SANs cgroup-parent credentials link-apply-mode""".split()  # noqa: SIM905
)
#: Settings some kind takes and the others refuse (``kinds.NodeKind.fields``).
_KIND_FIELDS = {attr: key for kind in kinds.all_kinds() for attr, key in kind.fields.items()}
#: Keys read elsewhere: ``position`` only draws graphs (ignored); ``stages`` is read by
#: ``_stages``; ``group`` by :func:`_layer` itself.
_COSMETIC = ("position", "stages", "group")


@dataclass(slots=True)
class _Layer:
    """One settings block (defaults, a kind, or a node), checked."""

    path: YPath
    spec: NodeDef = field(default_factory=NodeDef)
    extras: dict[str, YPath] = field(default_factory=dict)  # container-only keys set here
    group: str | None = None  # its ``group:`` (a name of topology.groups, or only a label)


#: the settings of a block that sets nothing: one, shared (a NodeDef is immutable), so
#: that a node's merge can skip such blocks at a glance (see _kind_set)
_EMPTY_SPEC = NodeDef()
#: a block that sets nothing (a node without a group or kind block): one, shared and never
#: changed, instead of a fresh one (and its NodeDef) built per node and lookup
_NO_LAYER = _Layer((), _EMPTY_SPEC)


def _clab_non_empty(value: Any) -> bool:
    # containerlab treats empty values as unset (``omitempty`` and "first non-empty"),
    # false and 0 included.
    return value not in (None, "", [], {}, False, 0)


def _kind_set(layers: list[_Layer]) -> dict[str, YPath]:
    """The kind-specific fields the layers set (containerlab-non-empty), each with where
    the most specific layer sets it (``layers``: most specific first)."""
    return {
        attr: (*layer.path, key)
        for layer in reversed(layers) if layer.spec is not _EMPTY_SPEC
        for attr, key in _KIND_FIELDS.items()
        if _clab_non_empty(getattr(layer.spec, attr)) or (
            attr == "privileged" and layer.spec.privileged is not None)
    }


def _layer(ctx: Context, raw: Any, path: YPath) -> _Layer:
    if raw is None:
        return _Layer(path, _EMPTY_SPEC)
    if not isinstance(raw, dict):
        ctx.add(path, f"expected a mapping of node settings (got {show(raw)})")
        return _Layer(path, _EMPTY_SPEC)
    extras = {k: (*path, k) for k in CONTAINER_ONLY if k in raw and _clab_non_empty(raw[k])}
    rest = {k: v for k, v in raw.items() if k not in CONTAINER_ONLY and k not in _COSMETIC}
    spec = validate(ctx, NodeDef, rest, path, known=CONTAINER_ONLY)
    group = raw.get("group")
    if group is not None and not isinstance(group, str):
        ctx.add((*path, "group"), f"expected a group name (got {show(group)})")
        group = None
    return _Layer(path, spec or _EMPTY_SPEC, extras, group or None)


def _check_kind(ctx: Context, kind: str, path: YPath) -> bool:
    if kind in kinds.names():
        return True
    runs = f"netknit runs {', '.join(kinds.names())}"
    if kind in kinds.PLANNED:
        ctx.add(path, f"kind '{kind}' is not supported by netknit yet ({runs})")
    else:
        known = [*kinds.names(), *sorted(kinds.PLANNED)]
        ctx.add(path, f"unknown kind '{kind}' ({runs}){suggest(kind, known)}")
    return False


def build_nodes(ctx: Context, topology: dict[str, Any], base_dir: Path | None = None,
                hosts: Hosts | None = None, variables: Mapping[str, str] | None = None
                ) -> dict[str, Node]:
    """Every node of ``topology.nodes``, merged and checked, in file order.

    ``base_dir`` (the topology file's directory) anchors relative ``binds``, as in
    containerlab, whose host paths must then exist; without a file, the current directory,
    and the host paths are not looked at. ``hosts`` is top-level ``hosts:``, which each
    node's ``host`` must name. ``variables``: containerlab's magic variables of the lab
    (:mod:`netknit.topology._magic`; none where the lab has no valid name).
    """
    base: YPath = ("topology",)
    defaults = _layer(ctx, topology.get("defaults"), (*base, "defaults"))
    blocks: dict[str, _Layer] = {}
    raw_kinds = topology.get("kinds")
    if isinstance(raw_kinds, dict):
        for name, raw in raw_kinds.items():
            path = (*base, "kinds", name)
            # A kinds block for a kind no node uses is harmless, but a typo is worth a word.
            if name.lower() not in kinds.names() and name.lower() not in kinds.PLANNED:
                _check_kind(ctx, name, path)
            blocks[name.lower()] = _layer(ctx, raw, path)
    elif raw_kinds is not None:
        ctx.add((*base, "kinds"), f"expected a mapping of kind names (got {show(raw_kinds)})")
    groups: dict[str, _Layer] = {}
    raw_groups = topology.get("groups")
    if isinstance(raw_groups, dict):
        groups = {name: _layer(ctx, raw, (*base, "groups", name))
                  for name, raw in raw_groups.items()}
    elif raw_groups is not None:
        ctx.add((*base, "groups"), f"expected a mapping of group names (got {show(raw_groups)})")

    raw_nodes = topology.get("nodes")
    if raw_nodes is None:
        return {}
    if not isinstance(raw_nodes, dict):
        ctx.add((*base, "nodes"), f"expected a mapping of node names (got {show(raw_nodes)})")
        return {}
    nodes = {
        name: _node(ctx, name, _layer(ctx, raw, (*base, "nodes", name)), defaults, blocks,
                    groups, base_dir, hosts or Hosts(), node_variables(variables or {}, name))
        for name, raw in raw_nodes.items()
    }
    _check_network_modes(ctx, nodes)
    return nodes


def _check_network_modes(ctx: Context, nodes: dict[str, Node]) -> None:
    """``network-mode: container:<node>`` must name another Docker node with a namespace
    of its own (no chains: the namespace holder must be clear)."""
    for node in nodes.values():
        if not node.network_mode.startswith("container:"):
            continue
        target = node.network_mode.partition(":")[2]
        path = (*_ypath(node.where), "network-mode")
        other = nodes.get(target)
        if other is None:
            ctx.add(path, f"network-mode: unknown node '{target}'{suggest(target, nodes)}")
        elif target == node.name:
            ctx.add(path, "network-mode: a node cannot share its own namespace")
        elif not kinds.get(other.kind).container:
            containers = " or ".join(k.name for k in kinds.all_kinds() if k.container)
            ctx.add(path, f"network-mode: node '{target}' is not a container "
                    f"(kind: {containers})")
        elif other.network_mode != "none":
            ctx.add(path, f"network-mode: node '{target}' shares another namespace itself "
                    f"({other.network_mode}); point at the node that owns it")


def _ypath(where: str) -> YPath:
    # nodes are always at topology.nodes.<name>; names cannot contain '.'-free splits safely,
    # so rebuild the path from its three parts
    head, _, name = where.partition("topology.nodes.")
    return ("topology", "nodes", name) if not head else ()


def _node(ctx: Context, name: str, own: _Layer, defaults: _Layer, blocks: dict[str, _Layer],
          groups: dict[str, _Layer], base_dir: Path | None, hosts: Hosts,
          variables: Mapping[str, str]) -> Node:
    where = own.path
    if not NAME_RE.match(name):
        ctx.add(where, f"node name '{name}' may only contain letters, digits, '-', '_' and '.'")

    written: str = kinds.DEFAULT
    kind_path: YPath | None = None
    # GetNodeKind: the node, its own group's block, the defaults' group's block, defaults
    for layer in (own, groups.get(own.group or ""), groups.get(defaults.group or ""), defaults):
        if layer is not None and layer.spec.kind:
            written, kind_path = layer.spec.kind, (*layer.path, "kind")
            break
    written = written.lower()  # containerlab lowercases kinds too
    valid = kind_path is None or _check_kind(ctx, written, kind_path)
    # an invalid kind: the default stands in, so that the links can still be checked
    kind = kinds.get(written if valid else kinds.DEFAULT)
    block = blocks.get(written, _NO_LAYER)
    group = own.group or block.group or defaults.group  # GetNodeGroup
    # most specific first
    layers = [own, groups.get(group or "", _NO_LAYER), block, defaults]
    # Where a node runs applies to every kind (a bridge is on some machine too), so
    # ``host`` is taken from defaults even for bridge and host nodes.
    host, host_path = next(((x.spec.host, (*x.path, "host")) for x in layers if x.spec.host),
                           (None, ()))
    check_node_host(ctx, hosts, name, host, host_path, where)
    if not kind.own_namespace:
        # These run no workload (bridge, host), and containerlab ignores container settings
        # on them; ``defaults`` target the containers (a defaults ``exec`` must not run on
        # the host).
        layers.pop()

    image = next((x.spec.image for x in layers if x.spec.image), None)
    extras: dict[str, YPath] = {}
    for layer in reversed(layers):
        extras.update(layer.extras)
    kind_set = _kind_set(layers)
    if kind.bare_kind is not None and ctx.runtime not in (None, kind.runtime):
        # the lab runs on another runtime: the node becomes a bare one of that runtime
        ignored = ["image"] if image else []
        ignored += sorted({*extras, *(_KIND_FIELDS[attr] for attr in kind_set)})
        note = (f"node {name}: kind {kind.name} runs as a bare namespace "
                f"(--runtime {ctx.runtime})")
        ctx.notices.append(f"{note}; ignored: {', '.join(ignored)}" if ignored else note)
        kind = kinds.get(kind.bare_kind)
        image, extras, kind_set = None, {}, {}
        unset = dict.fromkeys(_KIND_FIELDS)  # its settings of the other kind are gone
        layers = [_Layer(x.path, x.spec.model_copy(update=unset), x.extras, x.group)
                  for x in layers]
    if kind.needs_image and not image and valid:
        ctx.add(kind_path or where, f"kind '{kind.name}' needs an image (set `image:` on the "
                "node, its kind or defaults)")
    # a containerlab file runs unchanged: what netknit cannot honour is named, not refused
    for key, path in extras.items() if valid else ():
        ctx.notices.append(f"node {name}: {ctx.at(path)}: {key} is not supported by netknit "
                           "yet; ignored")
    for attr, path in kind_set.items() if valid else ():
        if attr not in kind.fields:
            taking = [k for k in kinds.all_kinds() if attr in k.fields]
            takers = " or ".join(k.name for k in taking)
            nodes = "container nodes" if all(k.container for k in taking) else "nodes"
            ctx.notices.append(f"node {name}: {ctx.at(path)}: {_KIND_FIELDS[attr]} applies to "
                               f"{nodes} (kind: {takers}) only; ignored")

    problem = kind.node_name_error(name)
    if problem:
        ctx.add(where, problem)

    env: dict[str, str] = {}
    labels: dict[str, str] = {}
    run: list[str] = []
    if kind.container:  # containerlab: env-files first, the env map wins (core/config.go)
        env.update(_env_files(ctx, layers, base_dir))
    for layer in reversed(layers):
        env.update(ctx.strings(layer.spec.env, (*layer.path, "env")))
        labels.update(ctx.strings(layer.spec.labels, (*layer.path, "labels")))
        run.extend(expand(command, variables) for command in layer.spec.exec or ())
        for key in layer.spec.env or ():
            if key == "" or "=" in key:
                ctx.add(
                    (*layer.path, "env", key), f"environment variable name {key!r} is not valid"
                )

    docker: dict[str, Any] = _docker_settings(ctx, layers, base_dir, variables) \
        if kind.container else {}
    if "binds" in kind.fields and not kind.container:  # a view of its own (netns)
        docker["binds"] = _binds(ctx, layers, base_dir, variables)
    if "private_dirs" in kind.fields:
        docker["private_dirs"] = _private_dirs(ctx, layers)
    size = len(name.encode("utf-8", "surrogatepass"))
    options = docker.get("options")
    if options is not None and options.hostname is not None:
        size = 0  # the node name is not the hostname
        if len(options.hostname.encode("utf-8", "surrogatepass")) > HOSTNAME_MAX:
            ctx.add(_first(layers, "hostname")[1], f"hostname {show(options.hostname)} is "
                    f"longer than Linux's {HOSTNAME_MAX} bytes: shorten it")
    if kind.container and docker.get("network_mode", "none") == "none" and size > HOSTNAME_MAX:
        ctx.add(where, f"node name {show(name)} is {size} bytes long; it is the container's "
                f"hostname, and Linux allows at most {HOSTNAME_MAX}: shorten it")
    return Node(
        name=name,
        kind=kind.name,
        image=image,
        cmd=next((x.spec.cmd for x in layers if x.spec.cmd), None),
        env=MappingProxyType(env),
        exec=tuple(run),
        labels=MappingProxyType(labels),
        startup_delay=next((x.spec.startup_delay for x in layers if x.spec.startup_delay), 0),
        where=format_path(where),
        host=host,
        group=group,
        **docker,
    )


def _first(layers: list[_Layer], attr: str) -> tuple[Any, YPath]:
    """containerlab's "first non-empty of node, kind, defaults", and where it was written."""
    for layer in layers:
        value = getattr(layer.spec, attr)
        if _clab_non_empty(value):
            return value, (*layer.path, _KIND_FIELDS.get(attr, attr))
    return None, ()


def _docker_settings(ctx: Context, layers: list[_Layer], base_dir: Path | None,
                     variables: Mapping[str, str]) -> dict[str, Any]:
    """The container settings of a Docker node, checked; keys are :class:`Node` fields."""
    out: dict[str, Any] = {}
    entrypoint, _ = _first(layers, "entrypoint")
    out["entrypoint"] = entrypoint
    user, upath = _first(layers, "user")
    if user is not None:
        if isinstance(user, dict | list):
            ctx.add(upath, f"expected a user name or uid[:gid] (got {show(user)})")
        else:
            out["user"] = ctx.text(upath, user)
    out["binds"] = _binds(ctx, layers, base_dir, variables)
    health, _ = _first(layers, "healthcheck")
    if health is not None:
        test = (health.test,) if isinstance(health.test, str) else tuple(health.test)
        if test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            test = ("CMD-SHELL", " ".join(test)) if len(test) > 1 else ("CMD-SHELL", test[0])
        out["healthcheck"] = Healthcheck(test, health.start_period or 0, health.interval or 0,
                                         health.timeout or 0, health.retries or 0)
    restart, rpath = _first(layers, "restart_policy")
    if restart is not None:
        if restart.lower() not in RESTART_POLICIES:
            ctx.add(rpath, f"restart-policy must be one of {', '.join(RESTART_POLICIES)} "
                    f"(got {restart!r})")
        out["restart_policy"] = restart.lower()
    mode, mpath = _first(layers, "network_mode")
    if mode is not None:
        mode = mode.strip()
        if mode not in ("none", "host") and not (
            mode.startswith("container:") and mode.partition(":")[2]
        ):
            ctx.add(mpath, f"network-mode must be none, host or container:<node> (got {mode!r})")
        else:
            out["network_mode"] = mode
            out["network_mode_written"] = True
    strategy, spath = _first(layers, "start_strategy")
    if strategy is not None:
        if strategy not in START_STRATEGIES:
            ctx.add(spath, f"start-strategy must be one of {', '.join(START_STRATEGIES)} "
                    f"(got {strategy!r}){suggest(strategy, START_STRATEGIES)}")
        else:
            out["start_strategy"] = strategy
    sandbox, _ = _first(layers, "sandbox_image")
    out["sandbox_image"] = sandbox
    for attr, family in (("mgmt_ipv4", 4), ("mgmt_ipv6", 6)):
        text, apath = _first(layers, attr)
        if text is None:
            continue
        try:
            address = ip_address(text)
        except ValueError:
            ctx.add(apath, f"'{text}' is not an IPv{family} address (no prefix length here)")
            continue
        if address.version != family:
            ctx.add(apath, f"'{text}' is an IPv{address.version} address, but this is "
                    f"{_KIND_FIELDS[attr]}")
            continue
        out[attr] = address
    out["options"] = _options(ctx, layers, variables)
    return out


def _binds(ctx: Context, layers: list[_Layer], base_dir: Path | None,
           variables: Mapping[str, str]) -> tuple[str, ...]:
    """``binds`` of every layer, checked; on one container path a more specific layer
    wins. A bind of a file netknit writes into the lab directory after the nodes are up
    (containerlab lets it not exist yet) is left out, with a notice."""
    binds: dict[str, str] = {}  # container path -> bind
    for layer in reversed(layers):
        here: dict[str, YPath] = {}  # within one layer, a container path once (Docker)
        for index, bind in enumerate(layer.spec.binds or ()):
            path = (*layer.path, "binds", index)
            parsed = _bind(expand_source(bind, variables), base_dir or Path.cwd(),
                           base_dir is not None, variables.get(LAB_DIR))
            if isinstance(parsed, str):
                ctx.add(path, parsed)
            elif parsed[0] == "":
                ctx.notices.append(f"{ctx.at(path)}: {parsed[1]}")
            elif parsed[0] in here:
                ctx.add(path, f"container path {parsed[0]} is already bound at "
                        f"{ctx.at(here[parsed[0]])}; one thing is mounted there")
            else:
                here[parsed[0]] = path
                binds[parsed[0]] = parsed[1]
    return tuple(binds.values())


def _private_dirs(ctx: Context, layers: list[_Layer]) -> tuple[str, ...]:
    """``private-dirs`` of the most specific layer that writes it (``[]``: none), else
    :data:`DEFAULT_PRIVATE_DIRS`; absolute paths, not ``/``."""
    for layer in layers:
        dirs = layer.spec.private_dirs
        if dirs is None:
            continue
        out: list[str] = []
        for index, text in enumerate(dirs):
            path = os.path.normpath(text) if text.startswith("/") else ""
            if path in ("", "/", "//"):
                ctx.add((*layer.path, "private-dirs", index), f"private-dirs: {text!r} is "
                        "not an absolute directory path other than '/'")
            elif path not in out:
                out.append(path)
        return tuple(out)
    return DEFAULT_PRIVATE_DIRS


def _merged(layers: list[_Layer], attr: str) -> tuple[str, ...]:
    """containerlab's mergeStringSliceFields: defaults + kind + node, duplicates dropped."""
    items = [item for layer in reversed(layers) for item in getattr(layer.spec, attr) or ()]
    return tuple(dict.fromkeys(items))


def _merged_map(ctx: Context, layers: list[_Layer], attr: str) -> dict[str, str]:
    """containerlab's mergeStringMapFields: key by key, the most specific layer wins."""
    out: dict[str, str] = {}
    for layer in reversed(layers):
        out.update(ctx.strings(getattr(layer.spec, attr), (*layer.path, _KIND_FIELDS[attr])))
    return out


def _options(ctx: Context, layers: list[_Layer], variables: Mapping[str, str]
             ) -> ContainerOptions:
    """The Docker settings of containerlab's node definition, merged as containerlab's
    types/topology.go merges each (first non-empty, or lists and maps merged)."""
    privileged = next((x.spec.privileged for x in layers if x.spec.privileged is not None),
                      True)  # containerlab's PrivilegedByDefault for linux
    sizes: dict[str, int] = {}
    for attr in ("memory", "shm_size"):
        value, path = _first(layers, attr)
        if value is not None:
            size = parse_size(str(value))
            if size is None:
                ctx.add(path, f"{_KIND_FIELDS[attr]}: {show(value)} is not a size (write "
                        "e.g. 256MB = 256,000,000 bytes, or 1GiB = 1024^3 bytes)")
            sizes[attr] = size or 0
    dns, _ = _first(layers, "dns")
    ports = tuple(str(p) for p in _first(layers, "ports")[0] or ())
    for index, port in enumerate(ports):
        if not _PORT_RE.match(port):
            where = next(x.path for x in layers if x.spec.ports)
            ctx.add((*where, "ports", index), f"port {port!r} is not "
                    "[ip:][host-port:]container-port[/tcp|udp|sctp]")
    # containerlab replaces its magic variables in a volume's source (resolveVolumePaths)
    volumes = [expand_source(v, variables) if ":" in v else v
               for v in _merged(layers, "volumes")]
    by_target: dict[str, str] = {}  # containerlab keys volumes by destination: specific wins
    for volume in volumes:
        by_target[volume.split(":")[1] if ":" in volume else volume] = volume
    own = layers[0].spec  # containerlab reads aliases from the node only (GetNodeAliases)
    return ContainerOptions(
        privileged=privileged,
        hostname=_first(layers, "hostname")[0],
        ports=ports,
        cpu=float(_first(layers, "cpu")[0] or 0),
        cpu_set=_first(layers, "cpu_set")[0] or "",
        memory=sizes.get("memory", 0),
        shm_size=sizes.get("shm_size", 0),
        dns_servers=tuple(dns.servers or ()) if dns else (),
        dns_search=tuple(dns.search or ()) if dns else (),
        dns_options=tuple(dns.options or ()) if dns else (),
        aliases=tuple(own.aliases or ()),
        sysctls=MappingProxyType(_merged_map(ctx, layers, "sysctls")),
        devices=_merged(layers, "devices"),
        cap_add=_merged(layers, "cap_add"),
        volumes=tuple(by_target.values()),
        tmpfs=MappingProxyType(_merged_map(ctx, layers, "tmpfs")),
        pid_mode=_first(layers, "pid_mode")[0] or "",
        cgroupns_mode=_first(layers, "cgroupns_mode")[0] or "",
        security_opts=_merged(layers, "security_opts"),
        image_pull_policy=_pull_policy(ctx, layers),
    )


def _pull_policy(ctx: Context, layers: list[_Layer]) -> PullPolicy:
    """containerlab's ParsePullPolicyValue: any case, spaces around ignored; its schema
    knows no other value, so another is an error here (containerlab would read it as
    IfNotPresent, silently)."""
    text, path = _first(layers, "image_pull_policy")
    if text is None:
        return "IfNotPresent"
    found = [p for p in PULL_POLICIES if p.lower() == text.strip().lower()]
    if not found:
        ctx.add(path, f"image-pull-policy must be one of {', '.join(PULL_POLICIES)} "
                f"(any case; got {text!r}){suggest(text, PULL_POLICIES)}")
        return "IfNotPresent"
    return found[0]


_PORT_RE = re.compile(r"^(?:(?:\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(?:\d+(?:-\d+)?:)?\d+(?:-\d+)?"
                      r"(?:/(?:tcp|udp|sctp))?$")
#: go-humanize's ParseBytes units (containerlab's memory and shm-size): SI and IEC.
_UNITS = {"": 1, "b": 1, **{
    f"{p}{suffix}": base ** (i + 1)
    for i, p in enumerate("kmgtpe")
    for suffix, base in (("", 1000), ("b", 1000), ("i", 1024), ("ib", 1024))}}
_SIZE_RE = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]*)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int | None:
    """Bytes of ``text`` as go-humanize's ParseBytes reads it (``256MB`` = 256,000,000,
    ``256MiB`` = 268,435,456, ``256m`` = ``256MB``); None if it is not a size."""
    match = _SIZE_RE.match(text)
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        return None
    return int(float(match.group(1).replace(",", "")) * unit)


def _env_files(ctx: Context, layers: list[_Layer], base_dir: Path | None) -> dict[str, str]:
    """The variables of ``env-files`` (relative to the topology file), later files winning,
    read as containerlab's godotenv reads them."""
    out: dict[str, str] = {}
    for name in _merged(layers, "env_files"):
        path = (base_dir or Path.cwd()) / os.path.expanduser(name)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeError) as exc:
            where = next(x.path for x in layers if name in (x.spec.env_files or ()))
            ctx.add((*where, "env-files"), f"env-file {name} cannot be read ({path}): {exc}")
            continue
        out.update(parse_env_file(text))
    return out


def parse_env_file(text: str) -> dict[str, str]:
    """``KEY=value`` lines (``export``, quotes, ``#`` comments), as godotenv reads them."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        key, sep, value = line.partition("=")
        if not sep:
            key, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        out[key.strip()] = value
    return out


#: Docker's bind options (moby's linuxValidMountMode): comma-separated, at most one of
#: each group. ``nocopy`` is Docker's too, but for named volumes only: on a bind Docker
#: refuses it ("field VolumeOptions must not be specified").
_BIND_OPTIONS = {
    "rw": "ro/rw", "ro": "ro/rw", "z": "SELinux label", "Z": "SELinux label",
    **dict.fromkeys(("private", "rprivate", "shared", "rshared", "slave", "rslave"),
                    "propagation"),
    **dict.fromkeys(("consistent", "cached", "delegated"), "consistency"),
}


def _bind(bind: str, base_dir: Path, check_source: bool, lab_dir: str | None
          ) -> tuple[str, str] | str:
    """``(container path, normalised bind)`` or an error message; ``("", why)`` for a
    bind to leave out.

    Docker's syntax ``host-path:container-path[:options]``; the host path is relative to
    the topology file and must exist, as containerlab checks before it deploys
    (core/config.go resolveBindPaths: "failed to verify bind path"), but for the files
    containerlab generates in the lab directory (``lab_dir``).
    """
    parts = bind.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        return f"bind {bind!r} is not 'host-path:container-path[:options]'"
    host, inside = parts[0], parts[1]
    if not inside.startswith("/"):
        return f"bind {bind!r}: the container path must be absolute"
    if os.path.normpath(inside) in ("/", "//"):
        return f"bind {bind!r}: the container path cannot be '/' (Docker refuses it)"
    problem = _bind_options(parts[2]) if len(parts) == 3 else None
    if problem:
        return f"bind {bind!r}: {problem}"
    if host.startswith("~"):
        host = _home() + host[1:]
    # joined as containerlab does (filepath.Join): symlinks stay for Docker to follow
    host = os.path.normpath(os.path.join(base_dir, host))
    if check_source:
        try:
            os.stat(host)
        except OSError as exc:
            generated = _generated(host, lab_dir)
            if generated:
                return "", f"bind {bind!r} left out: {generated}"
            return f"bind {bind!r}: cannot use host path {host}: {exc.strerror}"
    return os.path.normpath(inside), ":".join([host, *parts[1:]])


#: What containerlab writes into the lab directory and so lets a bind name before it
#: exists (core/config.go resolveBindPaths), with why netknit leaves such a bind out.
_GENERATED = {
    "ansible-inventory.yml": "netknit writes it after the nodes have started, too late to "
    "bind it; read it in the lab directory, or copy it in with a post-deploy exec",
    "topology-data.json": "netknit writes it after the nodes have started, too late to bind "
    "it; read it in the lab directory, or copy it in with a post-deploy exec",
    os.path.join(".tls", "ca"): "netknit makes no TLS certificate authority "
    "(containerlab's .tls/ca)",
}


def _generated(host: str, lab_dir: str | None) -> str | None:
    """Why a bind of a missing file containerlab generates is left out (None: it is no
    such file)."""
    if lab_dir is None or os.path.dirname(host) not in (lab_dir, os.path.join(lab_dir, ".tls")):
        return None
    return _GENERATED.get(os.path.relpath(host, lab_dir))


def _home() -> str:
    """``~`` in a bind, as containerlab's ExpandHome: the home of the user who ran sudo."""
    uid = os.environ.get("SUDO_UID", "")
    if uid.isdigit():
        import pwd

        try:
            return pwd.getpwuid(int(uid)).pw_dir
        except KeyError:
            pass
    return os.path.expanduser("~")


def _bind_options(text: str) -> str | None:
    """Why Docker would refuse the options of a bind, or None."""
    seen: dict[str, str] = {}
    for option in text.split(",") if text else ():
        group = _BIND_OPTIONS.get(option)
        if group is None:
            known = ", ".join(_BIND_OPTIONS)
            extra = " (Docker allows it on named volumes only)" if option == "nocopy" else ""
            return f"unknown option {option!r}{extra}; Docker accepts {known}"
        if group in seen:
            return (f"options {seen[group]!r} and {option!r} are both {group} options; "
                    "Docker allows one")
        seen[group] = option
    return None
