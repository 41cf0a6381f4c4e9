"""The files containerlab writes for a lab, rendered as containerlab renders them. Pure.

Each function matches one of containerlab's templates, key by key and in the same order
(containerlab: ``core/export_templates/auto.tmpl`` for ``topology-data.json``,
``core/assets/inventory_ansible.go.tpl``, ``core/assets/inventory_nornir_simple.go.tpl``,
``core/assets/ssh_config.go.tpl``, and ``core/hostsfile.go`` + ``types/hostentry.go`` for the
``/etc/hosts`` block). Go ranges over maps in key order; so do these (nodes by name).
A node without a management address (a namespace node) gets what containerlab writes for
one: no ``/etc/hosts`` line, an empty ``ansible_host``/``hostname``, ``""`` and ``0`` in
``topology-data.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._dataclass import dataclass
from .._json import dumps_indented

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: destroy removes the files without the planner
    from ..topology import Endpoint, Link, Topology
    from ._plan import Plan

TOPOLOGY_DATA = "topology-data.json"
ANSIBLE_INVENTORY = "ansible-inventory.yml"
NORNIR_INVENTORY = "nornir-simple-inventory.yml"
AUTHORIZED_KEYS = "authorized_keys"
#: the files in the lab directory, in the order they are written
LAB_DIR_FILES = (TOPOLOGY_DATA, ANSIBLE_INVENTORY, NORNIR_INVENTORY, AUTHORIZED_KEYS)


@dataclass(frozen=True, slots=True)
class MgmtAddress:
    """A node's management addresses as its runtime reports them."""

    container_id: str = ""  # its container's id (the hosts block and ssh config show 12)
    ipv4: str = ""
    ipv4_prefix: int = 0
    ipv6: str = ""
    ipv6_prefix: int = 0
    mac: str = ""


NO_ADDRESS = MgmtAddress()


@dataclass(frozen=True, slots=True)
class LabNode:
    """One node as the lab files show it (containerlab's ``NodeConfig`` fields used)."""

    index: int
    name: str
    longname: str
    kind: str
    image: str
    group: str
    labels: Mapping[str, str]
    mgmt_net: str
    addr: MgmtAddress = NO_ADDRESS


def lab_nodes(topo: Topology, plan: Plan, lab_dir: str,
              addresses: Mapping[str, MgmtAddress]) -> list[LabNode]:
    """The lab's nodes (of this host's plan), by name, with what the deploy learned."""
    out = []
    for index, (name, node) in enumerate(topo.nodes.items()):
        planned = plan.nodes.get(name)
        if planned is None:
            continue
        spec = planned.container
        labels = dict(spec.labels) if spec is not None else {
            **node.labels, "containerlab": topo.name, "clab-node-name": name,
            "clab-node-longname": topo.full_name(name), "clab-node-kind": node.kind,
            "clab-node-type": "", "clab-node-group": node.group or "",
            "clab-node-lab-dir": f"{lab_dir}/{name}", "clab-topo-file": str(topo.path or "")}
        out.append(LabNode(
            index=index, name=name, longname=topo.full_name(name), kind=node.kind,
            image=node.image or "", group=labels.get("clab-node-group", ""), labels=labels,
            mgmt_net=(spec.mgmt_network or "") if spec is not None else "",
            addr=addresses.get(name, NO_ADDRESS)))
    return sorted(out, key=lambda n: n.name)


# -- topology-data.json -----------------------------------------------------------------

def _mgmt(topo: Topology, made: Mapping[str, Any]) -> dict[str, Any]:
    """``Config.Mgmt`` as containerlab marshals it (``omitempty``: unset keys left out),
    with the bridge and MTU the network got (``made``)."""
    mgmt = topo.mgmt
    if mgmt is None:
        return {}
    fields: dict[str, Any] = {
        "network": mgmt.network, "bridge": made.get("bridge") or mgmt.bridge,
        "ipv4-subnet": str(mgmt.ipv4_subnet or ""),
        "ipv6-subnet": str(mgmt.ipv6_subnet or ""), "mtu": made.get("mtu") or mgmt.mtu}
    return {key: value for key, value in fields.items() if value}


def _endpoint(ep: Endpoint, peer: str) -> dict[str, Any]:
    one: dict[str, Any] = {"node": ep.node, "interface": ep.interface, "mac": ep.mac or ""}
    if ep.ipv4:  # containerlab keeps one address per family
        one["ipv4"] = str(ep.ipv4[0])
    if ep.ipv6:
        one["ipv6"] = str(ep.ipv6[0])
    if ep.vars:  # as in containerlab: no key for empty vars
        one["vars"] = dict(ep.vars)
    one["peer"] = peer
    return one


def _link(link: Link) -> dict[str, Any]:
    eps = link.endpoints
    rendered = {"a": _endpoint(eps[0], "z" if len(eps) == 2 else "dummy")}
    if len(eps) == 2:
        rendered["z"] = _endpoint(eps[1], "a")
    entry: dict[str, Any] = {"endpoints": rendered}
    if link.vars:  # as in containerlab: no key for empty vars
        entry["vars"] = dict(link.vars)
    return entry


def topology_data(topo: Topology, nodes: Sequence[LabNode], lab_dir: str,
                  ssh_keys: Sequence[str] = (), mgmt_made: Mapping[str, Any] | None = None
                  ) -> bytes:
    """``topology-data.json`` (containerlab's ``auto.tmpl``; ``mgmt_made``: the bridge and
    MTU of the management network as deploy found it)."""
    known = {n.name for n in nodes}
    links = [_link(link) for link in topo.links
             if link.endpoints and any(e.node in known for e in link.endpoints)]
    data = {
        "name": topo.name,
        "type": "clab",
        "clab": {"config": {"prefix": "clab" if topo.prefix is None else topo.prefix,
                            "mgmt": _mgmt(topo, mgmt_made or {})}},
        "ssh-pub-keys": list(ssh_keys),
        "nodes": {n.name: {
            "index": str(n.index),
            "shortname": n.name,
            "longname": n.longname,
            "fqdn": f"{n.name}.{topo.name}.io",
            "group": n.group,
            "labdir": f"{lab_dir}/{n.name}",
            "kind": n.kind,
            "image": n.image,
            "mgmt-net": n.mgmt_net,
            "mgmt-intf": "",
            "mgmt-ipv4-address": n.addr.ipv4,
            "mgmt-ipv4-prefix-length": n.addr.ipv4_prefix,
            "mgmt-ipv6-address": n.addr.ipv6,
            "mgmt-ipv6-prefix-length": n.addr.ipv6_prefix,
            "mac-address": n.addr.mac,
            "labels": dict(sorted(n.labels.items())),  # Go marshals maps by key
            "port-bindings": [],
        } for n in nodes},
        "links": links,
    }
    return (dumps_indented(data) + "\n").encode()  # json.dumps(indent=2), faster


# -- inventories ---------------------------------------------------------------------------

def _by_kind(nodes: Sequence[LabNode]) -> dict[str, list[LabNode]]:
    kinds: dict[str, list[LabNode]] = {}
    for n in nodes:
        kinds.setdefault(n.kind, []).append(n)
    return {kind: sorted(kinds[kind], key=lambda n: n.name) for kind in sorted(kinds)}


def _ansible_hosts(nodes: Sequence[LabNode]) -> list[str]:
    lines = ["      hosts:"]
    for n in nodes:
        lines.append(f"        {n.longname}:")
        if n.labels.get("ansible-no-host-var") != "true":
            lines.append(f"          ansible_host: {n.addr.ipv4}")
    return lines


def ansible_inventory(nodes: Sequence[LabNode]) -> bytes:
    """``ansible-inventory.yml``: a group per kind, one per ``ansible-group`` label. The
    kinds netknit runs have no ansible_network_os, connection or credentials: no vars."""
    lines = [
        "all:",
        "  vars:",
        "    # The generated inventory is assumed to be used from the clab host.",
        "    # Hence no http proxy should be used. Therefore we make sure the http",
        "    # module does not attempt using any global http proxy.",
        "    ansible_httpapi_use_proxy: false",
        "  children:",
    ]
    for kind, members in _by_kind(nodes).items():
        lines += [f"    {kind}:", *_ansible_hosts(members)]
    groups: dict[str, list[LabNode]] = {}
    for n in nodes:
        if n.labels.get("ansible-group"):
            groups.setdefault(n.labels["ansible-group"], []).append(n)
    for name in sorted(groups):
        lines += [f"    {name}:", *_ansible_hosts(sorted(groups[name], key=lambda n: n.name))]
    return ("\n".join(lines) + "\n").encode()


def nornir_inventory(nodes: Sequence[LabNode]) -> bytes:
    """``nornir-simple-inventory.yml``: the platform is the kind (no credentials)."""
    lines = ["---"]
    for kind, members in _by_kind(nodes).items():
        for n in members:
            lines += [f"{n.name}:", "    username: ", "    password: ",
                      f"    platform: {kind}", f"    hostname: {n.addr.ipv4}"]
            groups = sorted(v for k, v in n.labels.items() if k.startswith("nornir-group"))
            if groups:
                lines += ["    groups:", *(f"      - {g}" for g in groups)]
    return ("\n".join(lines) + "\n").encode()


# -- ssh config ----------------------------------------------------------------------------

def ssh_config(lab: str, nodes: Sequence[LabNode], mark: str = "") -> bytes:
    """``/etc/ssh/ssh_config.d/clab-<lab>.conf`` (no user: the kinds netknit runs have no
    default credentials). ``mark``: the lab's mark, a comment on the second line, so that
    destroy never removes the file of another lab of the same name."""
    out = f"# Containerlab SSH Config for the {lab} lab" + (f"\n# {mark}" if mark else "")
    for n in nodes:
        names = [n.longname] + ([n.addr.container_id[:12]]
                                if len(n.addr.container_id) >= 12 else [])
        out += ("\nHost" + "".join(f" {name}" for name in names)
                + "\n\tStrictHostKeyChecking=no\n\tUserKnownHostsFile=/dev/null\n")
    return out.encode()


# -- the /etc/hosts block ------------------------------------------------------------------

def hosts_markers(lab: str) -> tuple[str, str]:
    return f"###### CLAB-{lab}-START ######", f"###### CLAB-{lab}-END ######"


def hosts_block(lab: str, nodes: Sequence[LabNode], mark: str = "") -> bytes:
    """The lab's block: every IPv4 entry, then every IPv6 one (``ToHostsConfig``).
    ``mark``: the lab's mark, a comment after the start marker (see :func:`without_block`)."""
    start, end = hosts_markers(lab)

    def entry(ip: str, n: LabNode) -> str:
        line = f"{ip}\t{n.longname}"
        if len(n.addr.container_id) >= 12:
            line += f" {n.addr.container_id[:12]}"
        return f"{line}\t# Kind: {n.kind}\n"

    v4 = "".join(entry(n.addr.ipv4, n) for n in nodes if n.addr.ipv4)
    v6 = "".join(entry(n.addr.ipv6, n) for n in nodes if n.addr.ipv6)
    comment = f"# {mark}\n" if mark else ""
    return f"{start}\n{comment}{v4}{v6}{end}\n".encode()


class UnterminatedBlock(ValueError):
    """The lab's start marker has no end marker after it: the file is left alone."""


def without_block(content: bytes, lab: str, mark: str = "") -> bytes:
    """``content`` without the lab's block (as containerlab deletes it: whole lines from
    the start marker through the end marker); unchanged when there is none. With
    ``mark``, only a block carrying it goes (another lab of the same name keeps its own).
    Everything else is kept byte for byte."""
    start, end = (m.encode() for m in hosts_markers(lab))
    ours = f"# {mark}".encode()
    kept: list[bytes] = []
    block: list[bytes] = []
    skipping = False
    for line in content.splitlines(keepends=True):
        if line.strip() == end and skipping:
            skipping = False
            if mark and ours not in (b.strip() for b in block):
                kept += [*block, line]  # not this lab's block
            block = []
        elif line.strip() == start or skipping:
            skipping = True
            block.append(line)
        else:
            kept.append(line)
    if skipping:
        raise UnterminatedBlock(f"the block of lab {lab!r} has no end marker")
    return b"".join(kept)


def with_block(content: bytes, lab: str, block: bytes, mark: str = "") -> bytes:
    """``content`` with the lab's block at its end (an older one of it replaced). A last
    line without its newline gets one: the block starts on a line of its own."""
    rest = without_block(content, lab, mark)
    return rest + (b"\n" if rest and not rest.endswith(b"\n") else b"") + block
