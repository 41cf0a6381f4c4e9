"""The top of the file (``name``, ``prefix``, ``mgmt``, ``topology``) and the assembly of
the model. Imported lazily by :mod:`netknit.topology`: it pulls in pydantic.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

from netknit import kinds
from netknit._labpath import lab_dir_path
from netknit.topology._context import Context, show, suggest
from netknit.topology._hosts import build_hosts
from netknit.topology._links import build_links
from netknit.topology._magic import git_name, in_stages, lab_variables, node_variables
from netknit.topology._mgmt import build_mgmt, mgmt_bridge
from netknit.topology._model import Node, Topology, full_name
from netknit.topology._nodes import build_nodes
from netknit.topology._stages import apply_stages
from netknit.topology._values import FILENAME_MAX, NAME_RE
from netknit.topology._yaml import YPath

_TOP_KEYS = ("name", "prefix", "topology", "mgmt", "settings", "hosts", "debug")
_TOPOLOGY_KEYS = ("nodes", "links", "defaults", "kinds", "groups")


def build(ctx: Context, path: Path | None, base_dir: Path | None = None,
          labdir_base: Path | None = None) -> Topology | None:
    """The model, or None when problems were found (they are in ``ctx``). Relative paths
    start from the file's directory (``base_dir`` when there is no file); the lab
    directory, which containerlab's magic variables name, is in ``labdir_base`` if given
    (see :func:`netknit._labpath.lab_dir_path`)."""
    for dup in ctx.doc.duplicates:
        key = dup.path[-1]
        if dup.path[:-1] == ("topology", "nodes"):
            message = f"node '{key}' is defined twice (first at line {dup.first_line})"
        else:
            message = f"duplicate key '{key}' (first at line {dup.first_line})"
        ctx.add(dup.path, message, line=dup.line)

    root = ctx.doc.data
    if not isinstance(root, dict):
        ctx.add((), f"expected a mapping with `name` and `topology` (got {show(root)})")
        return None
    _unknown_keys(ctx, root, (), _TOP_KEYS)
    here = path.parent if path else base_dir  # where relative paths start
    name = _name(ctx, root, here or Path.cwd())
    prefix = _prefix(ctx, root.get("prefix"))
    mgmt_notice = len(ctx.notices)  # its place among the notices; worded once links are known
    _settings(ctx, root.get("settings"))
    if root.get("debug"):  # containerlab's file-level --debug
        ctx.notices.append(f"{ctx.at(('debug',))}: netknit's logging is set by `--log-level` "
                           "or `-d`; ignored")

    if "topology" not in root:
        ctx.add((), "missing required key 'topology'")
        return None
    topology = root["topology"]
    if topology is None:
        topology = {}  # ``topology:`` with nothing under it: a lab without nodes
    if not isinstance(topology, dict):
        ctx.add(("topology",), f"expected a mapping with nodes and links (got {show(topology)})")
        return None
    _unknown_keys(ctx, topology, ("topology",), _TOPOLOGY_KEYS)
    hosts = build_hosts(ctx, root.get("hosts"))
    variables = lab_variables(lab_dir_path(name, path, labdir_base, fileless=base_dir)
                              ) if name is not None else {}
    nodes = build_nodes(ctx, topology, here, hosts, variables)
    apply_stages(ctx, topology, nodes)
    for node_name, node in nodes.items():
        nodes[node_name] = in_stages(node, node_variables(variables, node_name))
    mgmt = build_mgmt(ctx, root.get("mgmt"), nodes)
    bridge = mgmt_bridge(ctx, root.get("mgmt"), name or "", mgmt)
    links = build_links(ctx, topology.get("links"), nodes, lab=name or "", bridge=bridge,
                        hosts=hosts)
    if _has_content(root.get("mgmt")) and ctx.runtime == "netns":
        joining = next((link for link in links if link.bridge == bridge), None)
        if joining is not None:
            note = (f"mgmt: --runtime netns has no management network; {joining.type} links "
                    f"join bridge {bridge}, the other mgmt keys are ignored")
        else:
            note = "mgmt ignored: --runtime netns has no management network"
        ctx.notices.insert(mgmt_notice, note)
    if name is not None:
        _check_file_names(ctx, name, prefix, nodes)
    if ctx.problems or name is None:
        return None
    return Topology(
        name=name,
        nodes=MappingProxyType(nodes),
        links=tuple(links),
        prefix=prefix,
        path=path,
        notices=tuple(ctx.notices),
        mgmt=mgmt,
        hosts=MappingProxyType(hosts.hosts),
        file=ctx.file,
    )


def _settings(ctx: Context, raw: Any) -> None:
    """Top-level ``settings`` (containerlab's certificate authority): checked, and a
    warning for each setting, since netknit makes no certificates."""
    if not _has_content(raw):
        return
    if not isinstance(raw, dict):
        ctx.add(("settings",), f"expected a mapping (got {show(raw)})")
        return
    from netknit.topology._schema import SettingsDef, validate

    if validate(ctx, SettingsDef, raw, ("settings",)) is None:
        return
    for key in raw:
        ctx.notices.append(f"{ctx.at(('settings', key))}: netknit makes no certificates; "
                           "ignored")


def _name(ctx: Context, root: dict[str, Any], directory: Path) -> str | None:
    """The lab's name, containerlab's git variables replaced (read in ``directory``)."""
    if "name" not in root:
        ctx.add((), "missing required key 'name' (the lab's name)")
        return None
    if root["name"] is None or isinstance(root["name"], dict | list):
        ctx.add(("name",), f"expected the lab's name (got {show(root['name'])})")
        return None
    written = ctx.text(("name",), root["name"])  # ``name: 2024`` is the lab "2024"
    name, notice = git_name(written, directory)
    if notice:
        ctx.notices.append(f"{ctx.at(('name',))}: {notice}")
    if not NAME_RE.match(name):
        became = f" ({written!r} became {name!r})" if name != written else ""
        ctx.add(("name",), "the lab name may only contain letters, digits, '-', '_' and "
                f"'.'{became}")
        return None
    return name


def _check_file_names(ctx: Context, lab: str, prefix: str | None, nodes: dict[str, Node]
                      ) -> None:
    """The lab directory ``clab-<lab>`` and each namespace ``/run/netns/<full name>`` (also
    the container's name) are file names: longer than NAME_MAX, they would fail half-way
    through a deploy (ENAMETOOLONG)."""
    size = len(f"clab-{lab}".encode())
    if size > FILENAME_MAX:
        ctx.add(("name",), f"the lab directory clab-<name> would be {size} bytes long; Linux "
                f"allows at most {FILENAME_MAX} in a file name: shorten the lab name")
        return
    for node in nodes.values():
        if not kinds.get(node.kind).own_namespace:  # in the host namespace (bridge, host)
            continue
        full = full_name(prefix, lab, node.name)
        size = len(full.encode())
        if size > FILENAME_MAX:
            ctx.add(("topology", "nodes", node.name),
                    f"node {show(node.name)}: its namespace and container name {show(full)} "
                    f"would be {size} bytes long; Linux allows at most {FILENAME_MAX} in a "
                    "file name (/run/netns/<name>): shorten the node name")


def _prefix(ctx: Context, raw: Any) -> str | None:
    if raw is None:
        return None  # containerlab's default prefix
    if isinstance(raw, dict | list):
        ctx.add(("prefix",), f"expected a string (got {show(raw)})")
        return None
    prefix = ctx.text(("prefix",), raw)
    if prefix and not NAME_RE.match(prefix):
        ctx.add(("prefix",), "prefix may only contain letters, digits, '-', '_' and '.'")
    return prefix


def _unknown_keys(
    ctx: Context, mapping: dict[str, Any], path: YPath, known: tuple[str, ...]
) -> None:
    for key in mapping:
        if key not in known:
            ctx.add((*path, key), f"unknown key '{key}'{suggest(key, known)}")


def _has_content(value: Any) -> bool:
    # a key written with nothing under it counts as absent; false or 0 is a value (and so
    # a setting netknit refuses), unlike containerlab's omitempty in _nodes
    return value not in (None, {}, [], "")
